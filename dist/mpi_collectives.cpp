// MPI's implementation of pg::Collectives (dist/mpi_collectives.h). Every call is a blocking
// collective on MPI_COMM_WORLD; counts above INT_MAX go in chunks (MPI takes int counts). MPI's
// default error handler aborts the whole job on a communication error, so a broken rank cannot
// leave the others waiting; an exception on one rank reaches the CLI, which calls abort().
#include "dist/mpi_collectives.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

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
    }
    int rank() const override { return rank_; }
    int world_size() const override { return world_; }
    int local_rank() const override { return local_rank_; }
    std::string describe() const override {
        return "MPI (" + mpi_library_name() + "), rank " + std::to_string(rank_) + " of " +
               std::to_string(world_);
    }
    void all_reduce_sum(float* data, int64_t n) override {
        for (int64_t i = 0; i < n; i += kChunk)
            MPI_Allreduce(MPI_IN_PLACE, data + i, int(std::min(kChunk, n - i)), MPI_FLOAT, MPI_SUM,
                          MPI_COMM_WORLD);
    }
    void broadcast(void* data, int64_t bytes, int root) override {
        auto* p = static_cast<char*>(data);
        for (int64_t i = 0; i < bytes; i += kChunk)
            MPI_Bcast(p + i, int(std::min(kChunk, bytes - i)), MPI_BYTE, root, MPI_COMM_WORLD);
    }
    void all_gather(const float* send, int64_t n, float* recv) override {
        PG_CHECK(n <= INT_MAX, "all_gather: ", n, " floats per process; at most ", INT_MAX);
        MPI_Allgather(send, int(n), MPI_FLOAT, recv, int(n), MPI_FLOAT, MPI_COMM_WORLD);
    }
    [[noreturn]] void abort(int code) override {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::exit(code); // not reached
    }

  private:
    int rank_ = 0, world_ = 1, local_rank_ = 0;
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
