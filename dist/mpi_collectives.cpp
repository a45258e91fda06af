// MPI's implementation of pg::Collectives (dist/mpi_collectives.h). Every call is a blocking
// collective on MPI_COMM_WORLD; counts above INT_MAX go in chunks (MPI takes int counts). MPI's
// default error handler aborts the whole job on a communication error, and mpirun ends the run
// when a process dies; an exception on one rank reaches the CLI, which calls abort(); a process
// that hangs is caught by the watchdog below.
#include "dist/mpi_collectives.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::dist {
namespace {

constexpr int64_t kChunk = int64_t(1) << 30; // elements per MPI call

// A blocking collective waits for every process. One that has waited longer than the timeout
// means another process hangs (a dead one makes mpirun end the run by itself): the watchdog then
// ends this process with a clear line, and mpirun ends the others. PG_COLLECTIVE_TIMEOUT (seconds,
// default 1800 as PyTorch's process groups) sets it. The watchdog is a thread of its own because
// the main thread is inside MPI; it makes no MPI call (MPI_THREAD_FUNNELED).
class Watchdog {
  public:
    Watchdog(int rank, int world) : rank_(rank), world_(world), timeout_s_(timeout_from_env()) {
        thread_ = std::thread([this] { watch(); });
    }
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    // Marks the collective `name` as in flight for the lifetime of the returned guard.
    struct InFlight {
        Watchdog& w;
        InFlight(Watchdog& watchdog, const char* name) : w(watchdog) {
            std::lock_guard<std::mutex> lock(w.mutex_);
            w.name_ = name;
            w.waited_s_ = 0;
        }
        ~InFlight() {
            std::lock_guard<std::mutex> lock(w.mutex_);
            w.name_ = nullptr;
        }
    };

  private:
    using Clock = std::chrono::steady_clock;

    static double timeout_from_env() {
        const char* v = std::getenv("PG_COLLECTIVE_TIMEOUT");
        if (v == nullptr) return 1800.0;
        char* end = nullptr;
        double seconds = std::strtod(v, &end);
        PG_CHECK(end != v && *end == '\0' && seconds > 0, "PG_COLLECTIVE_TIMEOUT is '", v,
                 "'; expected a positive number of seconds");
        return seconds;
    }

    // The wait is counted in ticks of at most 1 s: time this process spent stopped (SIGSTOP, a
    // debugger) is not time spent waiting for the others, and a hung process that is resumed
    // (mpirun sends SIGCONT as it ends the run) must not blame them for its own stop.
    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        Clock::time_point last = Clock::now();
        while (!stopping_) {
            wake_.wait_for(lock, std::chrono::milliseconds(200));
            const Clock::time_point now = Clock::now();
            const double tick = std::chrono::duration<double>(now - last).count();
            last = now;
            if (name_ == nullptr) continue;
            waited_s_ += std::min(tick, 1.0);
            const double waited = waited_s_;
            if (waited < timeout_s_) continue;
            if (const int signal = stop_signal_noted(); signal != 0)
                std::fprintf(stderr,
                             "pixelgrad: rank %d of %d, told to stop (signal %d), has waited %.0f "
                             "s in %s for processes that have ended or hang; ending\n",
                             rank_, world_, signal, waited, name_);
            else
                std::fprintf(stderr,
                             "pixelgrad: error (rank %d of %d): %s has waited %.0f s for the other "
                             "processes (PG_COLLECTIVE_TIMEOUT %.0f s): one of them hangs; ending "
                             "the run\n",
                             rank_, world_, name_, waited, timeout_s_);
            std::fflush(stderr);
            std::_Exit(1); // mpirun then ends every other process
        }
    }

    const int rank_, world_;
    const double timeout_s_;
    std::mutex mutex_;
    std::condition_variable wake_;
    const char* name_ = nullptr; // the collective in flight
    double waited_s_ = 0;        // and how long it has waited, counted by watch()
    bool stopping_ = false;
    std::thread thread_;
};

