// Gradient averaging and the broadcasts of data-parallel training (nn/data_parallel.h): tensors
// are packed into one flat buffer on their device, so each bucket is one collective.
#include "nn/data_parallel.h"

#include <algorithm>
#include <cmath>

#include "autograd/elementwise.h"
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

float& weight_of_this_process() {
    static float weight = 1.f;
    return weight;
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

void set_share_weight(float weight) {
    PG_CHECK(weight > 0.f && std::isfinite(weight), "data parallel: share weight ", weight,
             "; expected a positive number");
    weight_of_this_process() = weight;
}
float share_weight() { return weight_of_this_process(); }

Tensor global_batch_mean(const Tensor& total, const Tensor& count) {
    Collectives& c = collectives();
    if (!data_parallel_run()) return count.item() == 0.f ? mul(total, 0.f) : div(total, count);
    float all = count.item();
    CollectivePurpose purpose("the global batch's labelled-pixel count");
    c.all_reduce_sum(&all, 1);
    if (all == 0.f) return mul(total, 0.f);
    return mul(total, float(double(c.world_size()) / (double(share_weight()) * double(all))));
}

void average_gradients(const std::vector<Tensor>& params, int64_t bucket_bytes) {
    Collectives& c = collectives();
    if (!data_parallel_run()) return;
    CollectivePurpose purpose("gradient averaging");
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

BackwardGradientAverage::BackwardGradientAverage(std::vector<Tensor> params, int64_t bucket_bytes,
                                                 int64_t first_bucket_bytes)
    : params_(std::move(params)), bucket_of_(params_.size()), had_grad_(params_.size()),
      packed_(params_.size()), packed_version_(params_.size()) {
    int64_t bytes = 0;
    for (size_t k = params_.size(); k-- > 0;) { // the last parameters' gradients come first
        const Tensor& p = params_[k];
        PG_CHECK(p.dtype() == DType::f32, "data parallel: parameter ", k, " is ",
                 dtype_name(p.dtype()), "; expected f32");
        const int64_t cap = buckets_.size() == 1 ? first_bucket_bytes : bucket_bytes;
        if (buckets_.empty() || bytes >= cap ||
            params_[buckets_.back().params[0]].device() != p.device()) {
            buckets_.emplace_back();
            bytes = 0;
        }
        buckets_.back().params.push_back(k);
        bucket_of_[k] = buckets_.size() - 1;
        if (!p.is_cpu() && device_collectives(p.device().type) != nullptr)
            has_device_channel_ = true;
        index_of_[p.impl()] = k;
        bytes += int64_t(p.nbytes());
    }
}

// Device buckets start during the pass only on a channel of their own (NCCL's second communicator)
// and only when every process's pass reaches the same parameters: NCCL, unlike MPI, needs the
// collectives of its two communicators started in one order on every process (a process whose
// pass skipped a head would start a bucket before SyncBN's all-reduce where the others start it
// after, and the GPUs can then wait on each other). Otherwise they go in finish(), on the main
// channel. One small host all-reduce per pass.
bool BackwardGradientAverage::every_process_reaches_the_same(std::vector<float> reached) const {
    Collectives& c = collectives();
    if (c.world_size() == 1) return true;
    CollectivePurpose purpose("which parameters the backward pass reaches");
    c.all_reduce_sum(reached.data(), int64_t(reached.size()));
    const float all = float(c.world_size());
    return std::all_of(reached.begin(), reached.end(),
                       [&](float v) { return v == 0.f || v == all; });
}

void BackwardGradientAverage::begin(const std::function<bool(const Tensor&)>& reaches) {
    PG_CHECK(!started_, "data parallel: a second backward pass was watched before the step");
    started_ = true;
    next_bucket_ = 0;
    for (Bucket& b : buckets_) b.waiting = int64_t(b.params.size());
    std::vector<float> reached(params_.size(), 0.f);
    for (size_t k = 0; k < params_.size(); k++) {
        if (reaches(params_[k]))
            reached[k] = 1.f;
        else
            mark_final(k);
    }
    PG_CHECK(std::count(reached.begin(), reached.end(), 1.f) > 0,
             "data parallel: the watched backward pass reaches none of the ", params_.size(),
             " parameters of the optimizer that asked to watch it");
    overlap_devices_ = has_device_channel_ && every_process_reaches_the_same(reached);
    start_ready_buckets();
}

void BackwardGradientAverage::leaf_done(const Tensor& leaf) {
    auto it = index_of_.find(leaf.impl());
    if (it == index_of_.end()) return; // a leaf of another optimizer's part
    mark_final(it->second);
    start_ready_buckets();
    // MPI moves the started ones on only inside MPI calls: give it one now and then.
    for (size_t b = 0; b < next_bucket_; b++)
        if (buckets_[b].pending) buckets_[b].pending->test();
}

void BackwardGradientAverage::mark_final(size_t param) { buckets_[bucket_of_[param]].waiting--; }

// Buckets start strictly in order, so every process starts the same collectives in the same order
// whatever order its own pass finished them in. Device gradients wait for finish() unless
// overlap_devices_ (see begin()).
void BackwardGradientAverage::start_ready_buckets() {
    CollectivePurpose purpose("gradient buckets during backward");
    while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].waiting == 0) {
        Bucket& b = buckets_[next_bucket_++];
        const Tensor& first = params_[b.params[0]];
        if (!first.is_cpu() && !overlap_devices_) continue;
        b.flat = pack_bucket(b);
        b.pending = start_all_reduce_sum_(b.flat);
    }
}

