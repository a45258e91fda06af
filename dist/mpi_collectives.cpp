// MPI's implementation of pg::Collectives (dist/mpi_collectives.h). Every call is a blocking
// collective on MPI_COMM_WORLD; counts above INT_MAX go in chunks (MPI takes int counts). MPI's
// default error handler aborts the whole job on a communication error, and mpirun ends the run
// when a process dies; an exception on one rank reaches the CLI, which calls abort(); a process
// that hangs is caught by the watchdog (dist/watchdog.h).
#include "dist/mpi_collectives.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dist/watchdog.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::dist {
namespace {

constexpr int64_t kChunk = int64_t(1) << 30; // elements per MPI call

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
        // start_all_reduce_sum's channel: collectives on another communicator are matched apart
        // from MPI_COMM_WORLD's, so they may be in flight while those run in any order.
        MPI_Comm_dup(MPI_COMM_WORLD, &background_);
    }
    // A blocking collective waits for every process. One that has waited past the timeout means
    // another process hangs (a dead one makes mpirun end the run by itself): the watchdog (a
    // thread of its own, the main thread being inside MPI; it makes no MPI call:
    // MPI_THREAD_FUNNELED) then ends this process with a clear line. Started once registered, so
    // that a bad PG_COLLECTIVE_TIMEOUT is reported as every other error of a run's process.
    void start_watchdog() {
        watchdog_ = std::make_unique<Watchdog>(rank_, world_, [this] { return waiting_.now(); });
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
        auto pending = std::make_unique<Pending>(waiting_);
        for (int64_t i = 0; i < n; i += kChunk) {
            pending->requests.emplace_back();
            MPI_Iallreduce(MPI_IN_PLACE, data + i, int(std::min(kChunk, n - i)), MPI_FLOAT, MPI_SUM,
                           background_, &pending->requests.back());
        }
        return pending;
    }
    void broadcast(void* data, int64_t bytes, int root) override {
        MarkedWait::InFlight in_flight(waiting_, "a broadcast");
        auto* p = static_cast<char*>(data);
        for (int64_t i = 0; i < bytes; i += kChunk)
            MPI_Bcast(p + i, int(std::min(kChunk, bytes - i)), MPI_BYTE, root, MPI_COMM_WORLD);
    }
    void all_gather(const float* send, int64_t n, float* recv) override {
        PG_CHECK(n <= INT_MAX, "all_gather: ", n, " floats per process; at most ", INT_MAX);
        MarkedWait::InFlight in_flight(waiting_, "an all-gather");
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
        explicit Pending(MarkedWait& w) : waiting(w) {}
        bool test() override {
            int done = 0;
            MPI_Testall(int(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
            return done != 0;
        }
        void wait() override {
            MarkedWait::InFlight in_flight(waiting, "an all-reduce of gradients");
            MPI_Waitall(int(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
        }
        MarkedWait& waiting;
        std::vector<MPI_Request> requests;
    };

    template <typename T>
    void sum_in_place(T* data, int64_t n, MPI_Datatype type) {
        MarkedWait::InFlight in_flight(waiting_, "an all-reduce");
        for (int64_t i = 0; i < n; i += kChunk)
            MPI_Allreduce(MPI_IN_PLACE, data + i, int(std::min(kChunk, n - i)), type, MPI_SUM,
                          MPI_COMM_WORLD);
    }

    int rank_ = 0, world_ = 1, local_rank_ = 0;
    MarkedWait waiting_;
    std::unique_ptr<Watchdog> watchdog_; // after waiting_, which it reads
    MPI_Comm background_ = MPI_COMM_NULL;
};

void finalize_at_exit() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
}

} // namespace

bool init_mpi_if_launched() {
    if (!launched_by_mpirun()) return false;
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
    auto mpi = std::make_unique<MpiCollectives>();
    MpiCollectives& registered = *mpi;
    register_collectives(std::move(mpi));
    registered.start_watchdog();
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
