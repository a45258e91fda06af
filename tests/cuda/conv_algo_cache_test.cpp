// The cuDNN algorithm cache (cuda/conv_algo_cache.h): on the CPU, its bookkeeping (one choice per
// key, every key field counts, hits and misses, a failed choice is not cached); on a GPU, that
// repeated convolutions reuse the choice, that an exhaustive search agrees with the heuristics and
// that deterministic mode is bitwise repeatable.
#include <stdexcept>

#include "autograd/ops.h"
#include "cuda/conv_algo_cache.h"
#include "cuda/settings.h"
#include "tensor/backend.h"
#include "tests/common/test_util.h"

namespace pg::cuda {
namespace {

ConvGeometry small_geometry() {
    // x (2, 9, 9, 8), w (16, 3, 3, 8), stride 1, pad 1 -> y (2, 9, 9, 16)
    return ConvGeometry{2, 9, 9, 8, 16, 3, 3, 9, 9, 1, 1, 1, 1, 1, 1, 1};
}

ConvAlgoKey small_key() {
    ConvAlgoKey key;
    key.pass = ConvPass::forward;
    key.g = small_geometry();
    key.allow_tf32 = false;
    key.deterministic = false;
    key.exhaustive_search = false;
    key.workspace_cap = size_t(1) << 30;
    return key;
}

TEST(ConvAlgoCache, ChoosesOncePerKeyAndCountsHits) {
    ConvAlgoCache cache;
    int calls = 0;
    auto choose = [&] {
        calls++;
        return ConvAlgoChoice{calls, 3, 4096};
    };
    ConvAlgoChoice first = cache.get(small_key(), choose);
    ConvAlgoChoice again = cache.get(small_key(), choose);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(first.algo, 1);
    EXPECT_EQ(again.algo, 1);
    EXPECT_EQ(again.math_type, 3);
    EXPECT_EQ(again.workspace, 4096u);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.hits(), 1u);
    EXPECT_EQ(cache.misses(), 1u);
    cache.clear();
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.hits(), 0u);
    cache.get(small_key(), choose);
    EXPECT_EQ(calls, 2);
}

// Changing any one field of the key (each geometry field, the pass, each setting) is a new entry.
TEST(ConvAlgoCache, EveryKeyFieldMatters) {
    std::vector<ConvAlgoKey> keys(1, small_key());
    int64_t ConvGeometry::*fields[] = {
        &ConvGeometry::N,        &ConvGeometry::H,          &ConvGeometry::W,
        &ConvGeometry::C,        &ConvGeometry::K,          &ConvGeometry::R,
        &ConvGeometry::S,        &ConvGeometry::P,          &ConvGeometry::Q,
        &ConvGeometry::stride_h, &ConvGeometry::stride_w,   &ConvGeometry::pad_h,
        &ConvGeometry::pad_w,    &ConvGeometry::dilation_h, &ConvGeometry::dilation_w,
        &ConvGeometry::groups};
    for (auto field : fields) {
        ConvAlgoKey k = small_key();
        k.g.*field += 1;
        keys.push_back(k);
    }
    for (ConvPass pass : {ConvPass::backward_data, ConvPass::backward_filter}) {
        ConvAlgoKey k = small_key();
        k.pass = pass;
        keys.push_back(k);
    }
    ConvAlgoKey k = small_key();
    k.allow_tf32 = true;
    keys.push_back(k);
    k = small_key();
    k.deterministic = true;
    keys.push_back(k);
    k = small_key();
    k.exhaustive_search = true;
    keys.push_back(k);
    k = small_key();
    k.workspace_cap = 1 << 20;
    keys.push_back(k);

    ConvAlgoCache cache;
    int calls = 0;
    for (const ConvAlgoKey& key : keys)
        cache.get(key, [&] { return ConvAlgoChoice{calls++, 0, 0}; });
    EXPECT_EQ(cache.size(), keys.size());
    EXPECT_EQ(calls, int(keys.size()));
    for (size_t i = 0; i < keys.size(); i++) // every one is found again, with its own choice
        EXPECT_EQ(cache.get(keys[i], [] { return ConvAlgoChoice{-1, 0, 0}; }).algo, int(i));
    EXPECT_EQ(cache.hits(), keys.size());
}

