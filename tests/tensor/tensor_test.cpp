// Tensor basics: creation, dtypes, host transfers, reshape aliasing, version counter, printing,
// and the errors for bad shapes, dtypes and devices.
#include <malloc.h>

#include <cstdlib>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_equal;

TEST(Tensor, CreationFillsValues) {
    Tensor z = Tensor::zeros({2, 3});
    EXPECT_EQ(z.shape(), (Shape{2, 3}));
    EXPECT_EQ(z.numel(), 6);
    EXPECT_EQ(z.dtype(), DType::f32);
    EXPECT_EQ(z.to_f32_vector(), std::vector<float>(6, 0.f));
    EXPECT_EQ(Tensor::ones({4}, DType::i32).to_i32_vector(), std::vector<int32_t>(4, 1));
    EXPECT_EQ(Tensor::full({3}, 255, DType::u8).to_u8_vector(), std::vector<uint8_t>(3, 255));
    EXPECT_FLOAT_EQ(Tensor::scalar(2.5f).item(), 2.5f);
    EXPECT_EQ(Tensor::scalar(1.f).dim(), 0);
}

TEST(Tensor, FromVectorRoundTripsEveryDtype) {
    std::vector<float> f{1.5f, -2.f, 3.25f, 0.f};
    std::vector<int32_t> i{7, -8, 9, 1 << 30};
    std::vector<uint8_t> u{0, 1, 254, 255};
    EXPECT_EQ(Tensor::from_vector(f, {2, 2}).to_f32_vector(), f);
    EXPECT_EQ(Tensor::from_vector(i, {4}).to_i32_vector(), i);
    EXPECT_EQ(Tensor::from_vector(u, {1, 4}).to_u8_vector(), u);
}

TEST(Tensor, SizeAcceptsNegativeAxes) {
    Tensor t = Tensor::zeros({2, 3, 4});
    EXPECT_EQ(t.size(-1), 4);
    EXPECT_EQ(t.size(0), 2);
    EXPECT_THROW(t.size(3), Error);
}

TEST(Tensor, BadShapesAndDtypesAreClearErrors) {
    try {
        Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("3 values do not fill shape (2, 2)"),
                  std::string::npos)
            << e.what();
    }
    Tensor t = Tensor::zeros({2}, DType::i32);
    EXPECT_THROW(t.f32(), Error);
    EXPECT_THROW(Tensor::zeros({-1}), Error);
    EXPECT_THROW(Tensor().shape(), Error);
    EXPECT_THROW(Tensor::zeros({3}).item(), Error);
}

TEST(Tensor, ReshapeSharesStorageAndVersion) {
    Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = reshape(a, {3, -1});
    EXPECT_EQ(b.shape(), (Shape{3, 2}));
    EXPECT_TRUE(a.same_storage(b));
    uint64_t v = a.version();
    fill_(b, 7.0);
    EXPECT_EQ(a.version(), v + 1);
    EXPECT_EQ(a.to_f32_vector(), std::vector<float>(6, 7.f));
    EXPECT_THROW(reshape(a, {4, 2}), Error);
    EXPECT_THROW(reshape(a, {-1, -1}), Error);
}

TEST(Tensor, CloneAndDetach) {
    Tensor a = Tensor::from_vector(std::vector<float>{1, 2}, {2});
    Tensor c = a.clone();
    EXPECT_FALSE(c.same_storage(a));
    Tensor d = a.detach();
    EXPECT_TRUE(d.same_storage(a));
    EXPECT_FALSE(d.requires_grad());
}

TEST(Tensor, PrintingShowsShapeDtypeDeviceAndValues) {
    std::ostringstream out;
    out << Tensor::from_vector(std::vector<float>{0.5f, 1.f, 2.f}, {3});
    EXPECT_EQ(out.str(), "Tensor(shape=(3,), dtype=f32, device=cpu) [0.5, 1, 2]");
    std::ostringstream many;
    many << Tensor::zeros({4, 5}, DType::u8);
    EXPECT_NE(many.str().find("... (20 values)"), std::string::npos) << many.str();
}

