// Shared test helpers: the device-parameterised fixture (CPU, and CUDA when present;
// PG_REQUIRE_GPU=1 turns a skipped CUDA case into a failure), tensor comparisons, random inputs
// and loading reference tensors dumped from PyTorch (tests/data/*.safetensors).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/tensor.h"

namespace pg::test {

// Every test body written against DeviceTest runs once per device. Instantiate a suite with
// PG_INSTANTIATE_DEVICE_SUITE(SuiteName).
class DeviceTest : public ::testing::TestWithParam<Device> {
  protected:
    void SetUp() override;
    Device device() const { return GetParam(); }
};

std::string device_param_name(const ::testing::TestParamInfo<Device>& info);

#define PG_INSTANTIATE_DEVICE_SUITE(Suite)                                                         \
    INSTANTIATE_TEST_SUITE_P(Devices, Suite,                                                       \
                             ::testing::Values(::pg::Device::cpu(), ::pg::Device::cuda(0)),        \
                             ::pg::test::device_param_name)

// True when PG_REQUIRE_GPU=1: a GPU test that would be skipped fails instead.
bool gpu_required();

// Element-wise |a - b| <= atol + rtol |b|, after moving both to the CPU; reports the worst element.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected,
                                     float atol = 1e-5f, float rtol = 1e-5f);
// Same values and shape, exactly (integer results, masks, copies).
::testing::AssertionResult all_equal(const Tensor& actual, const Tensor& expected);

// f32 tensor with values uniform in [low, high).
Tensor random_tensor(const Shape& shape, Generator& gen, float low = -1.f, float high = 1.f,
                     Device device = Device::cpu());
// A leaf that requires grad (for gradcheck inputs).
Tensor random_leaf(const Shape& shape, Generator& gen, float low = -1.f, float high = 1.f);

// Reads tests/data/<name> (safetensors written by tools/*.py). Tensors come back on the CPU.
std::map<std::string, Tensor> load_reference(const std::string& name);

// CPU/device parity: runs f on CPU copies of the inputs and on copies moved to `device`, and
// compares the outputs and, for inputs that require grad, the gradients of sum(out * w).
// On the CPU parameter this compares the CPU with itself (and still exercises the test body);
// on CUDA it is the parity test of DESIGN.md section 3.
::testing::AssertionResult device_parity(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                         const std::vector<Tensor>& inputs, Device device,
                                         float atol = 1e-5f, float rtol = 1e-4f);

// The message of the pg::Error that f() throws, or "" when it throws none.
std::string error_of(const std::function<void()>& f);
// Expects f() to throw a pg::Error whose message contains `text`.
void expect_error(const std::function<void()>& f, const std::string& text);

// EXPECT a gradcheck to pass, printing its report otherwise.
#define PG_EXPECT_GRADCHECK(...)                                                                   \
    do {                                                                                           \
        ::pg::GradcheckResult gc_result_ = ::pg::gradcheck(__VA_ARGS__);                           \
        EXPECT_TRUE(gc_result_.ok) << gc_result_.message;                                          \
    } while (0)

} // namespace pg::test
