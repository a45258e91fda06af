// NCCL's implementation of pg::DeviceCollectives (dist/nccl_collectives.h): one communicator,
// created at the first collective, every call on the CUDA backend's stream.
#include "dist/nccl_collectives.h"

#include <nccl.h>

#include "cuda/context.h"
#include "tensor/error.h"

#define NCCL_CHECK(call)                                                                           \
    do {                                                                                           \
        ncclResult_t nccl_status_ = (call);                                                        \
        PG_CHECK(nccl_status_ == ncclSuccess, "NCCL: ", #call, ": ",                               \
                 ncclGetErrorString(nccl_status_));                                                \
    } while (0)

namespace pg::dist {
namespace {

class NcclCollectives final : public DeviceCollectives {
  public:
    // The communicator is left to the process's end: destroying it from a static destructor
    // could run after the CUDA runtime has shut down.
    std::string describe() const override { return nccl_version(); }
    void all_reduce_sum(float* data, int64_t n) override {
        NCCL_CHECK(
            ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, comm(), cuda::stream()));
    }
    void broadcast(void* data, int64_t bytes, int root) override {
        NCCL_CHECK(
            ncclBroadcast(data, data, size_t(bytes), ncclUint8, root, comm(), cuda::stream()));
    }
    void all_gather(const float* send, int64_t n, float* recv) override {
        NCCL_CHECK(ncclAllGather(send, recv, size_t(n), ncclFloat, comm(), cuda::stream()));
    }

  private:
    // Created at the first collective, which every process calls at the same point: rank 0's
    // unique id goes to the others through the host collectives (MPI). NCCL's calls return once
    // queued, so the hang watchdog of the MPI collectives does not cover them.
    ncclComm_t comm() {
        if (comm_ == nullptr) {
            Collectives& c = collectives();
            ncclUniqueId id{};
            if (c.rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
            c.broadcast(&id, int64_t(sizeof(id)), 0);
            NCCL_CHECK(ncclCommInitRank(&comm_, c.world_size(), id, c.rank()));
        }
        return comm_;
    }
    ncclComm_t comm_ = nullptr;
};

} // namespace

std::unique_ptr<DeviceCollectives> make_nccl_collectives() {
    return std::make_unique<NcclCollectives>();
}

std::string nccl_version() {
    int v = 0;
    ncclGetVersion(&v);
    // NCCL 2.9+ encodes major * 10000 + minor * 100 + patch.
    return "NCCL " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
           std::to_string(v % 100);
}

} // namespace pg::dist
