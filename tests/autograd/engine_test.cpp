// The backward engine: chain rule, shared subgraphs, accumulation into .grad, no_grad, detach,
// retain_graph, freeing of saved tensors, the first gradient kept without a copy, gradients summed
// in place only when unshared, in-place misuse,
// non-scalar roots, errors.
#include "autograd/engine.h"
#include "autograd/ops.h"
#include "tensor/error.h"
#include "tensor/profiler.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::error_of;

using test::all_close;

Tensor leaf(std::vector<float> v) {
    Tensor t = Tensor::from_vector(v, {int64_t(v.size())});
    t.set_requires_grad(true);
    return t;
}

TEST(Engine, ChainRuleThroughSharedSubgraphs) {
    // y = sum(a*b + a*a): dy/da = b + 2a, dy/db = a. `a` feeds three places.
    Tensor a = leaf({1, 2, 3}), b = leaf({4, 5, 6});
    Tensor y = sum(a * b + a * a);
    EXPECT_TRUE(y.requires_grad());
    EXPECT_FALSE(y.is_leaf());
    backward(y);
    EXPECT_EQ(a.grad().to_f32_vector(), (std::vector<float>{6, 9, 12}));
    EXPECT_EQ(b.grad().to_f32_vector(), (std::vector<float>{1, 2, 3}));
}

TEST(Engine, DiamondGraphSumsBothPaths) {
    // h = 2x; y = sum(h * h + h): dy/dx = 2 (2h + 1) = 8x + 2.
    Tensor x = leaf({1, -1});
    Tensor h = x * 2.f;
    backward(sum(h * h + h));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{10, -6}));
}

TEST(Engine, GradientsAccumulateAcrossBackwardCalls) {
    Tensor x = leaf({1, 2});
    backward(sum(x * 3.f));
    backward(sum(x * x));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{5, 7})); // 3 + 2x
    x.set_grad(Tensor());
    backward(sum(x));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{1, 1}));
}

// Records what the engine tells it: which leaves the pass reaches, and each leaf as it finishes
// with the .grad it then has.
struct Recorder final : BackwardObserver {
    std::vector<Tensor> leaves;
    std::vector<bool> reached;
    std::vector<std::vector<float>> finished; // .grad of each leaf_done, in order
    std::vector<const TensorImpl*> order;
    int passes = 0;
    void begin(const std::function<bool(const Tensor&)>& reaches) override {
        passes++;
        reached.clear();
        for (const Tensor& t : leaves) reached.push_back(reaches(t));
    }
    void leaf_done(const Tensor& leaf) override {
        order.push_back(leaf.impl());
        finished.push_back(leaf.grad().to_f32_vector());
    }
};

TEST(Engine, AnObserverSeesWhichLeavesAPassReachesAndEachGradientOnceFinal) {
    // b feeds two paths: its leaf is done once, with both summed.
    Tensor a = leaf({1, 2}), b = leaf({3, 4}), unused = leaf({5});
    Recorder rec;
    rec.leaves = {a, b, unused};
    (void)sum(unused * 2.f); // a graph for `unused` that the observed pass does not reach
    observe_next_backward(&rec);
    backward(sum(a * b + b * 3.f));
    EXPECT_EQ(rec.passes, 1);
    EXPECT_EQ(rec.reached, (std::vector<bool>{true, true, false}));
    ASSERT_EQ(rec.order.size(), 2u);
    for (size_t i = 0; i < 2; i++) {
        const bool is_a = rec.order[i] == a.impl();
        EXPECT_EQ(rec.finished[i], is_a ? (std::vector<float>{3, 4}) : (std::vector<float>{4, 5}));
    }
    EXPECT_NE(rec.order[0], rec.order[1]);
    // Only the next pass is observed.
    backward(sum(a * 2.f));
    EXPECT_EQ(rec.passes, 1);
    EXPECT_EQ(rec.order.size(), 2u);
}

