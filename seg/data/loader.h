// Loader: turns a Dataset and a per-sample transform (augment.h) into batches of tensors, built
// by worker threads ahead of the trainer (a bounded prefetch window) and handed out in order.
// Deterministic from the seed whatever the thread timing: epoch e's order is a shuffle drawn
// from (seed, e), and the sample at position k of epoch e is augmented with a Generator seeded
// from (seed, e, k), so it does not matter which worker built which batch. In a data-parallel
// run (rank r of W processes) the loader is PyTorch's DistributedSampler: the epoch's order is
// padded with its own head to a multiple of W and rank r takes positions r, r + W, r + 2W, ...,
// each augmented as position k, so W processes with batch b see exactly what one with batch W*b
// would, and a rank's share does not depend on the workers either. With drop_last (training) an
// epoch holds only whole global batches of G = W*b positions (no padding): its batches then depend
// on the global batch alone, which is what lets a run resume with another number of processes.
// G need not be a multiple of W (global_batch): rank r then takes positions r, r + W, ... < G of
// each global batch, a share of ceil((G - r) / W), so the shares differ by at most one.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "seg/data/augment.h"
#include "seg/data/dataset.h"

namespace pg::seg {

struct Batch {
    Tensor images; // (N, H, W, 3) f32
    Tensor labels; // (N, H, W) i32; undefined when the dataset is unlabeled
    std::vector<std::string> ids;
    std::vector<int64_t> indices; // dataset index of each sample
    int64_t epoch = 0, step = 0;  // step: the batch's number within its epoch
};

struct LoaderConfig {
    int64_t batch_size = 1;
    bool shuffle = true;
    bool drop_last = false; // drop an epoch's last, smaller batch
    int workers = 2;        // threads building batches; 0: built on the calling thread
    int prefetch = 2;       // batches built ahead of the consumer (at least `workers`)
    uint64_t seed = 0;
    // Samples per epoch; 0: the dataset size. More than the dataset repeats it (each repeat
    // shuffled anew), fewer takes the head of the shuffle: U2PL resamples its labeled and
    // unlabeled loaders to N_total - N_labeled items per epoch.
    int64_t samples_per_epoch = 0;
    // false: next() returns false once at the end of each epoch. true: epochs roll over and
    // next() always delivers (semi-supervised training draws labeled and unlabeled batches from
    // two loaders that advance independently).
    bool infinite = false;
    // This process's share of every epoch (data parallel): rank in [0, world).
    int rank = 0, world = 1;
    // With drop_last: the batch of all ranks together (0: batch_size x world), whose share
    // batch_share(global_batch, world, rank) batch_size must then be.
    int64_t global_batch = 0;
};

// Rank `rank`'s share of a global batch of `global` positions split r, r + W, ... over `world`
// ranks: ceil((global - rank) / world).
inline int64_t batch_share(int64_t global, int64_t world, int64_t rank) {
    return (global - rank + world - 1) / world;
}

// The batch of all ranks together that `config` describes.
inline int64_t global_batch_of(const LoaderConfig& config) {
    return config.global_batch > 0 ? config.global_batch : config.batch_size * config.world;
}

// One sample's transform; it must take every random decision from `gen`, and may run on several
// worker threads at once (a method's own transform, e.g. RIPU's active-label masks looked up by
// sample id, must be safe to call concurrently).
using SampleTransform = std::function<TensorSample(const Sample& sample, Generator& gen)>;

class Loader {
  public:
    Loader(Dataset dataset, const AugmentConfig& augment, const LoaderConfig& config);
    Loader(Dataset dataset, SampleTransform transform, const LoaderConfig& config);
    ~Loader(); // stops and joins the workers
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;

    // The next batch, in order (call from one thread). An error while building it (unreadable
    // file, bad label, ...) is rethrown here, naming the sample; that batch is then skipped.
    bool next(Batch& batch);

    int64_t batches_per_epoch() const { return batches_per_epoch_; } // of this rank
    int64_t batch_size() const { return config_.batch_size; }        // of this rank
    int64_t global_batch() const { return global_batch_; }           // of all ranks together
    int64_t samples_per_epoch() const { return samples_per_epoch_; } // of all ranks together
    const Dataset& dataset() const { return dataset_; }
    // Where the next batch comes from (save these to resume exactly).
    int64_t epoch() const { return consumed_ / batches_per_epoch_; }
    int64_t step() const { return consumed_ % batches_per_epoch_; }
    // Continues from batch `step` of `epoch` (discards anything prefetched).
    void seek(int64_t epoch, int64_t step);
    // seek() to after `consumed` batches in total (a resumed run's position in this stream).
    void seek_batches(int64_t consumed) {
        seek(consumed / batches_per_epoch_, consumed % batches_per_epoch_);
    }

    // Dataset indices of epoch e in order (a pure function of the seed and e).
    std::vector<int64_t> epoch_order(int64_t epoch) const;

  private:
    struct Result {
        Batch batch;
        std::exception_ptr error;
    };
    Result build(int64_t global_step) const; // global_step = epoch * batches_per_epoch + step
    Batch assemble(int64_t global_step) const;
    std::shared_ptr<const std::vector<int64_t>> cached_order(int64_t epoch) const;
    void worker_loop();
    void start_workers();
    void stop_workers();

    Dataset dataset_;
    SampleTransform transform_;
    LoaderConfig config_;
    int64_t samples_per_epoch_ = 0, rank_samples_ = 0, batches_per_epoch_ = 0, global_batch_ = 0;
    bool end_reported_ = true; // the current epoch boundary was already answered with false

    // The last few epochs' orders, shared by the workers.
    mutable std::mutex order_mutex_;
    mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> orders_;

    // Shared with the workers (guarded by mutex_).
    std::mutex mutex_;
    std::condition_variable work_cv_, ready_cv_;
    int64_t consumed_ = 0;    // global step the consumer takes next
    int64_t next_job_ = 0;    // global step the next idle worker builds
    uint64_t generation_ = 0; // bumped by seek(): results of older jobs are dropped
    bool stopping_ = false;
    std::map<int64_t, Result> ready_;
    std::vector<std::thread> workers_;
};

} // namespace pg::seg
