// The single-process collectives, the registries, and the tensor forms of the collectives
// (tensor/collectives.h): a device's own collectives when registered, else host memory.
#include "tensor/collectives.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace pg {
namespace {

class SingleProcess final : public Collectives {
  public:
    int rank() const override { return 0; }
    int world_size() const override { return 1; }
    int local_rank() const override { return 0; }
    std::string describe() const override { return "single process"; }
    void all_reduce_sum(float*, int64_t) override {}
    void all_reduce_sum(double*, int64_t) override {}
    void broadcast(void*, int64_t, int) override {}
    void barrier() override {}
    void all_gather(const float* send, int64_t n, float* recv) override {
        if (n > 0 && send != recv) std::memmove(recv, send, size_t(n) * sizeof(float));
    }
    [[noreturn]] void abort(int code) override { std::exit(code); }
};

class Finished final : public PendingCollective {
  public:
    bool test() override { return true; }
    void wait() override {}
};

std::unique_ptr<Collectives>& registered() {
    static std::unique_ptr<Collectives> instance;
    return instance;
}

// A host copy of x when it lives elsewhere; x itself (shared storage) on the CPU.
Tensor on_host(const Tensor& x) { return x.is_cpu() ? x : x.to(Device::cpu()); }

// Writes the host copy back into x (nothing to do when they share storage).
void from_host(Tensor& x, const Tensor& host) {
    if (!x.is_cpu()) {
        Backend& backend = backend_for(x.device());
        backend.copy_from_host(x.raw(), host.raw(), x.nbytes());
        backend.synchronize();
    }
    x.bump_version();
}

std::unique_ptr<DeviceCollectives>& registered_device(DeviceType type) {
    static std::unique_ptr<DeviceCollectives> cuda;
    PG_CHECK(type == DeviceType::cuda, "device collectives: only CUDA devices have them");
    return cuda;
}

// The device's own collectives for x, or null (then x goes through host memory).
DeviceCollectives* own_collectives_of(const Tensor& x) {
    return x.is_cpu() ? nullptr : registered_device(x.device().type).get();
}

} // namespace

DeviceCollectives* device_collectives(DeviceType type) {
    return type == DeviceType::cuda ? registered_device(type).get() : nullptr;
}

void register_device_collectives(DeviceType type, std::unique_ptr<DeviceCollectives> collectives) {
    registered_device(type) = std::move(collectives);
}

// Lock-free, so a signal handler may store it, and atomic, so the watchdog's thread may read it.
static std::atomic<int> g_noted_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler stores this flag");
void note_stop_signal(int signal) { g_noted_stop_signal.store(signal); }
int stop_signal_noted() { return g_noted_stop_signal.load(); }

Collectives& collectives() {
    static SingleProcess single;
    return registered() ? *registered() : single;
}

static thread_local const char* g_collective_purpose = nullptr;
CollectivePurpose::CollectivePurpose(const char* what) : outer_(g_collective_purpose) {
    g_collective_purpose = what;
}
CollectivePurpose::~CollectivePurpose() { g_collective_purpose = outer_; }
const char* collective_purpose() { return g_collective_purpose; }

bool launched_by_mpirun() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (std::getenv(name) != nullptr) return true;
    return false;
}

bool data_parallel_run() {
    static const bool forced = [] {
        const char* v = std::getenv("PG_FORCE_DATA_PARALLEL");
        const std::string value = v ? v : "";
        PG_CHECK(value.empty() || value == "0" || value == "1", "PG_FORCE_DATA_PARALLEL is '",
                 value, "'; expected 1 (one process takes the data-parallel path) or 0");
        return value == "1";
    }();
    return forced || collectives().world_size() > 1;
}

void register_collectives(std::unique_ptr<Collectives> collectives) {
    registered() = std::move(collectives);
}

void all_reduce_sum_(Tensor& x) {
    PG_CHECK(x.dtype() == DType::f32, "all_reduce_sum_: dtype ", dtype_name(x.dtype()),
             "; expected f32");
    Collectives& c = collectives();
    if (!data_parallel_run()) return;
    if (DeviceCollectives* d = own_collectives_of(x)) {
        d->all_reduce_sum(x.f32(), x.numel());
        x.bump_version();
        return;
    }
    Tensor host = on_host(x);
    c.all_reduce_sum(host.f32(), host.numel());
    from_host(x, host);
}

