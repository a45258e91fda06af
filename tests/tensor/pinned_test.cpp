// Pinned staging on the CPU: a tensor from Tensor::empty_pinned is an ordinary CPU tensor for every
// op, PinnedStaging on the CPU device is a plain copy (slots reused and regrown, results independent
// of the caller's batch), and bad use is a clear error. The GPU side (asynchronous copies, event
// waits, page-locked memory) is tests/cuda/pinned_staging_test.cpp.
#include <cstring>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/error.h"
#include "tensor/pinned_staging.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_equal;

// A CPU tensor of `dtype` whose bytes are a pattern that differs per `seed` (any bit pattern is a
// valid element here: the staging path copies bytes and never looks at values).
Tensor patterned(const Shape& shape, DType dtype, uint32_t seed) {
    Tensor t = Tensor::empty(shape, dtype);
    auto* bytes = static_cast<uint8_t*>(t.raw());
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < t.nbytes(); i++) x = x * 1664525u + 1013904223u, bytes[i] = x >> 24;
    return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && a.dtype() == b.dtype() &&
           std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(Pinned, CpuPinnedTensorIsAnOrdinaryCpuTensor) {
    Generator gen(1);
    Tensor a = Tensor::uniform({2, 5, 7, 3}, gen, -1.f, 1.f); // (N, H, W, C)
    Tensor p = Tensor::empty_pinned({2, 5, 7, 3}, DType::f32, Device::cpu());
    EXPECT_TRUE(p.is_pinned());
    EXPECT_FALSE(a.is_pinned());
    EXPECT_TRUE(p.is_cpu());
    EXPECT_EQ(p.shape(), a.shape());
    EXPECT_EQ(p.dtype(), DType::f32);
    copy_(p, a);
    EXPECT_TRUE(all_equal(p, a));

    // Ops read it like any CPU tensor: a conv, elementwise math, a reduction.
    Tensor w = Tensor::uniform({4, 3, 3, 3}, gen, -1.f, 1.f); // (K, R, S, C)
    EXPECT_TRUE(all_equal(conv2d(p, w, Tensor(), 1, 1), conv2d(a, w, Tensor(), 1, 1)));
    EXPECT_TRUE(all_equal(relu(p) * p + 1.f, relu(a) * a + 1.f));
    EXPECT_FLOAT_EQ(sum(p).item(), sum(a).item());

    // In-place ops write it; aliases keep the pinned storage; copies are ordinary tensors.
    mul_(p, 2.f);
    EXPECT_TRUE(all_equal(p, a * 2.f)); // doubling is exact
    Tensor r = reshape(p, {70, 3});
    EXPECT_TRUE(r.is_pinned());
    EXPECT_TRUE(r.same_storage(p));
    EXPECT_FALSE(p.clone().is_pinned());
    EXPECT_TRUE(p.to(Device::cpu()).same_storage(p));
    p.wait_async_copies(); // nothing pending: returns at once

    std::ostringstream text;
    text << p;
    EXPECT_NE(text.str().find("device=cpu, pinned)"), std::string::npos) << text.str();
}

TEST(Pinned, EveryDtypeAndEmptyShapes) {
    for (DType dtype : {DType::f32, DType::bf16, DType::i32, DType::u8}) {
        Tensor p = Tensor::empty_pinned({3, 4}, dtype, Device::cpu());
        fill_(p, 7.0);
        EXPECT_EQ(p.to_f32_vector(), std::vector<float>(12, 7.f)) << dtype_name(dtype);
        EXPECT_EQ(p.nbytes(), 12 * dtype_size(dtype));
    }
    Tensor e = Tensor::empty_pinned({0, 3}, DType::u8, Device::cpu());
    EXPECT_EQ(e.numel(), 0);
    EXPECT_TRUE(e.is_pinned());
    EXPECT_THROW(Tensor::empty_pinned({2, -1}, DType::f32, Device::cpu()), Error);
}