TEST(Tensor, Bf16ConversionRoundsToNearestEven) {
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_FLOAT_EQ(bf16_to_f32(f32_to_bf16(3.140625f)), 3.140625f); // exactly representable
    // 1 + 2^-8 lies halfway between two bf16 values: ties go to the even mantissa (1.0).
    EXPECT_FLOAT_EQ(bf16_to_f32(f32_to_bf16(1.00390625f)), 1.0f);
    EXPECT_FLOAT_EQ(bf16_to_f32(f32_to_bf16(1.01171875f)), 1.015625f); // halfway, rounds up to even
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(Tensor, CastBetweenDtypes) {
    Tensor f = Tensor::from_vector(std::vector<float>{-1.7f, 0.2f, 2.9f, 255.f}, {4});
    EXPECT_EQ(cast(f, DType::i32).to_i32_vector(), (std::vector<int32_t>{-1, 0, 2, 255}));
    EXPECT_EQ(cast(cast(f, DType::i32), DType::u8).to_u8_vector()[3], 255);
    Tensor b = cast(f, DType::bf16);
    EXPECT_EQ(b.dtype(), DType::bf16);
    EXPECT_NEAR(cast(b, DType::f32).to_f32_vector()[0], -1.7f, 0.01f);
}

TEST(Device, ParsesNames) {
    EXPECT_EQ(parse_device("cpu"), Device::cpu());
    EXPECT_EQ(parse_device("cuda:1"), Device::cuda(1));
    EXPECT_THROW(parse_device("gpu"), Error);
    EXPECT_THROW(parse_device("cuda:x"), Error);
}

TEST(Device, CudaWithoutBackendIsAClearError) {
    if (device_available(Device::cuda(0))) GTEST_SKIP() << "a GPU is present";
    try {
        Tensor::zeros({2}, DType::f32, Device::cuda(0));
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no CUDA backend"), std::string::npos) << e.what();
    }
}

class TensorDevice : public test::DeviceTest {};

TEST_P(TensorDevice, MovesBetweenDevicesKeepValues) {
    Tensor a = Tensor::from_vector(std::vector<int32_t>{1, 2, 3}, {3});
    Tensor on = a.to(device());
    EXPECT_EQ(on.device(), device());
    EXPECT_TRUE(all_equal(on.to(Device::cpu()), a));
    EXPECT_TRUE(all_equal(to(on, Device::cpu()), a));
}

TEST_P(TensorDevice, FillsAndUniformMatchTheCpuStream) {
    Generator g1(7), g2(7);
    Tensor cpu_values = Tensor::uniform({1000}, g1, -2.f, 3.f);
    Tensor dev_values = Tensor::uniform({1000}, g2, -2.f, 3.f, device());
    EXPECT_TRUE(all_equal(dev_values.to(Device::cpu()), cpu_values));
    EXPECT_EQ(g1.offset(), g2.offset());
}

PG_INSTANTIATE_DEVICE_SUITE(TensorDevice);

TEST(Tensor, FreedCpuTensorsStayInTheHeap) {
    // tensor/storage.cpp raises glibc's mmap threshold: a 4 MB tensor comes from the heap, not from
    // a fresh mmap (whose pages would fault in again on every step). mallinfo2 counts mmapped
    // blocks. In a fresh process: glibc's own threshold rises as mapped blocks are freed, so after
    // other tests a 4 MB block could come from the heap anyway.
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer has its own allocator (mallopt does nothing there)";
#endif
    if (const char* v = std::getenv("PG_CPU_MALLOC"); v && std::string(v) == "system")
        GTEST_SKIP() << "PG_CPU_MALLOC=system";
    GTEST_FLAG_SET(death_test_style, "threadsafe"); // re-executes the binary: a fresh heap
    EXPECT_EXIT(
        {
            Tensor first =
                Tensor::zeros({1}); // the allocator sets the thresholds at its first call
            const size_t mapped = mallinfo2().hblks;
            Tensor large = Tensor::zeros({1 << 20});
            std::exit(mallinfo2().hblks == mapped ? 0 : 1);
        },
        testing::ExitedWithCode(0), "");
}

} // namespace
} // namespace pg
