// Tensor: a shape, a dtype, a device and a reference-counted Storage; always contiguous.
// Copying a Tensor copies a handle (both see the same data). Ops live in autograd/ (pg::add,
// pg::conv2d, ...); this header holds what every layer needs: creation, host transfers, device
// moves, printing and the autograd bookkeeping fields (requires_grad, grad, grad_fn).
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/generator.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace pg {

class Node; // autograd/node.h: a step of the backward graph
struct TensorImpl;

class Tensor {
  public:
    Tensor() = default; // an undefined tensor (defined() == false)

    // ---- creation ----
    static Tensor empty(const Shape& shape, DType dtype = DType::f32,
                        Device device = Device::cpu());
    static Tensor zeros(const Shape& shape, DType dtype = DType::f32,
                        Device device = Device::cpu());
    static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
    static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                       Device device = Device::cpu());
    static Tensor scalar(float value, Device device = Device::cpu()); // shape ()
    // Copies host values in; values.size() must equal numel(shape).
    static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                              Device device = Device::cpu());
    static Tensor from_vector(const std::vector<int32_t>& values, const Shape& shape,
                              Device device = Device::cpu());
    static Tensor from_vector(const std::vector<uint8_t>& values, const Shape& shape,
                              Device device = Device::cpu());
    // Random f32 fills from the generator (uniform in [low, high), normal with mean and std).
    static Tensor uniform(const Shape& shape, Generator& gen, float low = 0.f, float high = 1.f,
                          Device device = Device::cpu());
    static Tensor normal(const Shape& shape, Generator& gen, float mean = 0.f, float std = 1.f,
                         Device device = Device::cpu());
    // A CPU tensor (usable by every CPU op) whose storage is staged for copies to `target`:
    // page-locked when target is a GPU, so that x.to(target) is asynchronous. Uninitialised.
    // After x.to(target) the copy may still be reading x: in-place ops and freeing x wait for it;
    // a raw write (x.f32()[i] = ...) must call x.wait_async_copies() first. For a data loader,
    // PinnedStaging (tensor/pinned_staging.h) does this bookkeeping.
    static Tensor empty_pinned(const Shape& shape, DType dtype, Device target);

    // ---- properties ----
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    int dim() const { return int(shape().size()); }
    int64_t size(int64_t axis) const; // negative axes count from the end
    int64_t numel() const;
    DType dtype() const;
    Device device() const;
    size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
    bool is_cpu() const { return device().is_cpu(); }
    bool is_cuda() const { return device().is_cuda(); }
    bool same_storage(const Tensor& other) const;
    bool is_pinned() const; // made by empty_pinned (or an alias of one)

    // ---- raw data (checked against the dtype; device memory for CUDA tensors) ----
    float* f32() const;
    int32_t* i32() const;
    uint8_t* u8() const;
    uint16_t* bf16() const;
    void* raw() const;

    // ---- host transfers (any device; these synchronise) ----
    std::vector<float> to_f32_vector() const; // converts any dtype to float
    std::vector<int32_t> to_i32_vector() const;
    std::vector<uint8_t> to_u8_vector() const;
    float item() const; // the single element of a one-element tensor, as float

    // ---- copies and aliases (not differentiable; see pg::reshape, pg::to for that) ----
    // A copy on `device` (the same tensor if already there). From a pinned tensor to a GPU the
    // copy is queued and this returns at once; otherwise the source may be reused on return.
    Tensor to(Device device) const;
    Tensor clone() const; // a fresh copy with its own storage
    // A new tensor sharing this one's storage and version counter, with no autograd history.
    Tensor detach() const;
    // Same storage, another shape with the same element count. No autograd history.
    Tensor alias_with_shape(const Shape& shape) const;

    // ---- in-place writes (bump the version counter; see autograd/inplace.h for checked ones) ----
    void bump_version() const;
    uint64_t version() const;
    // Blocks until asynchronous copies out of this (pinned) tensor have finished; a no-op otherwise.
    void wait_async_copies() const;

    // ---- autograd bookkeeping (the engine lives in autograd/) ----
    bool requires_grad() const;
    // Marks a leaf as a parameter-like tensor whose .grad will be filled by backward().
    Tensor& set_requires_grad(bool value);
    bool is_leaf() const; // no grad_fn
    Tensor grad() const;  // undefined until a backward reached this leaf
    void set_grad(const Tensor& grad) const;
    const std::shared_ptr<Node>& grad_fn() const;
    uint32_t output_nr() const;
    // Used by ops when recording: this tensor is output `output_nr` of `node`.
    void set_history(std::shared_ptr<Node> node, uint32_t output_nr) const;
    // The AccumulateGrad node of a leaf (held weakly by the tensor, strongly by the graph).
    std::shared_ptr<Node> grad_accumulator() const;
    void set_grad_accumulator(const std::shared_ptr<Node>& node) const;

    TensorImpl* impl() const { return impl_.get(); }
    // True when this handle is the only one to the tensor and no other tensor (a view) shares its
    // storage: nothing else can read or write its memory (AccumulateGrad then keeps it as .grad).
    bool is_sole_owner() const;

  private:
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
    TensorImpl& checked_impl() const;
    std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
    Shape shape;
    DType dtype = DType::f32;
    std::shared_ptr<Storage> storage;
    // autograd
    bool requires_grad = false;
    std::shared_ptr<Node> grad_fn;
    uint32_t output_nr = 0;
    Tensor grad;
    std::weak_ptr<Node> grad_accumulator;
};

// Printing shows shape, dtype, device and the first few values:
// Tensor(shape=(2, 3), dtype=f32, device=cpu) [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
std::ostream& operator<<(std::ostream& out, const Tensor& t);

} // namespace pg
