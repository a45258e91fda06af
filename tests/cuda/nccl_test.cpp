// NCCL's collectives (dist/nccl_collectives.h) on the one GPU a test machine has: a communicator
// of one process, whose collectives are copies, checked on CUDA tensors after the stream's work.
// What they compute over several processes is tests/dist's (the same interface over MPI).
#include <gtest/gtest.h>

#include "pg_config.h"

#if PG_NCCL_ENABLED

#include "autograd/inplace.h"
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

// The gradient channel (its own communicator and stream) on a communicator of one: it starts
// after the main stream's copy, and the values come back through wait() unchanged. That it sums
// across processes needs several GPUs; tests/dist checks the same calls over MPI.
TEST(GpuNccl, SideStreamSumOfOneProcessKeepsItsValues) {
    if (!device_available(Device::cuda(0))) {
        if (test::gpu_required()) FAIL() << "PG_REQUIRE_GPU=1 but no CUDA device";
        GTEST_SKIP() << "no CUDA device";
    }
    std::unique_ptr<DeviceCollectives> nccl = dist::make_nccl_collectives();
    Generator gen(2);
    Tensor host = test::random_tensor({1 << 20}, gen);
    for (int round = 0; round < 3; round++) {
        Tensor x = Tensor::zeros({1 << 20}, DType::f32, Device::cuda(0));
        copy_(x, host.to(Device::cuda(0))); // queued on the main stream
        std::unique_ptr<PendingCollective> pending = nccl->start_all_reduce_sum(x.f32(), x.numel());
        pending->test();
        pending->wait();
        EXPECT_TRUE(test::all_equal(x.to(Device::cpu()), host)) << "round " << round;
    }
}

} // namespace
} // namespace pg

#endif // PG_NCCL_ENABLED
