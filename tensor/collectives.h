// The processes of a data-parallel run and the collective operations between them (all-reduce,
// broadcast, all-gather). tensor/ holds only this interface and the single-process default (world
// size 1, every collective a no-op or a copy); the MPI implementation (dist/) registers itself at
// start-up when the program was launched by mpirun, as the CUDA backend does. So the optimizer
// (gradient averaging) and SyncBN use collectives without knowing which library carries them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tensor/tensor.h"

namespace pg {

// A collective in flight (MPI's nonblocking ones): its buffer belongs to the library until wait().
class PendingCollective {
  public:
    virtual ~PendingCollective() = default;
    // Lets it progress (MPI moves a nonblocking collective on only inside MPI calls); true once
    // it has finished.
    virtual bool test() = 0;
    virtual void wait() = 0;
};

class Collectives {
  public:
    virtual ~Collectives() = default;
    virtual int rank() const = 0;       // 0 .. world_size() - 1
    virtual int world_size() const = 0; // processes in the run
    virtual int local_rank() const = 0; // rank among the processes of this machine (its GPU)
    virtual std::string
    describe() const = 0; // "single process", "MPI (Open MPI v4.1.4), rank 0 of 2"

    // Host-memory collectives; every process calls them in the same order with the same sizes.
    // data (n floats) becomes the element-wise sum over all processes, on every process.
    virtual void all_reduce_sum(float* data, int64_t n) = 0;
    virtual void all_reduce_sum(double* data, int64_t n) = 0; // counts past 2^24, exactly
    // all_reduce_sum() that runs while the caller goes on, on a channel of its own: other
    // collectives may be called before it is waited for, in any order relative to it; those
    // started this way must be started in the same order on every process. Default (one process
    // only): done at once.
    virtual std::unique_ptr<PendingCollective> start_all_reduce_sum(float* data, int64_t n);
    // bytes at `data` on `root` are copied to `data` on every process.
    virtual void broadcast(void* data, int64_t bytes, int root) = 0;
    // recv (world_size * n floats) gets every process's n floats of send, in rank order.
    virtual void all_gather(const float* send, int64_t n, float* recv) = 0;
    // Waits until every process has come here, without the hang timeout of the collectives
    // above: for waits that may be long on purpose (rank 0 evaluating while the others wait).
    virtual void barrier() = 0;
    // Ends every process of the run with `code` (after an error on one of them: the others would
    // otherwise wait in their next collective forever).
    [[noreturn]] virtual void abort(int code) = 0;
};

// The same collectives on device memory (NCCL for CUDA tensors), in the order of the device's
// stream. dist/ registers them beside the host ones when built with NCCL; without, the tensor
// forms below take CUDA tensors through host memory.
class DeviceCollectives {
  public:
    virtual ~DeviceCollectives() = default;
    virtual std::string describe() const = 0; // "NCCL 2.27.7"
    virtual void all_reduce_sum(float* data, int64_t n) = 0;
    // all_reduce_sum() on a channel of its own (a communicator and stream apart), after the work
    // queued so far on the device's stream; wait() makes that stream's later work wait for it (the
    // host goes on). As Collectives::start_all_reduce_sum: those started this way must be started
    // in the same order on every process, and the others may come in between. Default: at once.
    virtual std::unique_ptr<PendingCollective> start_all_reduce_sum(float* data, int64_t n);
    virtual void broadcast(void* data, int64_t bytes, int root) = 0;
    virtual void all_gather(const float* send, int64_t n, float* recv) = 0;
};

// The stop signal (SIGINT, SIGTERM) the program has been sent, 0 if none. The training loop's
// handler records it here and the collectives' watchdog reads it: a process told to stop (mpirun
// ends a run with SIGTERM) that then waits on processes already gone says so instead of blaming
// them for a hang. note_stop_signal is async-signal-safe.
void note_stop_signal(int signal);
int stop_signal_noted();

// Whether mpirun (Open MPI, MPICH, Slurm's PMI) started this process: it says so in the
// environment, also for a run of one process (whose stdout is then mpirun's, not a terminal).
bool launched_by_mpirun();

// What the collectives called while one lives are for ("SyncBN's batch statistics"): the hang
// watchdog names it beside the collective, so that a hang says where the run waits. Scopes nest;
// each thread has its own (the training thread's is the one that matters). `what`: static text.
class CollectivePurpose {
  public:
    explicit CollectivePurpose(const char* what);
    ~CollectivePurpose();
    CollectivePurpose(const CollectivePurpose&) = delete;
    CollectivePurpose& operator=(const CollectivePurpose&) = delete;

  private:
    const char* outer_;
};
// The innermost purpose of this thread, or nullptr.
const char* collective_purpose();

// The registered collectives (dist/ installs MPI's), else the single-process ones.
Collectives& collectives();
// Whether this run takes the data-parallel path (gradient averaging, SyncBN's collectives, the
// global batch's means, the device collectives): with several processes, or with one when
// PG_FORCE_DATA_PARALLEL=1 asks for it, to test that path where there is only one device (NCCL
// with a communicator of one on a one-GPU machine; the run must match the plain one).
bool data_parallel_run();
void register_collectives(std::unique_ptr<Collectives> collectives);
// The device collectives for a device type; null when none is registered.
DeviceCollectives* device_collectives(DeviceType type);
void register_device_collectives(DeviceType type, std::unique_ptr<DeviceCollectives> collectives);

// Tensor forms, on any device: through the device's collectives when registered, else through
// host memory.
// x (f32) becomes its element-wise sum over processes, in place.
void all_reduce_sum_(Tensor& x);
// all_reduce_sum_(x) started now and finished by wait(), as Collectives::start_all_reduce_sum:
// leave x alone until then. CPU tensors and device tensors with their device's own collectives
// (NCCL) run while the caller goes on; other device tensors are summed (through host memory)
// before this returns.
std::unique_ptr<PendingCollective> start_all_reduce_sum_(Tensor& x);
// x (any dtype) takes root's values, in place; shapes must agree.
void broadcast_(Tensor& x, int root);
// (world_size, *x.shape) of every process's x, in rank order (f32).
Tensor all_gather(const Tensor& x);
// Every process's rows, concatenated in rank order: x (n_p, ...) -> (sum of n_p, ...), f32. The
// row counts may differ between processes and be 0; the shape of a row must agree.
Tensor all_gather_rows(const Tensor& x);

} // namespace pg