TEST(Pinned, PinningForAMissingGpuIsAClearError) {
    if (device_available(Device::cuda(0))) GTEST_SKIP() << "a GPU is present";
    try {
        Tensor::empty_pinned({4}, DType::f32, Device::cuda(0));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no CUDA backend is registered"), std::string::npos)
            << e.what();
    }
    try {
        PinnedStaging staging(Device::cuda(0));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("PinnedStaging: device cuda:0 is not available"),
                  std::string::npos)
            << e.what();
    }
}

// Mixed dtypes and shapes through 3 slots, each slot used several times; the caller overwrites its
// batch right after upload, which must not change the result.
TEST(PinnedStaging, OnTheCpuUploadIsAPlainCopy) {
    PinnedStaging staging(Device::cpu(), 3);
    EXPECT_EQ(staging.slots(), 3);
    EXPECT_EQ(staging.device(), Device::cpu());
    const DType dtypes[] = {DType::f32, DType::u8, DType::i32, DType::bf16};
    std::vector<Tensor> expected, got;
    for (int i = 0; i < 11; i++) {
        Tensor batch = patterned({2, 5 + i % 3, 7, 3}, dtypes[i % 4], uint32_t(i));
        Tensor out = staging.upload(batch);
        EXPECT_TRUE(out.is_cpu());
        EXPECT_FALSE(out.is_pinned());
        EXPECT_FALSE(out.same_storage(batch));
        EXPECT_FALSE(out.requires_grad());
        expected.push_back(batch.clone());
        got.push_back(out);
        std::memset(batch.raw(), 0xab, batch.nbytes()); // the caller reuses its buffer
    }
    for (size_t i = 0; i < got.size(); i++) EXPECT_TRUE(same_bytes(got[i], expected[i])) << i;
}

// Slot i is used by uploads i, i + slots, ...; it is allocated on first use and regrown only when a
// batch does not fit.
TEST(PinnedStaging, SlotsGrowToTheLargestBatchAndAreThenReused) {
    PinnedStaging staging(Device::cpu(), 2);
    EXPECT_EQ(staging.slot_bytes(0), 0u);
    EXPECT_EQ(staging.slot_bytes(1), 0u);
    staging.upload(Tensor::zeros({4})); // slot 0: 16 bytes
    EXPECT_EQ(staging.slot_bytes(0), 16u);
    EXPECT_EQ(staging.slot_bytes(1), 0u);
    staging.upload(Tensor::zeros({8})); // slot 1: 32 bytes
    EXPECT_EQ(staging.slot_bytes(1), 32u);
    Tensor small = staging.upload(Tensor::full({2}, 5.0)); // slot 0 is large enough: kept
    EXPECT_EQ(staging.slot_bytes(0), 16u);
    EXPECT_EQ(small.to_f32_vector(), std::vector<float>(2, 5.f));
    Tensor big = staging.upload(Tensor::full({16}, 6.0)); // slot 1 regrows to 64 bytes
    EXPECT_EQ(staging.slot_bytes(1), 64u);
    EXPECT_EQ(big.to_f32_vector(), std::vector<float>(16, 6.f));
    Tensor empty = staging.upload(Tensor::zeros({0, 3}, DType::i32));
    EXPECT_EQ(empty.shape(), (Shape{0, 3}));
    EXPECT_EQ(empty.dtype(), DType::i32);
    // The empty batch did not move the ring: this one goes to slot 0, which regrows to 48 bytes.
    Tensor after = staging.upload(Tensor::full({12}, 8.0));
    EXPECT_EQ(staging.slot_bytes(0), 48u);
    EXPECT_EQ(staging.slot_bytes(1), 64u);
    EXPECT_EQ(after.to_f32_vector(), std::vector<float>(12, 8.f));
}

TEST(PinnedStaging, BadUseIsAClearError) {
    try {
        PinnedStaging staging(Device::cpu(), 0);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("needs at least 1 slot, got 0"), std::string::npos)
            << e.what();
    }
    PinnedStaging staging(Device::cpu(), 2);
    try {
        staging.upload(Tensor());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("PinnedStaging::upload: undefined batch"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(staging.slot_bytes(2), Error);
    EXPECT_THROW(staging.slot_bytes(-1), Error);
}

} // namespace
} // namespace pg
