// NCCL's collectives (dist/nccl_collectives.h) on the one GPU a test machine has: a communicator
// of one process, whose collectives are copies, checked on CUDA tensors after the stream's work.
// What they compute over several processes is tests/dist's (the same interface over MPI).
#include <gtest/gtest.h>

#include "pg_config.h"

#if PG_NCCL_ENABLED

#include <cuda_runtime.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cuda/context.h"
#include "dist/nccl_collectives.h"
#include "tensor/backend.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

TEST(GpuNccl, OneProcessCommunicatorCopiesOnTheStream) {
    if (!device_available(Device::cuda(0))) {
        if (test::gpu_required()) FAIL() << "PG_REQUIRE_GPU=1 but no CUDA device";
        GTEST_SKIP() << "no CUDA device";
    }
    std::unique_ptr<DeviceCollectives> nccl = dist::make_nccl_collectives();
    EXPECT_EQ(nccl->describe().rfind("NCCL 2.", 0), 0u) << nccl->describe();
    Generator gen(1);
    Tensor host = test::random_tensor({1000, 3}, gen);
    Tensor x = host.to(Device::cuda(0));
    nccl->all_reduce_sum(x.f32(), x.numel());
    EXPECT_TRUE(test::all_equal(x, host));
    nccl->broadcast(x.raw(), int64_t(x.nbytes()), 0);
    EXPECT_TRUE(test::all_equal(x, host));
    Tensor gathered = Tensor::full({1000, 3}, -1.0, DType::f32, Device::cuda(0));
    nccl->all_gather(x.f32(), x.numel(), gathered.f32());
    EXPECT_TRUE(test::all_equal(gathered, host));
}

// The gradient channel (its own communicator and stream) on a communicator of one, where the sum
// is the values themselves: it waits for the main stream's work queued before it (held here by a
// host function until released), and the values come back unchanged whether it was waited for or
// dropped. That wait() orders later work after a real sum needs several GPUs; tests/dist checks
// the same calls over MPI.
void CUDART_CB hold_until_released(void* flag) {
    while (!static_cast<std::atomic<bool>*>(flag)->load())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(GpuNccl, SideStreamSumIsOrderedWithTheMainStream) {
    if (!device_available(Device::cuda(0))) {
        if (test::gpu_required()) FAIL() << "PG_REQUIRE_GPU=1 but no CUDA device";
        GTEST_SKIP() << "no CUDA device";
    }
    std::unique_ptr<DeviceCollectives> nccl = dist::make_nccl_collectives();
    Generator gen(2);
    Tensor host = test::random_tensor({1 << 20}, gen);
    Tensor x = host.to(Device::cuda(0));
    nccl->all_reduce_sum(x.f32(), x.numel()); // the communicators start here, not while held
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    for (int round = 0; round < 2; round++) {
        std::atomic<bool> released{false};
        ASSERT_EQ(cudaLaunchHostFunc(cuda::stream(), hold_until_released, &released), cudaSuccess);
        std::unique_ptr<PendingCollective> pending = nccl->start_all_reduce_sum(x.f32(), x.numel());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        EXPECT_FALSE(pending->test()) << "the sum ran before the main stream's work before it";
        released = true;
        if (round == 0) {
            pending->wait();
        } else {
            pending.reset(); // dropped: the main stream still waits for it
        }
        EXPECT_TRUE(test::all_equal(x.to(Device::cpu()), host)) << "round " << round;
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    }
}

} // namespace
} // namespace pg

#endif // PG_NCCL_ENABLED
