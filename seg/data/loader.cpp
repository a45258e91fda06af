// The threaded batch loader (seg/data/loader.h). Jobs are whole batches numbered by a global
// step g = epoch * batches_per_epoch + step; idle workers take the next g while it is within the
// prefetch window of the consumer, and finished batches wait in a map until their turn.
#include "seg/data/loader.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "tensor/error.h"

namespace pg::seg {

// SplitMix64's finaliser: a bijective 64-bit mix, so nearby inputs give unrelated keys.
static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// The Philox key of one random stream: stream 0 shuffles epoch e, stream 1 + k augments the
// sample at position k of epoch e.
static uint64_t stream_key(uint64_t seed, int64_t epoch, uint64_t stream) {
    return mix64(mix64(mix64(seed) ^ uint64_t(epoch)) ^ stream);
}

Loader::Loader(Dataset dataset, const AugmentConfig& augment, const LoaderConfig& config)
    : Loader(
          std::move(dataset),
          [augment](const Sample& s, Generator& gen) { return seg::augment(s, augment, gen); },
          config) {}

Loader::Loader(Dataset dataset, SampleTransform transform, const LoaderConfig& config)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), config_(config) {
    const std::string& name = dataset_.name();
    PG_CHECK(dataset_.size() > 0, "loader: the dataset '", name, "' is empty");
    PG_CHECK(config.batch_size >= 1, "loader: batch_size is ", config.batch_size,
             "; expected >= 1");
    PG_CHECK(config.workers >= 0 && config.prefetch >= 1, "loader: workers ", config.workers,
             " and prefetch ", config.prefetch, "; expected workers >= 0 and prefetch >= 1");
    PG_CHECK(config.samples_per_epoch >= 0, "loader: samples_per_epoch is ",
             config.samples_per_epoch, "; expected >= 0 (0: the dataset size)");
    PG_CHECK(config.world >= 1 && config.rank >= 0 && config.rank < config.world, "loader: rank ",
             config.rank, " of ", config.world, "; expected 0 <= rank < world");
    samples_per_epoch_ = config.samples_per_epoch > 0 ? config.samples_per_epoch : dataset_.size();
    // This rank's share: one position in W. With drop_last an epoch is as many whole global
    // batches (B x W positions) as fit, so its length in steps and its content depend on the global
    // batch alone: a run can resume with another process count at the same global batch. Without
    // drop_last the epoch is padded with its head to a multiple of W (DistributedSampler).
    const int64_t B = config.batch_size;
    global_batch_ = global_batch_of(config);
    PG_CHECK(config.global_batch == 0 ||
                 (config.drop_last && B == batch_share(global_batch_, config.world, config.rank)),
             "loader: '", name, "': rank ", config.rank, " of ", config.world, " takes a batch of ",
             B, " from a global batch of ", global_batch_, "; expected its share ",
             batch_share(global_batch_, config.world, config.rank), " (and drop_last on)");
    if (config.drop_last) {
        batches_per_epoch_ = samples_per_epoch_ / global_batch_;
        rank_samples_ = batches_per_epoch_ * B;
    } else {
        rank_samples_ = (samples_per_epoch_ + config.world - 1) / config.world;
        batches_per_epoch_ = (rank_samples_ + B - 1) / B;
    }
    PG_CHECK(batches_per_epoch_ > 0, "loader: '", name, "': ", samples_per_epoch_,
             " samples per epoch do not fill one batch of ", global_batch_,
             config.world > 1 ? " (" + std::to_string(config.world) + " processes together)"
                              : std::string(),
             " (drop_last is on)");
    start_workers();
}

Loader::~Loader() { stop_workers(); }

// ---- the order of an epoch ----

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
    const int64_t n = samples_per_epoch_, D = dataset_.size();
    std::vector<int64_t> order;
    order.reserve(size_t(n));
    if (!config_.shuffle) {
        for (int64_t k = 0; k < n; k++) order.push_back(k % D);
        return order;
    }
    // Fisher-Yates shuffles of [0, D), as many as needed to fill n positions.
    Generator gen(stream_key(config_.seed, epoch, 0));
    std::vector<int64_t> perm(static_cast<size_t>(D));
    while (int64_t(order.size()) < n) {
        std::iota(perm.begin(), perm.end(), int64_t(0));
        for (int64_t i = D - 1; i > 0; i--)
            std::swap(perm[size_t(i)], perm[size_t(gen.randint(0, i + 1))]);
        int64_t take = std::min(D, n - int64_t(order.size()));
        order.insert(order.end(), perm.begin(), perm.begin() + take);
    }
    return order;
}

std::shared_ptr<const std::vector<int64_t>> Loader::cached_order(int64_t epoch) const {
    std::lock_guard<std::mutex> lock(order_mutex_);
    auto it = orders_.find(epoch);
    if (it != orders_.end()) return it->second;
    auto order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
    orders_[epoch] = order;
    while (orders_.size() > 3) orders_.erase(orders_.begin()); // keep the latest epochs
    return order;
}

// ---- building one batch ----

