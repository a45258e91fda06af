// Pinned staging on a GPU (skipped without one; PG_REQUIRE_GPU=1 makes a skip fail): pinned tensors
// are page-locked and come from a cache, uploads are byte-identical, a copy from pinned memory is
// queued without waiting, and in-place writes, frees and the PinnedStaging ring wait for the copies
// still reading a buffer. The GPU is kept busy with GEMMs so that queued copies run late: a missing
// wait would let the host overwrite a buffer before its copy has read it, and the data would differ.
#include <cuda_runtime.h>

#include <cstring>

#include "autograd/ops.h"
#include "cuda/context.h"
#include "cuda/settings.h"
#include "tensor/backend.h"
#include "tensor/pinned_staging.h"
#include "tests/common/test_util.h"

namespace pg::cuda {
namespace {

const Device kGpu = Device::cuda(0);

class GpuPinned : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!device_available(kGpu)) {
            if (test::gpu_required()) FAIL() << "PG_REQUIRE_GPU=1 but no CUDA device";
            GTEST_SKIP() << "no CUDA device";
        }
        Generator gen(7);
        busy_ = Tensor::uniform({2048, 2048}, gen, -1.f, 1.f, kGpu);
    }
    // Queues `gemms` (2048 x 2048)^2 products (17 GFLOP each, a few ms in all) on the stream, so
    // whatever is queued next starts only after them while the host runs on.
    void keep_gpu_busy(int gemms) const {
        for (int i = 0; i < gemms; i++) matmul(busy_, busy_);
    }
    Tensor busy_;
};

// CPU bytes with a pattern that differs per seed (every bit pattern, NaNs included).
Tensor patterned(const Shape& shape, DType dtype, uint32_t seed) {
    Tensor t = Tensor::empty(shape, dtype);
    auto* bytes = static_cast<uint8_t*>(t.raw());
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < t.nbytes(); i++) x = x * 1664525u + 1013904223u, bytes[i] = x >> 24;
    return t;
}

::testing::AssertionResult same_bytes(const Tensor& gpu, const Tensor& cpu) {
    Tensor back = gpu.to(Device::cpu());
    if (back.shape() != cpu.shape() || back.dtype() != cpu.dtype())
        return ::testing::AssertionFailure() << "shape or dtype differ";
    const auto* a = static_cast<const uint8_t*>(back.raw());
    const auto* b = static_cast<const uint8_t*>(cpu.raw());
    for (size_t i = 0; i < cpu.nbytes(); i++)
        if (a[i] != b[i])
            return ::testing::AssertionFailure() << "byte " << i << " of " << cpu.nbytes() << ": "
                                                 << int(a[i]) << " vs " << int(b[i]);
    return ::testing::AssertionSuccess();
}

TEST_F(GpuPinned, PinnedTensorsArePageLockedAndCached) {
    const size_t nbytes = 1000 * 1000 * 4;
    const AllocatorStats before = pinned_allocator_stats();
    void* address = nullptr;
    {
        Tensor p = Tensor::empty_pinned({1000, 1000}, DType::f32, kGpu);
        EXPECT_TRUE(p.is_pinned());
        EXPECT_TRUE(p.is_cpu());
        cudaPointerAttributes attributes{};
        CUDA_CHECK(cudaPointerGetAttributes(&attributes, p.raw()));
        EXPECT_EQ(attributes.type, cudaMemoryTypeHost); // page-locked, not pageable
        EXPECT_GE(pinned_allocator_stats().allocated, before.allocated + nbytes);
        fill_(p, 3.0); // a CPU op writes it
        EXPECT_FLOAT_EQ(sum(p).item(), 3e6f);
        address = p.raw();
    }
    const AllocatorStats freed = pinned_allocator_stats();
    EXPECT_EQ(freed.allocated, before.allocated);
    if (context().pinned_allocator->direct()) return; // PG_CUDA_ALLOC=direct: no cache to test
    {
        Tensor q = Tensor::empty_pinned({1000, 1000}, DType::f32, kGpu);
        EXPECT_EQ(q.raw(), address); // the cached block again, without cudaHostAlloc
        EXPECT_EQ(pinned_allocator_stats().source_allocations, freed.source_allocations);
    }
    empty_cache();
    EXPECT_LE(pinned_allocator_stats().reserved + nbytes, freed.reserved);
}

