// Gradient averaging and the start-up broadcast of data-parallel training (nn/data_parallel.h).
#include "nn/data_parallel.h"

#include <cstring>

#include "tensor/backend.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::nn {
namespace {

// Host <-> tensor copies of n floats (a CUDA gradient goes through host memory: no NCCL yet).
void copy_out(float* host, const Tensor& t) {
    if (t.is_cpu())
        std::memcpy(host, t.f32(), t.nbytes());
    else
        backend_for(t.device()).copy_to_host(host, t.f32(), t.nbytes());
}
void copy_in(const Tensor& t, const float* host) {
    if (t.is_cpu())
        std::memcpy(t.f32(), host, t.nbytes());
    else
        backend_for(t.device()).copy_from_host(t.f32(), host, t.nbytes());
    t.bump_version();
}

// Sums the listed gradients (all defined) over processes and scales them by 1 / world, through
// one flat host buffer.
void reduce_bucket(const std::vector<Tensor>& grads, std::vector<float>& buffer) {
    Collectives& c = collectives();
    int64_t n = 0;
    for (const Tensor& g : grads) n += g.numel();
    buffer.resize(size_t(n));
    int64_t offset = 0;
    for (const Tensor& g : grads) {
        copy_out(buffer.data() + offset, g);
        offset += g.numel();
    }
    c.all_reduce_sum(buffer.data(), n);
    const float scale = 1.f / float(c.world_size());
    for (float& v : buffer) v *= scale;
    offset = 0;
    for (const Tensor& g : grads) {
        copy_in(g, buffer.data() + offset);
        offset += g.numel();
    }
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
    std::vector<float> buffer;
    int64_t bytes = 0;
    for (size_t i = 0; i < params.size(); i++) {
        if (has_grad[i] == 0.f) continue;
        const Tensor& p = params[i];
        PG_CHECK(p.dtype() == DType::f32, "average_gradients: parameter ", i, " is ",
                 dtype_name(p.dtype()), "; expected f32");
        if (!p.grad().defined()) p.set_grad(Tensor::zeros(p.shape(), DType::f32, p.device()));
        bucket.push_back(p.grad());
        bytes += int64_t(p.grad().nbytes());
        if (bytes >= bucket_bytes) {
            reduce_bucket(bucket, buffer);
            bucket.clear();
            bytes = 0;
        }
    }
    if (!bucket.empty()) reduce_bucket(bucket, buffer);
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
