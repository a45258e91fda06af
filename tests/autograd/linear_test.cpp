// matmul and linear: values by hand, the GEMM kernel (transposes, leading dimensions, batch
// strides, alpha / beta, empty inner dimension), PyTorch reference values and gradients,
// gradient checks for every shape combination, CPU/device parity and argument errors.
#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_close;
using test::random_leaf;
using test::random_tensor;

Tensor mat(std::vector<float> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// ---- values by hand ----

TEST(Matmul, ValuesByHand) {
    Tensor a = mat({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = mat({1, 0, 0, 1, 2, -1}, {3, 2});
    EXPECT_TRUE(all_close(matmul(a, b), mat({7, -1, 16, -1}, {2, 2})));
    // Batched: the second batch entry uses b * 2.
    Tensor ab = mat({1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, {2, 2, 3});
    Tensor bb = mat({1, 0, 0, 1, 2, -1, 2, 0, 0, 2, 4, -2}, {2, 3, 2});
    EXPECT_TRUE(all_close(matmul(ab, bb), mat({7, -1, 16, -1, 14, -2, 32, -2}, {2, 2, 2})));
    // (B, M, K) x (K, N): one b shared by the batch.
    EXPECT_TRUE(all_close(matmul(ab, b), mat({7, -1, 16, -1, 7, -1, 16, -1}, {2, 2, 2})));
    // Size-1 and empty inner dimensions: an outer product, and zeros.
    EXPECT_TRUE(all_close(matmul(mat({1, 2}, {2, 1}), mat({3, 4, 5}, {1, 3})),
                          mat({3, 4, 5, 6, 8, 10}, {2, 3})));
    EXPECT_TRUE(
        all_close(matmul(Tensor::ones({2, 0}), Tensor::ones({0, 3})), Tensor::zeros({2, 3})));
}

TEST(Linear, ValuesByHand) {
    // y = x W^T + b with W (out 2, in 3).
    Tensor w = mat({1, 0, -1, 2, 1, 0}, {2, 3});
    Tensor b = mat({0.5f, -1}, {2});
    Tensor x = mat({1, 2, 3, 4, 5, 6}, {2, 3});
    EXPECT_TRUE(all_close(linear(x, w, b), mat({-1.5f, 3, -1.5f, 12}, {2, 2})));
    EXPECT_TRUE(all_close(linear(x, w), mat({-2, 4, -2, 13}, {2, 2})));
    // Any leading dimensions: (2, 1, 3) -> (2, 1, 2); a single vector (3,) -> (2,).
    EXPECT_TRUE(
        all_close(linear(reshape(x, {2, 1, 3}), w, b), mat({-1.5f, 3, -1.5f, 12}, {2, 1, 2})));
    EXPECT_TRUE(all_close(linear(mat({1, 2, 3}, {3}), w, b), mat({-1.5f, 3}, {2})));
    // No input features: the bias alone.
    EXPECT_TRUE(all_close(linear(Tensor::zeros({3, 0}), Tensor::zeros({2, 0}), b),
                          mat({0.5f, -1, 0.5f, -1, 0.5f, -1}, {3, 2})));
}

// ---- the GEMM kernel against a naive loop ----

TEST(GemmKernel, TransposesLeadingDimensionsAndBatches) {
    // op(A) (m, k), op(B) (k, n), stored inside wider rows (ld > cols) and batch strides with gaps.
    const int64_t m = 5, n = 7, k = 6, batch = 3, pad = 2;
    Generator gen(2);
    Backend& be = backend_for(Device::cpu());
    for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
            SCOPED_TRACE(std::string("trans_a ") + (ta ? "1" : "0") + " trans_b " +
                         (tb ? "1" : "0"));
            const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
            const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
            const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
            const int64_t sa = a_rows * lda + 3, sb = b_rows * ldb + 1, sc = m * ldc + 2;
            std::vector<float> a = random_tensor({batch * sa}, gen).to_f32_vector();
            std::vector<float> b = random_tensor({batch * sb}, gen).to_f32_vector();
            std::vector<float> c = random_tensor({batch * sc}, gen).to_f32_vector();
            std::vector<float> expected = c;
            const float alpha = 0.5f, beta = -2.f;
            for (int64_t t = 0; t < batch; t++)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        double s = 0;
                        for (int64_t l = 0; l < k; l++)
                            s += double(a[size_t(t * sa + (ta ? l * lda + i : i * lda + l))]) *
                                 b[size_t(t * sb + (tb ? j * ldb + l : l * ldb + j))];
                        float& e = expected[size_t(t * sc + i * ldc + j)];
                        e = float(alpha * s + beta * e);
                    }
            be.gemm(ta, tb, m, n, k, alpha, a.data(), lda, sa, b.data(), ldb, sb, beta, c.data(),
                    ldc, sc, batch);
            EXPECT_TRUE(all_close(mat(c, {batch * sc}), mat(expected, {batch * sc}), 1e-5f, 1e-5f));
        }
    }
}

TEST(GemmKernel, EmptyInnerDimensionScalesC) {
    // k = 0: C = beta C; beta = 0 overwrites whatever was there (even NaN).
    Backend& be = backend_for(Device::cpu());
    std::vector<float> c{1, 2, 3, 4}, nan_c{NAN, 1, 2, NAN};
    be.gemm(false, false, 2, 2, 0, 1.f, nullptr, 1, 0, nullptr, 2, 0, 3.f, c.data(), 2, 0, 1);
    EXPECT_EQ(c, (std::vector<float>{3, 6, 9, 12}));
    be.gemm(false, false, 2, 2, 0, 1.f, nullptr, 1, 0, nullptr, 2, 0, 0.f, nan_c.data(), 2, 0, 1);
    EXPECT_EQ(nan_c, (std::vector<float>{0, 0, 0, 0}));
}

// ---- PyTorch reference (tools/dump_conv.py) ----

TEST(Matmul, MatchesPytorch) {
    // Sums of 4-5 products of N(0, 1) values: float rounding is far below the 1e-5 tolerance.
    auto ref = test::load_reference("conv.safetensors");
    for (const char* name : {"mm", "bmm", "bmm_shared"}) {
        SCOPED_TRACE(name);
        auto get = [&](const char* key) { return ref.at(std::string(name) + "." + key); };
        Tensor a = get("a").clone().set_requires_grad(true);
        Tensor b = get("b").clone().set_requires_grad(true);
        Tensor c = matmul(a, b);
        EXPECT_TRUE(all_close(c, get("c"), 1e-5f, 1e-5f));
        backward(c, get("dc"));
        EXPECT_TRUE(all_close(a.grad(), get("da"), 1e-5f, 1e-5f));
        EXPECT_TRUE(all_close(b.grad(), get("db"), 1e-5f, 1e-5f));
    }
}

TEST(Linear, MatchesPytorch) {
    auto ref = test::load_reference("conv.safetensors");
    Tensor x = ref.at("linear.x").clone().set_requires_grad(true);
    Tensor w = ref.at("linear.w").clone().set_requires_grad(true);
    Tensor b = ref.at("linear.b").clone().set_requires_grad(true);
    Tensor y = linear(x, w, b);
    EXPECT_TRUE(all_close(y, ref.at("linear.y"), 1e-5f, 1e-5f));
    backward(y, ref.at("linear.dy"));
    EXPECT_TRUE(all_close(x.grad(), ref.at("linear.dx"), 1e-5f, 1e-5f));
    EXPECT_TRUE(all_close(w.grad(), ref.at("linear.dw"), 1e-5f, 1e-5f));
    EXPECT_TRUE(all_close(b.grad(), ref.at("linear.db"), 1e-5f, 1e-5f));
}

// ---- gradient checks ----

TEST(MatmulGrad, EveryShapeCombination) {
    Generator gen(3);
    auto f = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
    const std::pair<Shape, Shape> cases[] = {
        {{3, 4}, {4, 5}},       {{1, 4}, {4, 1}},    {{3, 1}, {1, 2}},    {{2, 3, 4}, {2, 4, 5}},
        {{1, 2, 3}, {1, 3, 1}}, {{3, 2, 4}, {4, 3}}, {{2, 1, 3}, {3, 2}},
    };
    for (const auto& [sa, sb] : cases) {
        SCOPED_TRACE(shape_str(sa) + " x " + shape_str(sb));
        PG_EXPECT_GRADCHECK(f, {random_leaf(sa, gen), random_leaf(sb, gen)});
    }
    // Only one side requiring grad.
    PG_EXPECT_GRADCHECK(f, {random_leaf({2, 3, 4}, gen), random_tensor({4, 3}, gen)});
    PG_EXPECT_GRADCHECK(f, {random_tensor({2, 3, 4}, gen), random_leaf({4, 3}, gen)});
}

TEST(LinearGrad, EveryShapeCombination) {
    Generator gen(4);
    const Shape xs[] = {{4, 3}, {2, 3, 3}, {3}, {1, 3}, {2, 2, 1, 3}};
    for (const Shape& x : xs) {
        SCOPED_TRACE("x " + shape_str(x));
        PG_EXPECT_GRADCHECK(
            [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
            {random_leaf(x, gen), random_leaf({5, 3}, gen), random_leaf({5}, gen)});
        PG_EXPECT_GRADCHECK([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                            {random_leaf(x, gen), random_leaf({1, 3}, gen)});
    }
}

// ---- CPU / device parity ----

class LinearDevice : public test::DeviceTest {};

TEST_P(LinearDevice, ParityWithCpu) {
    Generator gen(5);
    auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
    EXPECT_TRUE(test::device_parity(mm, {random_leaf({17, 33}, gen), random_leaf({33, 9}, gen)},
                                    device(), 1e-4f, 1e-4f));
    EXPECT_TRUE(test::device_parity(
        mm, {random_leaf({3, 17, 33}, gen), random_leaf({3, 33, 9}, gen)}, device(), 1e-4f, 1e-4f));
    EXPECT_TRUE(test::device_parity(mm, {random_leaf({3, 17, 33}, gen), random_leaf({33, 9}, gen)},
                                    device(), 1e-4f, 1e-4f));
    auto lin = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
    EXPECT_TRUE(test::device_parity(
        lin, {random_leaf({4, 7, 65}, gen), random_leaf({31, 65}, gen), random_leaf({31}, gen)},
        device(), 1e-4f, 1e-4f));
}

PG_INSTANTIATE_DEVICE_SUITE(LinearDevice);

// ---- errors ----

template <typename F>
void expect_error(const std::string& expected, F f) {
    try {
        f();
        ADD_FAILURE() << "expected an error containing: " << expected;
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
}

TEST(Matmul, BadArgumentsNameTheValues) {
    expect_error("matmul: (2, 3) x (4, 5): inner dimensions 3 and 4 differ", [] {
        matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
    });
    expect_error("matmul: (2, 3, 4) x (2, 5, 6): inner dimensions 4 and 5 differ", [] {
        matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 5, 6}));
    });
    expect_error("matmul: (2, 3, 4) x (5, 6): inner dimensions 4 and 5 differ", [] {
        matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({5, 6}));
    });
    expect_error("matmul: (2, 3, 4) x (5, 4, 6): batch sizes 2 and 5 differ", [] {
        matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({5, 4, 6}));
    });
    expect_error("matmul: unsupported shapes (3,) x (3, 2)", [] {
        matmul(Tensor::zeros({3}), Tensor::zeros({3, 2}));
    });
    expect_error("matmul: unsupported shapes (2, 3) x (2, 3, 4)", [] {
        matmul(Tensor::zeros({2, 3}), Tensor::zeros({2, 3, 4}));
    });
    expect_error("matmul: b must be f32, got i32 (3, 2)", [] {
        matmul(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}, DType::i32));
    });
}

TEST(Linear, BadArgumentsNameTheValues) {
    expect_error("linear: input (4, 5) has 5 features, weight (3, 4) expects 4", [] {
        linear(Tensor::zeros({4, 5}), Tensor::zeros({3, 4}));
    });
    expect_error("linear: weight must be 2-D (out, in), got shape (3, 4, 1)", [] {
        linear(Tensor::zeros({4, 4}), Tensor::zeros({3, 4, 1}));
    });
    expect_error("linear: bias has shape (4,), expected (3,)", [] {
        linear(Tensor::zeros({2, 4}), Tensor::zeros({3, 4}), Tensor::zeros({4}));
    });
    expect_error("linear: input must have at least 1 dimension", [] {
        linear(Tensor::scalar(1.f), Tensor::zeros({3, 1}));
    });
    expect_error("linear: input must be f32, got u8", [] {
        linear(Tensor::zeros({2, 4}, DType::u8), Tensor::zeros({3, 4}));
    });
}

} // namespace
} // namespace pg
