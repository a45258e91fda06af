// NCCL's implementation of pg::DeviceCollectives (dist/nccl_collectives.h): two communicators,
// created together at the first collective. The main one queues on the CUDA backend's stream; the
// gradient one (start_all_reduce_sum) on a stream of its own, so that the backward pass's kernels
// go on while gradient buckets are summed (DDP's overlap). A watchdog asks the GPU whether the
// queued collectives finish.
#include "dist/nccl_collectives.h"

#include <nccl.h>

#include <deque>
#include <mutex>

#include "cuda/context.h"
#include "dist/watchdog.h"
#include "tensor/error.h"

#define NCCL_CHECK(call)                                                                           \
    do {                                                                                           \
        ncclResult_t nccl_status_ = (call);                                                        \
        PG_CHECK(nccl_status_ == ncclSuccess, "NCCL: ", #call, ": ",                               \
                 ncclGetErrorString(nccl_status_));                                                \
    } while (0)

namespace pg::dist {
namespace {

// A new event (no timing), recorded on `stream` after the work queued there so far.
cudaEvent_t event_after(cudaStream_t stream) {
    cudaEvent_t event = nullptr;
    CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(event, stream));
    return event;
}

// The NCCL calls queued and not finished yet, oldest first, as the watchdog's probe: NCCL returns
// once a collective is queued, so a hang shows only as an event that never completes. No CUDA call
// is made under the lock (one may wait on the driver; the main thread's add() must not wait on it).
class QueuedCollectives {
  public:
    // Marks the collective just queued on `stream` (with the caller's purpose).
    void add(const char* name, cudaStream_t stream) {
        cudaEvent_t done = event_after(stream);
        std::lock_guard<std::mutex> lock(mutex_);
        queued_.push_back({done, name, ++count_, collective_purpose()});
    }
    // Called from the watchdog's thread (only there are entries removed): the oldest collective
    // still running, if any.
    CollectiveWait oldest() {
        static thread_local bool on_device = cudaSetDevice(cuda::context().device) == cudaSuccess;
        (void)on_device;
        for (;;) {
            Queued front;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (queued_.empty()) return {};
                front = queued_.front();
            }
            // An error (a failed kernel) counts as finished: the main thread reports it.
            if (cudaEventQuery(front.done) == cudaErrorNotReady)
                return {front.name, front.id, nullptr, front.purpose};
            {
                std::lock_guard<std::mutex> lock(mutex_);
                queued_.pop_front();
            }
            cudaEventDestroy(front.done);
        }
    }

  private:
    struct Queued {
        cudaEvent_t done = nullptr;
        const char* name = nullptr;
        uint64_t id = 0;
        const char* purpose = nullptr;
    };
    std::mutex mutex_;
    std::deque<Queued> queued_;
    uint64_t count_ = 0;
};

// A gradient all-reduce on the side stream: wait() makes the main stream wait for it. Dropped
// without wait() (an error unwinding the backward pass), it still makes the main stream wait, so
// that the caching allocator (which hands freed memory to the main stream's next work) cannot
// reuse the buffer NCCL may still write.
class SideStreamSum final : public PendingCollective {
  public:
    explicit SideStreamSum(cudaEvent_t done) : done_(done) {}
    ~SideStreamSum() override {
        if (!waited_) cudaStreamWaitEvent(cuda::stream(), done_, 0);
        cudaEventDestroy(done_); // released once it completes
    }
    bool test() override { return cudaEventQuery(done_) == cudaSuccess; }
    void wait() override {
        CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), done_, 0));
        waited_ = true;
    }

  private:
    cudaEvent_t done_;
    bool waited_ = false;
};

