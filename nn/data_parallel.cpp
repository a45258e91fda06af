// Gradient averaging and the broadcasts of data-parallel training (nn/data_parallel.h): tensors
// are packed into one flat buffer on their device, so each bucket is one collective.
#include "nn/data_parallel.h"

#include "autograd/inplace.h"
#include "tensor/backend.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {
namespace {

// The f32 tensors (all on one device) copied end to end into one flat tensor on that device.
Tensor pack(const std::vector<Tensor>& tensors) {
    const Device device = tensors[0].device();
    Backend& backend = backend_for(device);
    int64_t n = 0;
    for (const Tensor& t : tensors) n += t.numel();
    Tensor flat = Tensor::empty({n}, DType::f32, device);
    int64_t offset = 0;
    for (const Tensor& t : tensors) {
        backend.copy(flat.f32() + offset, t.f32(), t.nbytes());
        offset += t.numel();
    }
    return flat;
}

// pack()'s inverse: the flat tensor's pieces written back into the tensors, in place.
void unpack(const Tensor& flat, const std::vector<Tensor>& tensors) {
    Backend& backend = backend_for(flat.device());
    int64_t offset = 0;
    for (const Tensor& t : tensors) {
        backend.copy(t.f32(), flat.f32() + offset, t.nbytes());
        t.bump_version();
        offset += t.numel();
    }
}

// Sums the listed gradients (all defined, on one device) over processes and scales them by
// 1 / world size: one collective per bucket (NCCL's on a GPU when built with it, else through
// host memory).
void reduce_bucket(const std::vector<Tensor>& grads) {
    Tensor flat = pack(grads);
    all_reduce_sum_(flat);
    mul_(flat, 1.f / float(collectives().world_size()));
    unpack(flat, grads);
}

} // namespace

void average_gradients(const std::vector<Tensor>& params, int64_t bucket_bytes) {
    Collectives& c = collectives();
    if (c.world_size() == 1) return;
    // Which parameters have a gradient on some process: all must reduce the same tensors.
    std::vector<float> has_grad(params.size());
    for (size_t i = 0; i < params.size(); i++) has_grad[i] = params[i].grad().defined() ? 1.f : 0.f;
    c.all_reduce_sum(has_grad.data(), int64_t(has_grad.size()));

    std::vector<Tensor> bucket;
    int64_t bytes = 0;
    for (size_t i = 0; i < params.size(); i++) {
        if (has_grad[i] == 0.f) continue;
        const Tensor& p = params[i];
        PG_CHECK(p.dtype() == DType::f32, "average_gradients: parameter ", i, " is ",
                 dtype_name(p.dtype()), "; expected f32");
        if (!p.grad().defined()) p.set_grad(Tensor::zeros(p.shape(), DType::f32, p.device()));
        if (!bucket.empty() && bucket[0].device() != p.device()) { // a bucket holds one device
            reduce_bucket(bucket);
            bucket.clear();
            bytes = 0;
        }
        bucket.push_back(p.grad());
        bytes += int64_t(p.grad().nbytes());
        if (bytes >= bucket_bytes) {
            reduce_bucket(bucket);
            bucket.clear();
            bytes = 0;
        }
    }
    if (!bucket.empty()) reduce_bucket(bucket);
}

void broadcast_buffers(Module& module, int root) {
    if (collectives().world_size() == 1) return;
    std::vector<Tensor> buffers;
    for (const NamedTensor& b : module.named_buffers())
        if (b.tensor.dtype() == DType::f32) buffers.push_back(b.tensor);
    if (buffers.empty()) return;
    Tensor flat = pack(buffers);
    broadcast_(flat, root);
    unpack(flat, buffers);
}

void broadcast_module(Module& module, int root) {
    if (collectives().world_size() == 1) return;
    for (const NamedTensor& p : module.named_parameters()) {
        Tensor t = p.tensor;
        broadcast_(t, root);
    }
    for (const NamedTensor& b : module.named_buffers()) {
        Tensor t = b.tensor;
        broadcast_(t, root);
    }
}

} // namespace pg::nn