TEST(ConvAlgoCache, AFailedChoiceIsNotCached) {
    ConvAlgoCache cache;
    EXPECT_THROW(cache.get(small_key(), []() -> ConvAlgoChoice { throw std::runtime_error("x"); }),
                 std::runtime_error);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.get(small_key(), [] { return ConvAlgoChoice{5, 0, 0}; }).algo, 5);
}

// ---- on a GPU ----

// Restores the global CUDA settings when a test ends.
class GpuConv : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!device_available(Device::cuda(0))) {
            if (test::gpu_required()) FAIL() << "PG_REQUIRE_GPU=1 but no CUDA device";
            GTEST_SKIP() << "no CUDA device";
        }
        saved_ = settings();
        settings().allow_tf32 = false;
    }
    void TearDown() override {
        if (device_available(Device::cuda(0))) settings() = saved_;
    }
    Settings saved_;
};

TEST_F(GpuConv, RepeatedCallsHitTheCache) {
    Generator gen(3);
    Tensor x = Tensor::uniform({2, 9, 9, 8}, gen, -1.f, 1.f, Device::cuda(0));
    Tensor w = Tensor::uniform({16, 3, 3, 8}, gen, -1.f, 1.f, Device::cuda(0));
    conv_algo_cache().clear();
    Tensor y1 = conv2d(x, w, Tensor(), 1, 1);
    const size_t size = conv_algo_cache().size(), misses = conv_algo_cache().misses();
    EXPECT_EQ(size, 1u);
    Tensor y2 = conv2d(x, w, Tensor(), 1, 1);
    EXPECT_EQ(conv_algo_cache().size(), size);
    EXPECT_EQ(conv_algo_cache().misses(), misses);
    EXPECT_GE(conv_algo_cache().hits(), 1u);
    EXPECT_TRUE(test::all_equal(y1, y2));
}

TEST_F(GpuConv, ExhaustiveSearchAgreesWithHeuristicsAndCpu) {
    Generator gen(4);
    Tensor x = Tensor::uniform({2, 17, 13, 12}, gen, -1.f, 1.f);
    Tensor w = Tensor::uniform({8, 3, 3, 6}, gen, -1.f, 1.f);
    Tensor b = Tensor::uniform({8}, gen, -1.f, 1.f);
    Tensor expected = conv2d(x, w, b, 2, 2, 2, 2);
    Tensor xg = x.to(Device::cuda(0)), wg = w.to(Device::cuda(0)), bg = b.to(Device::cuda(0));
    Tensor heuristic = conv2d(xg, wg, bg, 2, 2, 2, 2);
    settings().exhaustive_search = true;
    Tensor searched = conv2d(xg, wg, bg, 2, 2, 2, 2);
    EXPECT_TRUE(test::all_close(heuristic, expected, 1e-4f, 1e-4f));
    EXPECT_TRUE(test::all_close(searched, expected, 1e-4f, 1e-4f));
}

// Deterministic mode: the weight gradient (the pass whose fast algorithms use atomics) is the
// same bits on every run.
TEST_F(GpuConv, DeterministicWeightGradientIsRepeatable) {
    settings().deterministic = true;
    Generator gen(5);
    ConvGeometry g{4, 33, 33, 32, 32, 3, 3, 33, 33, 1, 1, 1, 1, 1, 1, 1};
    Tensor x = Tensor::uniform({g.N, g.H, g.W, g.C}, gen, -1.f, 1.f, Device::cuda(0));
    Tensor dy = Tensor::uniform({g.N, g.P, g.Q, g.K}, gen, -1.f, 1.f, Device::cuda(0));
    Tensor dw1 = Tensor::empty({g.K, g.R, g.S, g.C}, DType::f32, Device::cuda(0));
    Tensor dw2 = Tensor::empty({g.K, g.R, g.S, g.C}, DType::f32, Device::cuda(0));
    Backend& be = backend_for(Device::cuda(0));
    be.conv2d_backward_weight(dw1.f32(), dy.f32(), x.f32(), g);
    be.conv2d_backward_weight(dw2.f32(), dy.f32(), x.f32(), g);
    EXPECT_TRUE(test::all_equal(dw1, dw2));
}

} // namespace
} // namespace pg::cuda