std::unique_ptr<PendingCollective> Collectives::start_all_reduce_sum(float* data, int64_t n) {
    // Done at once is right for one process only: with several, a blocking all-reduce here could
    // meet another collective of the same pass in another order on another process.
    PG_CHECK(world_size() == 1, "collectives: ", describe(),
             " has no start_all_reduce_sum of its own (needed for several processes)");
    all_reduce_sum(data, n);
    return std::make_unique<Finished>();
}

std::unique_ptr<PendingCollective> DeviceCollectives::start_all_reduce_sum(float* data, int64_t n) {
    all_reduce_sum(data, n);
    return std::make_unique<Finished>();
}

std::unique_ptr<PendingCollective> start_all_reduce_sum_(Tensor& x) {
    PG_CHECK(x.dtype() == DType::f32, "start_all_reduce_sum_: dtype ", dtype_name(x.dtype()),
             "; expected f32");
    Collectives& c = collectives();
    if (!data_parallel_run()) return std::make_unique<Finished>();
    x.bump_version();
    if (x.is_cpu()) return c.start_all_reduce_sum(x.f32(), x.numel());
    if (DeviceCollectives* d = own_collectives_of(x))
        return d->start_all_reduce_sum(x.f32(), x.numel());
    all_reduce_sum_(x);
    return std::make_unique<Finished>();
}

void broadcast_(Tensor& x, int root) {
    Collectives& c = collectives();
    if (!data_parallel_run()) return;
    if (DeviceCollectives* d = own_collectives_of(x)) {
        d->broadcast(x.raw(), int64_t(x.nbytes()), root);
        x.bump_version();
        return;
    }
    Tensor host = on_host(x);
    c.broadcast(host.raw(), int64_t(host.nbytes()), root);
    from_host(x, host);
}

Tensor all_gather(const Tensor& x) {
    PG_CHECK(x.dtype() == DType::f32, "all_gather: dtype ", dtype_name(x.dtype()),
             "; expected f32");
    Collectives& c = collectives();
    Shape shape = x.shape();
    shape.insert(shape.begin(), int64_t(c.world_size()));
    if (DeviceCollectives* d = own_collectives_of(x); d && data_parallel_run()) {
        Tensor out = Tensor::empty(shape, DType::f32, x.device());
        d->all_gather(x.f32(), x.numel(), out.f32());
        return out;
    }
    Tensor host = on_host(x);
    Tensor out = Tensor::empty(shape);
    c.all_gather(host.f32(), host.numel(), out.f32());
    return x.is_cpu() ? out : out.to(x.device());
}

Tensor all_gather_rows(const Tensor& x) {
    PG_CHECK(x.dtype() == DType::f32 && x.dim() >= 1, "all_gather_rows: ", shape_str(x.shape()),
             " ", dtype_name(x.dtype()), "; expected f32 rows (n, ...)");
    Collectives& c = collectives();
    if (!data_parallel_run()) return x;
    // The counts first, then every process's rows padded to the largest count.
    std::vector<float> counts(size_t(c.world_size()));
    const float mine = float(x.size(0));
    c.all_gather(&mine, 1, counts.data());
    int64_t most = 0, total = 0;
    for (float n : counts) {
        most = std::max(most, int64_t(n));
        total += int64_t(n);
    }
    Shape row_shape(x.shape().begin() + 1, x.shape().end());
    int64_t row_numel = 1;
    for (int64_t d : row_shape) row_numel *= d;
    std::vector<float> padded(size_t(most * row_numel), 0.f);
    if (x.numel() > 0) {
        Tensor host = on_host(x);
        std::memcpy(padded.data(), host.f32(), host.nbytes());
    }
    std::vector<float> all(size_t(c.world_size()) * padded.size());
    c.all_gather(padded.data(), int64_t(padded.size()), all.data());
    Shape out_shape = x.shape();
    out_shape[0] = total;
    Tensor out = Tensor::empty(out_shape);
    float* dst = out.f32();
    for (size_t p = 0; p < counts.size(); p++) {
        const int64_t n = int64_t(counts[p]) * row_numel;
        if (n == 0) continue; // (no rows anywhere: dst is null, which memcpy may not take)
        std::memcpy(dst, all.data() + p * padded.size(), size_t(n) * sizeof(float));
        dst += n;
    }
    return x.is_cpu() ? out : out.to(x.device());
}

} // namespace pg