TEST(Engine, NonScalarRootNeedsAGradient) {
    Tensor x = leaf({1, 2, 3});
    Tensor y = x * x;
    EXPECT_NE(error_of([&] { backward(y); }).find("a gradient must be given"), std::string::npos);
    backward(y, Tensor::from_vector(std::vector<float>{1, 0, 2}, {3}));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{2, 0, 12}));
    EXPECT_THROW(backward(x * 2.f, Tensor::ones({2})), Error);
}

TEST(Engine, NoGradAndDetachCutTheGraph) {
    Tensor x = leaf({1, 2});
    {
        NoGradGuard no_grad;
        Tensor y = x * 2.f;
        EXPECT_FALSE(y.requires_grad());
    }
    EXPECT_TRUE(grad_mode_enabled());
    Tensor d = x.detach();
    EXPECT_FALSE(d.requires_grad());
    Tensor y = sum(x * d); // d is a constant: dy/dx = d
    backward(y);
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{1, 2}));
    EXPECT_NE(error_of([&] { backward(sum(d * 2.f)); }).find("does not require grad"),
              std::string::npos);
}

TEST(Engine, RetainGraphAllowsASecondBackward) {
    Tensor x = leaf({2});
    Tensor y = sum(x * x * x);
    backward(y, Tensor(), /*retain_graph=*/true);
    backward(y);
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{24})); // 2 * 3x^2
    std::string message = error_of([&] { backward(y); });
    EXPECT_NE(message.find("retain_graph"), std::string::npos) << message;
}

TEST(Engine, SavedTensorsAreFreedAfterTheirNodeRuns) {
    Tensor x = leaf({1, 2, 3});
    Tensor w = Tensor::ones({3}) * 5.f; // saved by the mul below
    std::weak_ptr<Storage> watch = w.impl()->storage;
    Tensor y = sum(x * w);
    w = Tensor(); // now only the graph keeps w alive
    EXPECT_FALSE(watch.expired());
    backward(y);
    EXPECT_TRUE(watch.expired()) << "mul's saved tensor outlived its backward";
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{5, 5, 5}));
}

TEST(Engine, InPlaceWriteToASavedTensorIsCaught) {
    Tensor x = leaf({1, 2});
    Tensor w = Tensor::from_vector(std::vector<float>{3, 4}, {2});
    Tensor y = sum(x * w); // saves w
    mul_(w, 2.f);
    std::string message = error_of([&] { backward(y); });
    EXPECT_NE(message.find("modified in place"), std::string::npos) << message;
    EXPECT_NE(message.find("saved at version 0, now version 1"), std::string::npos) << message;
}

TEST(Engine, InPlaceOnAGradTensorIsRefused) {
    Tensor x = leaf({1, 2});
    Tensor y = x * 2.f;
    EXPECT_NE(error_of([&] { fill_(y, 0.0); }).find("requires grad"), std::string::npos);
}

TEST(Engine, OutputsSavedByTheirOwnNodeDoNotLeak) {
    // sigmoid saves its output; the output holds the node; the node holds an alias only.
    std::weak_ptr<Node> node;
    {
        Tensor x = leaf({0.5f});
        Tensor y = sigmoid(x);
        node = y.grad_fn();
        EXPECT_FALSE(node.expired());
    }
    EXPECT_TRUE(node.expired());
}

TEST(Engine, LeafGradientDoesNotAliasGraphTensors) {
    Tensor x = leaf({1, 2});
    Tensor g = Tensor::from_vector(std::vector<float>{1, 1}, {2});
    backward(x * 1.f, g);
    EXPECT_FALSE(x.grad().same_storage(g));
}

TEST(Engine, FirstGradientIsKeptWhenNothingElseHoldsIt) {
    // mul's backward makes a fresh tensor only the engine holds: it becomes .grad, no copy kernel.
    Tensor x = leaf({1, 2, 3});
    Tensor y = sum(x * 3.f);
    profiler::reset();
    profiler::enable(true);
    backward(y);
    profiler::enable(false);
    for (const profiler::OpStat& op : profiler::snapshot()) EXPECT_NE(op.name, "copy");
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{3, 3, 3}));
    // add's backward hands the same tensor to both inputs: each .grad gets its own memory.
    Tensor a = leaf({1, 2}), b = leaf({3, 4});
    backward(a + b, Tensor::from_vector(std::vector<float>{1, 1}, {2}));
    EXPECT_FALSE(a.grad().same_storage(b.grad()));
    {
        NoGradGuard no_grad;
        mul_(a.grad(), 5.f);
    }
    EXPECT_EQ(b.grad().to_f32_vector(), (std::vector<float>{1, 1}));
}

