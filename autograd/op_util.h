// Small checks and helpers shared by the op files of autograd/ (not part of the public API).
// Every op validates its arguments with these before it allocates or launches anything, so a
// wrong call fails with the op's name and the offending values.
#pragma once

#include <vector>

#include "autograd/node.h"
#include "tensor/backend.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace pg {

inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

// `t` is defined and has `dtype`: "<op>: <what> must be f32, got u8 (2, 3)".
void check_dtype(const char* op, const char* what, const Tensor& t, DType dtype);
// Every defined tensor lives on the device of the first one.
void check_same_device(const char* op, const std::vector<Tensor>& tensors);
// `t` has exactly `ndim` dimensions.
void check_dim(const char* op, const char* what, const Tensor& t, int ndim);

// A new f32 tensor with `t`'s device.
inline Tensor empty_like(const Tensor& t, const Shape& shape, DType dtype = DType::f32) {
    return Tensor::empty(shape, dtype, t.device());
}

// Where a backward puts a result shaped like its incoming gradient g, for an elementwise CPU
// kernel that reads g and writes the result at the same index in one pass: g's own memory when
// nothing else holds it (the engine drops g after the node, and g was just written, so it is in
// cache), else a new tensor. On CUDA always a new tensor (no kernel there is checked for reading
// and writing one buffer).
inline Tensor gradient_like(const Tensor& g) {
    return g.is_cpu() && g.is_sole_owner() ? g : empty_like(g, g.shape());
}

} // namespace pg