// Every dtype at odd sizes, through the ring and through Tensor::to from a pinned tensor.
TEST_F(GpuPinned, UploadsAreByteIdentical) {
    PinnedStaging staging(kGpu, 2);
    uint32_t seed = 0;
    for (DType dtype : {DType::f32, DType::bf16, DType::i32, DType::u8}) {
        for (Shape shape : {Shape{1}, Shape{3, 17, 19, 3}, Shape{2, 65, 33, 5}}) {
            Tensor batch = patterned(shape, dtype, seed++);
            Tensor out = staging.upload(batch);
            EXPECT_TRUE(out.is_cuda());
            EXPECT_TRUE(same_bytes(out, batch)) << dtype_name(dtype) << " " << shape_str(shape);
            Tensor p = Tensor::empty_pinned(shape, dtype, kGpu);
            std::memcpy(p.raw(), batch.raw(), batch.nbytes());
            EXPECT_TRUE(same_bytes(p.to(kGpu), batch))
                << dtype_name(dtype) << " " << shape_str(shape);
        }
    }
}

// x.to(gpu) from pinned memory returns while the copy is still queued; an in-place write to x and
// freeing x (its block is reused at once by the cache) both wait for the copy to read x first.
TEST_F(GpuPinned, CopiesFromPinnedMemoryAreAsynchronousAndGuarded) {
    Tensor p = Tensor::empty_pinned({1 << 20}, DType::f32, kGpu);
    fill_(p, 1.0);
    keep_gpu_busy(10);
    Tensor y = p.to(kGpu);
    EXPECT_EQ(cudaStreamQuery(stream()), cudaErrorNotReady); // queued, not waited for
    cudaGetLastError();
    fill_(p, 2.0); // waits for the copy: y keeps the ones
    EXPECT_EQ(y.to_f32_vector(), std::vector<float>(1 << 20, 1.f));

    keep_gpu_busy(10);
    Tensor y2 = p.to(kGpu);
    p = Tensor(); // the free waits for the copy before the block returns to the cache
    Tensor q = Tensor::empty_pinned({1 << 20}, DType::f32, kGpu);
    std::memset(q.raw(), 0, q.nbytes()); // a raw write into what is probably the same block
    EXPECT_EQ(y2.to_f32_vector(), std::vector<float>(1 << 20, 2.f));

    keep_gpu_busy(10);
    Tensor y3 = q.to(kGpu);
    q.wait_async_copies(); // then raw writes are safe
    std::memset(q.raw(), 0xff, q.nbytes());
    EXPECT_EQ(y3.to_f32_vector(), std::vector<float>(1 << 20, 0.f));
}

// 3 slots, 60 uploads of varying dtype and size (slots reused 20 times and regrown), each queued
// behind a GEMM so the host runs ahead of the copies and must wait on each slot's event.
TEST_F(GpuPinned, RingReusedManyTimesUnderLoadKeepsEveryBatch) {
    PinnedStaging staging(kGpu, 3);
    const DType dtypes[] = {DType::f32, DType::u8, DType::i32, DType::bf16};
    std::vector<Tensor> expected, got;
    for (int i = 0; i < 60; i++) {
        keep_gpu_busy(1);
        Tensor batch = patterned({2, 33 + 8 * (i % 5), 29, 3}, dtypes[i % 4], uint32_t(100 + i));
        got.push_back(staging.upload(batch));
        expected.push_back(batch.clone());
        std::memset(batch.raw(), 0, batch.nbytes()); // the loader reuses its buffer at once
    }
    for (size_t i = 0; i < got.size(); i++) EXPECT_TRUE(same_bytes(got[i], expected[i])) << i;
}

TEST_F(GpuPinned, UploadingAGpuTensorIsAnError) {
    PinnedStaging staging(kGpu, 2);
    try {
        staging.upload(Tensor::zeros({2, 3}, DType::f32, kGpu));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("the batch must be a CPU tensor, got one on cuda:0"),
                  std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace pg::cuda
