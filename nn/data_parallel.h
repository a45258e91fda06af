// Data-parallel training over the processes of a run (tensor/collectives.h), as PyTorch's
// DistributedDataParallel: every process holds the whole model, trains on its share of each batch
// (seg/data/loader.h's rank / world), and before every optimizer step the gradients are averaged
// over processes, so every process takes the same step. Parameters and buffers start equal by a
// broadcast from rank 0. With one process every function here returns at once.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "autograd/engine.h"
#include "nn/module.h"
#include "tensor/collectives.h"
#include "tensor/tensor.h"

namespace pg::nn {

// This process's share of the global batch times the world size, b_r W / G, when a batch splits
// unevenly over the processes (seg/data/loader.h's global_batch); 1 (the default) for equal shares.
// Each process's loss is a mean over its own share, so the training loop seeds every backward pass
// with this weight: the mean over processes of the gradients is then sum_r (b_r / G) grad_r, the
// whole batch's gradient. The seed, not the averaged gradient, because SyncBN's backward adds the
// processes' sums of upstream gradients, which must be on one scale.
void set_share_weight(float weight);
float share_weight();

// total / count for a loss normalised by a count of its batch (pixels past a threshold, boundary
// pixels), with the count taken over the whole global batch: the loss one process with the whole
// batch computes. total and count are this process's (scalars, count without gradient). With one
// process: total / count. With several, this process's part of it, total W / (w count_all) (w its
// share_weight()), so that the mean over processes of the share-weighted gradients is the
// one-process gradient; every process must call it (one all-reduce). Zero, with a zero gradient,
// when the count is zero on every process.
Tensor global_batch_mean(const Tensor& total, const Tensor& count);

// DDP's default bucket_cap_mb (25 MB of f32 gradients).
constexpr int64_t kGradientBucketBytes = int64_t(25) << 20;

// Replaces each gradient of `params` by its mean over the processes. Gradients are packed into
// flat buckets of about bucket_bytes, each summed over processes by one all-reduce (fewer, larger
// messages than one per tensor; the sums are the same), divided by the world size and unpacked.
// A parameter without a gradient here but with one on another process gets the mean of theirs
// (its own counts as zeros); one that no process has a gradient for stays without, so the
// optimizer skips it everywhere alike.
void average_gradients(const std::vector<Tensor>& params,
                       int64_t bucket_bytes = kGradientBucketBytes);

// DDP's overlap: the gradients of one backward pass averaged over processes while it runs. The
// parameters are split into buckets in reverse order (the last layers' gradients are final first;
// the first bucket holds about 1 MB so that the first all-reduce starts early), and a bucket's
// all-reduce starts as soon as the pass has finished every gradient in it and every earlier bucket
// has started (the same order on every process), on a channel of its own so that SyncBN's
// collectives in the rest of the pass are not held up. finish() waits for them all and ends with
// what average_gradients() gives. Watch the last backward before the optimizer step
// (the gradients are final after it); parameters the pass does not reach count with the gradient
// they have. CPU gradients (MPI) and CUDA ones with NCCL (on a communicator and stream of their
// own, which the backward kernels after them do not wait for; only when every process's pass
// reaches the same parameters) go while the pass runs; other CUDA ones are averaged in finish().
// With two processes the sums are those of average_gradients() bit for bit; with more, up to the
// order MPI or NCCL adds in. (NCCL also relies on the autograd engine running every process's
// pass in one order: it does, by node sequence numbers, for one graph.)
class BackwardGradientAverage final : public BackwardObserver {
  public:
    explicit BackwardGradientAverage(std::vector<Tensor> params,
                                     int64_t bucket_bytes = kGradientBucketBytes,
                                     int64_t first_bucket_bytes = int64_t(1) << 20);
    void begin(const std::function<bool(const Tensor&)>& reaches) override;
    void leaf_done(const Tensor& leaf) override;
    bool started() const { return started_; } // begin() came and finish() has not
    size_t buckets() const { return buckets_.size(); }
    size_t buckets_started() const { return next_bucket_; } // in this pass, so far
    void finish();

  private:
    struct Bucket {
        std::vector<size_t> params; // indices into params_
        int64_t waiting = 0;        // gradients not final yet in this pass
        Tensor flat;                // packed gradients, being summed
        std::unique_ptr<PendingCollective> pending;
    };
    bool every_process_reaches_the_same(std::vector<float> reached) const;
    void mark_final(size_t param);
    void start_ready_buckets();
    // The bucket's gradients end to end; a parameter without one here sends zeros (the mean is
    // over every process) and is noted in had_grad_.
    Tensor pack_bucket(const Bucket& b);

    std::vector<Tensor> params_;
    std::vector<Bucket> buckets_;
    std::vector<size_t> bucket_of_;                          // param -> bucket
    std::unordered_map<const TensorImpl*, size_t> index_of_; // param -> index
    std::vector<float> had_grad_;                            // 1: a gradient here
    std::vector<Tensor> packed_;           // each .grad as packed (kept to check it in finish())
    std::vector<uint64_t> packed_version_; // and its version then
    size_t next_bucket_ = 0;               // buckets before it have started
    bool started_ = false;
    bool has_device_channel_ = false; // some bucket is on a device with collectives of its own
    bool overlap_devices_ = false;    // this pass starts device buckets while it runs (begin())
};

// Copies rank `root`'s parameters and buffers (BN running statistics) of `module` to every process.
void broadcast_module(Module& module, int root = 0);
// Copies rank `root`'s f32 buffers of `module` to every process in one message (PyTorch DDP's
// broadcast_buffers, before every step).
void broadcast_buffers(Module& module, int root = 0);

} // namespace pg::nn