class NcclCollectives final : public DeviceCollectives {
  public:
    // The communicators are left to the process's end: destroying them from a static destructor
    // could run after the CUDA runtime has shut down.
    std::string describe() const override { return nccl_version(); }
    void all_reduce_sum(float* data, int64_t n) override {
        start();
        NCCL_CHECK(ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, comm_, cuda::stream()));
        queued_.add("an NCCL all-reduce", cuda::stream());
    }
    void broadcast(void* data, int64_t bytes, int root) override {
        start();
        NCCL_CHECK(
            ncclBroadcast(data, data, size_t(bytes), ncclUint8, root, comm_, cuda::stream()));
        queued_.add("an NCCL broadcast", cuda::stream());
    }
    void all_gather(const float* send, int64_t n, float* recv) override {
        start();
        NCCL_CHECK(ncclAllGather(send, recv, size_t(n), ncclFloat, comm_, cuda::stream()));
        queued_.add("an NCCL all-gather", cuda::stream());
    }
    // The side stream waits for the main stream's work so far (the packed bucket), then sums.
    std::unique_ptr<PendingCollective> start_all_reduce_sum(float* data, int64_t n) override {
        start();
        cudaEvent_t ready = event_after(cuda::stream());
        CUDA_CHECK(cudaStreamWaitEvent(side_stream_, ready, 0));
        CUDA_CHECK(cudaEventDestroy(ready)); // the wait above holds what it needs
        NCCL_CHECK(
            ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, gradient_comm_, side_stream_));
        queued_.add("an NCCL all-reduce of gradients", side_stream_);
        cudaEvent_t done = event_after(side_stream_);
        return std::make_unique<SideStreamSum>(done);
    }

  private:
    // At the first collective, which every process calls at the same point: rank 0's unique ids
    // go to the others through the host collectives (MPI). Everything is built before any member
    // is set, so a failure leaves nothing half started.
    void start() {
        if (watchdog_) return;
        Collectives& c = collectives();
        const double timeout_s = collective_timeout_s();
        ncclUniqueId ids[2] = {};
        if (c.rank() == 0)
            for (ncclUniqueId& id : ids) NCCL_CHECK(ncclGetUniqueId(&id));
        c.broadcast(ids, int64_t(sizeof(ids)), 0);
        ncclComm_t comm = nullptr, gradient_comm = nullptr;
        {
            // ncclCommInitRank blocks until every process has called it: a process that never
            // comes would hang this one, so the wait is marked for a watchdog of its own.
            MarkedWait starting;
            Watchdog watch_start(
                c.rank(), c.world_size(), [&starting] { return starting.now(); }, timeout_s);
            MarkedWait::InFlight in_flight(starting, "NCCL's start (ncclCommInitRank)");
            NCCL_CHECK(ncclCommInitRank(&comm, c.world_size(), ids[0], c.rank()));
            NCCL_CHECK(ncclCommInitRank(&gradient_comm, c.world_size(), ids[1], c.rank()));
        }
        cudaStream_t side = nullptr;
        CUDA_CHECK(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
        comm_ = comm;
        gradient_comm_ = gradient_comm;
        side_stream_ = side;
        watchdog_ = std::make_unique<Watchdog>(
            c.rank(), c.world_size(), [this] { return probe(); }, timeout_s);
    }

    // The oldest collective not finished, or an error NCCL reports on either communicator (a
    // peer's network gone: the run ends at once instead of after the timeout).
    CollectiveWait probe() {
        for (ncclComm_t comm : {comm_, gradient_comm_}) {
            ncclResult_t state = ncclSuccess;
            if (ncclCommGetAsyncError(comm, &state) == ncclSuccess && state != ncclSuccess &&
                state != ncclInProgress)
                return CollectiveWait{"NCCL", 0, ncclGetErrorString(state)};
        }
        return queued_.oldest();
    }

    ncclComm_t comm_ = nullptr, gradient_comm_ = nullptr;
    cudaStream_t side_stream_ = nullptr;
    QueuedCollectives queued_;
    std::unique_ptr<Watchdog> watchdog_; // set last by start(); after queued_, which it reads
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