Tensor BackwardGradientAverage::pack_bucket(const Bucket& b) {
    std::vector<Tensor> grads;
    for (size_t k : b.params) {
        const Tensor& p = params_[k];
        had_grad_[k] = p.grad().defined() ? 1.f : 0.f;
        if (!p.grad().defined()) p.set_grad(Tensor::zeros(p.shape(), DType::f32, p.device()));
        grads.push_back(p.grad());
        packed_[k] = p.grad();
        packed_version_[k] = p.grad().version();
    }
    return pack(grads);
}

void BackwardGradientAverage::finish() {
    PG_CHECK(started_, "data parallel: finish() without a watched backward pass");
    started_ = false;
    next_bucket_ = buckets_.size(); // (a pass always finishes every bucket; this is a guard)
    CollectivePurpose purpose("gradient averaging");
    for (Bucket& b : buckets_) {
        if (b.pending) {
            b.pending->wait();
            b.pending.reset();
        } else { // not started while the pass ran (a device bucket): now, in bucket order
            b.flat = pack_bucket(b);
            all_reduce_sum_(b.flat);
        }
    }
    // A parameter no process had a gradient for stays without one (the optimizer skips it).
    collectives().all_reduce_sum(had_grad_.data(), int64_t(had_grad_.size()));
    const float scale = 1.f / float(collectives().world_size());
    for (Bucket& b : buckets_) {
        mul_(b.flat, scale);
        std::vector<Tensor> grads;
        for (size_t k : b.params) {
            // A gradient written after its bucket was packed would be lost: say so.
            const Tensor& grad = params_[k].grad();
            PG_CHECK(grad.defined() && grad.impl() == packed_[k].impl() &&
                         grad.version() == packed_version_[k],
                     "data parallel: parameter ", k,
                     "'s gradient changed after the watched backward pass finished it (watch "
                     "only the last backward pass before the optimizer step)");
            grads.push_back(grad);
            packed_[k] = Tensor();
        }
        unpack(b.flat, grads);
        b.flat = Tensor();
        for (size_t k : b.params)
            if (had_grad_[k] == 0.f) params_[k].set_grad(Tensor());
    }
}

void broadcast_buffers(Module& module, int root) {
    if (!data_parallel_run()) return;
    std::vector<Tensor> buffers;
    for (const NamedTensor& b : module.named_buffers())
        if (b.tensor.dtype() == DType::f32) buffers.push_back(b.tensor);
    if (buffers.empty()) return;
    Tensor flat = pack(buffers);
    CollectivePurpose purpose("rank 0's BN statistics, before each step");
    broadcast_(flat, root);
    unpack(flat, buffers);
}

void broadcast_module(Module& module, int root) {
    if (!data_parallel_run()) return;
    CollectivePurpose purpose("rank 0's weights, at the start");
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
