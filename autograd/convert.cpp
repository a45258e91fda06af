// reshape (a storage-sharing alias), dtype casts and device moves (declared in autograd/layout.h).
#include "autograd/layout.h"
#include "autograd/op_util.h"

namespace pg {

Tensor reshape(const Tensor& x, const Shape& shape) {
    PG_CHECK(x.defined(), "reshape: undefined tensor");
    Shape resolved = shape;
    int inferred = -1;
    int64_t known = 1;
    for (size_t i = 0; i < shape.size(); i++) {
        if (shape[i] == -1) {
            PG_CHECK(inferred < 0, "reshape: more than one -1 in ", shape_str(shape));
            inferred = int(i);
        } else {
            PG_CHECK(shape[i] >= 0, "reshape: negative dimension in ", shape_str(shape));
            known *= shape[i];
        }
    }
    if (inferred >= 0) {
        PG_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot view ", shape_str(x.shape()),
                 " as ", shape_str(shape));
        resolved[size_t(inferred)] = x.numel() / known;
    }
    Tensor out = x.alias_with_shape(resolved);
    Shape in_shape = x.shape();
    record("reshape", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{reshape(g[0], in_shape)};
    });
    return out;
}

Tensor cast(const Tensor& x, DType dtype) {
    PG_CHECK(x.defined(), "cast: undefined tensor");
    if (x.dtype() == dtype) return x;
    Tensor out = empty_like(x, x.shape(), dtype);
    backend_of(x).cast(out.raw(), dtype, x.raw(), x.dtype(), x.numel());
    DType in_dtype = x.dtype();
    bool floating = dtype == DType::f32 || dtype == DType::bf16;
    if (floating) { // record() ignores integer inputs: they never require grad
        record("cast", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
            return std::vector<Tensor>{cast(g[0], in_dtype)};
        });
    }
    return out;
}

Tensor to(const Tensor& x, Device device) {
    PG_CHECK(x.defined(), "to: undefined tensor");
    if (x.device() == device) return x;
    Tensor out = x.to(device);
    Device from = x.device();
    record("to", {x}, {out}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{to(g[0], from)};
    });
    return out;
}

} // namespace pg