TEST(Engine, GradientsThatMeetAreSummedInPlaceOnlyWhenNothingElseHoldsThem) {
    // add's backward hands the caller's seed g to both uses of h: the sum at h must be a new tensor
    // (g is the caller's, and the other edge's), and g keeps its values.
    Tensor x = leaf({1, 2});
    Tensor h = x * 1.f;
    Tensor g = Tensor::from_vector(std::vector<float>{1, 2}, {2});
    backward(h + h, g);
    EXPECT_EQ(g.to_f32_vector(), (std::vector<float>{1, 2}));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{2, 4}));
    // A gradient of h's own (mul's fresh tensor) meeting another: summed into it, same values.
    Tensor a = leaf({1, 2, 3});
    Tensor k = a * 2.f;
    backward(sum(k * 3.f + k * k + k));
    EXPECT_EQ(a.grad().to_f32_vector(),
              (std::vector<float>{2 * (3 + 2 * 2 + 1), 2 * (3 + 2 * 4 + 1), 2 * (3 + 2 * 6 + 1)}));
}

TEST(Engine, BackwardsWriteIntoTheIncomingGradientOnlyWhenNothingElseHoldsIt) {
    // relu, add_relu and batch_norm's backwards may put their result in dy's memory
    // (autograd/op_util.h gradient_like). The caller's seed is held by the caller: never written.
    Tensor x = leaf({-1, 2, -3, 4});
    Tensor seed = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {4});
    backward(relu(x), seed);
    EXPECT_EQ(seed.to_f32_vector(), (std::vector<float>{1, 2, 3, 4}));
    EXPECT_EQ(x.grad().to_f32_vector(), (std::vector<float>{0, 2, 0, 4}));
    // Chained: the outer relu's fresh dx reaches the inner one, which reuses it; add_relu hands
    // one tensor to both inputs, which then must not be reused by either.
    Tensor a = leaf({-1, 2, -3, 4}), b = leaf({2, -1, 1, 1});
    backward(sum(relu(relu(add_relu(a, b)) * 3.f)));
    EXPECT_EQ(a.grad().to_f32_vector(), (std::vector<float>{3, 3, 0, 3}));
    EXPECT_EQ(b.grad().to_f32_vector(), (std::vector<float>{3, 3, 0, 3}));
    // batch_norm + ReLU over (rows 2, C 2) in training: the seed stays as it was.
    Tensor xb = Tensor::from_vector(std::vector<float>{1, 2, 3, 5}, {1, 1, 2, 2});
    xb.set_requires_grad(true);
    Tensor dy = Tensor::from_vector(std::vector<float>{1, -1, 2, 1}, {1, 1, 2, 2});
    backward(batch_norm_relu(xb, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1f, 1e-5f), dy);
    EXPECT_EQ(dy.to_f32_vector(), (std::vector<float>{1, -1, 2, 1}));
}

TEST(Engine, IntegerTensorsCannotRequireGrad) {
    Tensor labels = Tensor::zeros({2}, DType::i32);
    EXPECT_THROW(labels.set_requires_grad(true), Error);
    Tensor y = leaf({1}) * 2.f;
    EXPECT_THROW(y.set_requires_grad(false), Error); // not a leaf
}

TEST(Engine, UnusedBranchesGetNoGradient) {
    Tensor a = leaf({1, 2}), b = leaf({3, 4});
    Tensor used = a * 2.f;
    Tensor unused = b * 2.f;
    (void)unused;
    backward(sum(used));
    EXPECT_TRUE(a.grad().defined());
    EXPECT_FALSE(b.grad().defined());
}

} // namespace
} // namespace pg