// Copies same-sized samples into one (N, H, W, 3) image tensor and one (N, LH, LW) label tensor.
// Labels have the image's size, except where an eval transform keeps them native
// (AugmentConfig::keep_label_size): then they must agree with each other.
static void stack(Batch& b, const std::vector<TensorSample>& samples, bool labeled) {
    const int64_t N = int64_t(samples.size());
    const int64_t H = samples[0].image.size(0), W = samples[0].image.size(1);
    b.images = Tensor::empty({N, H, W, 3});
    const bool native = labeled && samples[0].label.defined() && samples[0].label.dim() == 2 &&
                        samples[0].label.shape() != Shape({H, W});
    const int64_t LH = native ? samples[0].label.size(0) : H;
    const int64_t LW = native ? samples[0].label.size(1) : W;
    if (labeled) b.labels = Tensor::empty({N, LH, LW}, DType::i32);
    for (int64_t n = 0; n < N; n++) {
        const TensorSample& s = samples[size_t(n)];
        PG_CHECK(s.image.dim() == 3 && s.image.size(0) == H && s.image.size(1) == W &&
                     s.image.size(2) == 3,
                 "loader: sample '", s.id, "' has image shape ", shape_str(s.image.shape()),
                 " but '", samples[0].id, "' in the same batch has (", H, ", ", W,
                 ", 3); crop or resize to one size, or use batch_size 1");
        std::memcpy(b.images.f32() + n * H * W * 3, s.image.f32(), size_t(H * W * 3) * 4);
        if (!labeled) continue;
        PG_CHECK(s.label.defined() && s.label.shape() == Shape({LH, LW}), "loader: sample '", s.id,
                 "' has no label of ",
                 native ? "the batch's native label size " : "its image's size ", LH, "x", LW);
        std::memcpy(b.labels.i32() + n * LH * LW, s.label.i32(), size_t(LH * LW) * 4);
    }
}

Batch Loader::assemble(int64_t g) const {
    Batch b;
    b.epoch = g / batches_per_epoch_;
    b.step = g % batches_per_epoch_;
    auto order = cached_order(b.epoch);
    const int64_t begin = b.step * config_.batch_size;
    const int64_t end = std::min(begin + config_.batch_size, rank_samples_);
    std::vector<TensorSample> samples;
    for (int64_t j = begin; j < end; j++) {
        // Position k of the epoch (past its end: the padding, which repeats the head): this
        // rank's (j - begin)-th of the step's global batch.
        const int64_t k = b.step * global_batch_ + config_.rank + (j - begin) * config_.world;
        const int64_t index = (*order)[size_t(k % samples_per_epoch_)];
        try {
            Sample sample = dataset_.load(index);
            Generator gen(stream_key(config_.seed, b.epoch, 1 + uint64_t(k)));
            samples.push_back(transform_(sample, gen));
        } catch (const std::exception& e) {
            PG_FAIL("loader: ", dataset_.name(), " example '", dataset_.id(index), "' (index ",
                    index, ", epoch ", b.epoch, "): ", e.what());
        }
        b.ids.push_back(dataset_.id(index));
        b.indices.push_back(index);
    }
    stack(b, samples, dataset_.labeled());
    return b;
}

Loader::Result Loader::build(int64_t g) const {
    Result r;
    try {
        r.batch = assemble(g);
    } catch (...) { r.error = std::current_exception(); }
    return r;
}

// ---- threads ----

void Loader::start_workers() {
    for (int i = 0; i < config_.workers; i++) workers_.emplace_back([this] { worker_loop(); });
}

void Loader::stop_workers() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
}

void Loader::worker_loop() {
    // Samples are built one per worker: keep the engine's OpenMP loops (resize) serial here, so
    // that workers do not each spawn a full thread team next to the trainer's.
    omp_set_num_threads(1);
    const int64_t window = std::max(config_.prefetch, config_.workers);
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
        work_cv_.wait(lock, [&] { return stopping_ || next_job_ < consumed_ + window; });
        if (stopping_) return;
        const int64_t g = next_job_++;
        const uint64_t generation = generation_;
        lock.unlock();
        Result r = build(g);
        lock.lock();
        if (generation == generation_) {
            ready_[g] = std::move(r);
            ready_cv_.notify_all();
        }
    }
}

bool Loader::next(Batch& batch) {
    if (!config_.infinite && !end_reported_ && consumed_ % batches_per_epoch_ == 0) {
        end_reported_ = true; // once per epoch boundary
        return false;
    }
    end_reported_ = false;
    Result r;
    if (workers_.empty()) {
        r = build(consumed_++);
    } else {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_cv_.wait(lock, [&] { return ready_.count(consumed_) > 0; });
        auto it = ready_.find(consumed_);
        r = std::move(it->second);
        ready_.erase(it);
        consumed_++;
        work_cv_.notify_all();
    }
    if (r.error) std::rethrow_exception(r.error);
    batch = std::move(r.batch);
    return true;
}

void Loader::seek(int64_t epoch, int64_t step) {
    PG_CHECK(epoch >= 0 && step >= 0 && step < batches_per_epoch_, "loader: cannot seek to epoch ",
             epoch, " step ", step, "; an epoch has ", batches_per_epoch_, " batches");
    {
        std::lock_guard<std::mutex> lock(mutex_);
        generation_++;
        ready_.clear();
        consumed_ = next_job_ = epoch * batches_per_epoch_ + step;
    }
    work_cv_.notify_all();
    end_reported_ = true;
}

} // namespace pg::seg
