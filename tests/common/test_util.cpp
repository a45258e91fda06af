// Device fixture, comparisons and reference loading for the test suites.
#include "tests/common/test_util.h"

#include <cmath>
#include <cstdlib>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace pg::test {

bool gpu_required() {
    const char* v = std::getenv("PG_REQUIRE_GPU");
    return v != nullptr && std::string(v) == "1";
}

void DeviceTest::SetUp() {
    if (device_available(device())) return;
    if (gpu_required()) {
        FAIL() << "PG_REQUIRE_GPU=1 but device " << device() << " is not available";
    }
    GTEST_SKIP() << device() << " not available in this build / on this machine";
}

std::string device_param_name(const ::testing::TestParamInfo<Device>& info) {
    return info.param.is_cpu() ? "cpu" : "cuda" + std::to_string(info.param.index);
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, float atol,
                                     float rtol) {
    if (actual.shape() != expected.shape())
        return ::testing::AssertionFailure() << "shape " << shape_str(actual.shape())
                                             << " != expected " << shape_str(expected.shape());
    std::vector<float> a = actual.to_f32_vector(), e = expected.to_f32_vector();
    size_t worst = 0, bad = 0;
    double worst_excess = 0.0;
    for (size_t i = 0; i < a.size(); i++) {
        double diff = std::fabs(double(a[i]) - double(e[i]));
        double limit = atol + rtol * std::fabs(double(e[i]));
        bool nan_mismatch = std::isnan(a[i]) != std::isnan(e[i]);
        if (nan_mismatch || diff > limit) {
            double excess = nan_mismatch ? INFINITY : diff - limit;
            if (bad == 0 || excess > worst_excess) worst = i, worst_excess = excess;
            bad++;
        }
    }
    if (bad == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << bad << " of " << a.size() << " elements differ; worst at " << worst << ": "
           << a[worst] << " vs expected " << e[worst] << " (atol " << atol << ", rtol " << rtol
           << ")";
}

::testing::AssertionResult all_equal(const Tensor& actual, const Tensor& expected) {
    if (actual.shape() != expected.shape() || actual.dtype() != expected.dtype())
        return ::testing::AssertionFailure()
               << shape_str(actual.shape()) << " " << actual.dtype() << " != expected "
               << shape_str(expected.shape()) << " " << expected.dtype();
    std::vector<float> a = actual.to_f32_vector(), e = expected.to_f32_vector();
    for (size_t i = 0; i < a.size(); i++)
        if (!(a[i] == e[i] || (std::isnan(a[i]) && std::isnan(e[i]))))
            return ::testing::AssertionFailure()
                   << "element " << i << ": " << a[i] << " vs expected " << e[i];
    return ::testing::AssertionSuccess();
}

Tensor random_tensor(const Shape& shape, Generator& gen, float low, float high, Device device) {
    return Tensor::uniform(shape, gen, low, high, device);
}

Tensor random_leaf(const Shape& shape, Generator& gen, float low, float high) {
    Tensor t = random_tensor(shape, gen, low, high);
    t.set_requires_grad(true);
    return t;
}

// Runs f on inputs moved to `device` (leaves keep requires_grad), backpropagates sum(out * w) and
// returns the output followed by each grad-requiring input's gradient, all on the CPU.
static std::vector<Tensor>
run_with_grads(const std::function<Tensor(const std::vector<Tensor>&)>& f,
               const std::vector<Tensor>& inputs, Device device) {
    std::vector<Tensor> moved;
    for (const Tensor& t : inputs) {
        if (!t.defined()) {
            moved.push_back(t);
            continue;
        }
        Tensor m = t.to(device).clone();
        if (t.requires_grad()) m.set_requires_grad(true);
        moved.push_back(m);
    }
    Tensor out = f(moved);
    std::vector<Tensor> results{out.to(Device::cpu())};
    if (out.requires_grad()) {
        Generator gen(99);
        Tensor w = Tensor::uniform(out.shape(), gen, -1.f, 1.f).to(device);
        backward(sum(mul(out, w)));
        for (const Tensor& m : moved)
            if (m.defined() && m.requires_grad()) results.push_back(m.grad().to(Device::cpu()));
    }
    return results;
}

::testing::AssertionResult device_parity(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                         const std::vector<Tensor>& inputs, Device device,
                                         float atol, float rtol) {
    std::vector<Tensor> reference = run_with_grads(f, inputs, Device::cpu());
    std::vector<Tensor> actual = run_with_grads(f, inputs, device);
    if (reference.size() != actual.size())
        return ::testing::AssertionFailure() << "different number of results";
    for (size_t i = 0; i < reference.size(); i++) {
        ::testing::AssertionResult r = reference[i].dtype() == DType::f32
                                           ? all_close(actual[i], reference[i], atol, rtol)
                                           : all_equal(actual[i], reference[i]);
        if (!r)
            return ::testing::AssertionFailure()
                   << (i == 0 ? "output" : "gradient " + std::to_string(i - 1)) << " on " << device
                   << ": " << r.message();
    }
    return ::testing::AssertionSuccess();
}

std::map<std::string, Tensor> load_reference(const std::string& name) {
    return load_safetensors(std::string(PG_TEST_DATA_DIR) + "/" + name);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) { return e.what(); }
    return "";
}

void expect_error(const std::function<void()>& f, const std::string& text) {
    std::string message = error_of(f);
    if (message.empty())
        ADD_FAILURE() << "expected an error containing: " << text;
    else
        EXPECT_NE(message.find(text), std::string::npos) << message;
}

} // namespace pg::test