class MpiCollectives final : public Collectives {
  public:
    MpiCollectives() {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &world_);
        // The rank among the processes that share this machine's memory: which GPU to use.
        MPI_Comm local;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
        MPI_Comm_rank(local, &local_rank_);
        MPI_Comm_free(&local);
        watchdog_ = std::make_unique<Watchdog>(rank_, world_);
        // start_all_reduce_sum's channel: collectives on another communicator are matched apart
        // from MPI_COMM_WORLD's, so they may be in flight while those run in any order.
        MPI_Comm_dup(MPI_COMM_WORLD, &background_);
    }
    int rank() const override { return rank_; }
    int world_size() const override { return world_; }
    int local_rank() const override { return local_rank_; }
    std::string describe() const override {
        return "MPI (" + mpi_library_name() + "), rank " + std::to_string(rank_) + " of " +
               std::to_string(world_);
    }
    void all_reduce_sum(float* data, int64_t n) override { sum_in_place(data, n, MPI_FLOAT); }
    void all_reduce_sum(double* data, int64_t n) override { sum_in_place(data, n, MPI_DOUBLE); }
    std::unique_ptr<PendingCollective> start_all_reduce_sum(float* data, int64_t n) override {
        auto pending = std::make_unique<Pending>(*watchdog_);
        for (int64_t i = 0; i < n; i += kChunk) {
            pending->requests.emplace_back();
            MPI_Iallreduce(MPI_IN_PLACE, data + i, int(std::min(kChunk, n - i)), MPI_FLOAT, MPI_SUM,
                           background_, &pending->requests.back());
        }
        return pending;
    }
    void broadcast(void* data, int64_t bytes, int root) override {
        Watchdog::InFlight in_flight(*watchdog_, "a broadcast");
        auto* p = static_cast<char*>(data);
        for (int64_t i = 0; i < bytes; i += kChunk)
            MPI_Bcast(p + i, int(std::min(kChunk, bytes - i)), MPI_BYTE, root, MPI_COMM_WORLD);
    }
    void all_gather(const float* send, int64_t n, float* recv) override {
        PG_CHECK(n <= INT_MAX, "all_gather: ", n, " floats per process; at most ", INT_MAX);
        Watchdog::InFlight in_flight(*watchdog_, "an all-gather");
        MPI_Allgather(send, int(n), MPI_FLOAT, recv, int(n), MPI_FLOAT, MPI_COMM_WORLD);
    }
    // No watchdog (see the interface), and no busy wait: the waiting processes test every 10 ms,
    // leaving the cores to rank 0's evaluation (Open MPI's MPI_Barrier would spin on one each).
    void barrier() override {
        MPI_Request request;
        MPI_Ibarrier(MPI_COMM_WORLD, &request);
        for (int done = 0; MPI_Test(&request, &done, MPI_STATUS_IGNORE), !done;)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    [[noreturn]] void abort(int code) override {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::exit(code); // not reached
    }

  private:
    struct Pending final : PendingCollective {
        explicit Pending(Watchdog& w) : watchdog(w) {}
        void test() override {
            int done = 0;
            MPI_Testall(int(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
        }
        void wait() override {
            Watchdog::InFlight in_flight(watchdog, "an all-reduce of gradients");
            MPI_Waitall(int(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
        }
        Watchdog& watchdog;
        std::vector<MPI_Request> requests;
    };

    template <typename T>
    void sum_in_place(T* data, int64_t n, MPI_Datatype type) {
        Watchdog::InFlight in_flight(*watchdog_, "an all-reduce");
        for (int64_t i = 0; i < n; i += kChunk)
            MPI_Allreduce(MPI_IN_PLACE, data + i, int(std::min(kChunk, n - i)), type, MPI_SUM,
                          MPI_COMM_WORLD);
    }

    int rank_ = 0, world_ = 1, local_rank_ = 0;
    std::unique_ptr<Watchdog> watchdog_;
    MPI_Comm background_ = MPI_COMM_NULL;
};

void finalize_at_exit() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

} // namespace

bool init_mpi_if_launched() {
    // mpirun (Open MPI, MPICH, Slurm's PMI) tells its processes the world size in the environment.
    const char* launched[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    if (std::none_of(std::begin(launched), std::end(launched),
                     [](const char* v) { return std::getenv(v) != nullptr; }))
        return false;
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        // Only the main thread calls MPI (the loader's workers and OpenMP's never do).
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
        PG_CHECK(provided >= MPI_THREAD_FUNNELED, "MPI: the library gives thread level ", provided,
                 "; pixelgrad's threads need MPI_THREAD_FUNNELED");
        std::atexit(finalize_at_exit);
    }
    register_collectives(std::make_unique<MpiCollectives>());
    return true;
}

std::string mpi_library_name() {
    char version[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string line(version);
    return line.substr(0, line.find_first_of(",\n"));
}

} // namespace pg::dist
