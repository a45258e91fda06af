// gradcheck itself: it must pass correct gradients and catch wrong ones.
#include "autograd/ops.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

// y = x^2 with a deliberately wrong backward (3x instead of 2x).
Tensor wrong_square(const Tensor& x) {
    Tensor y = Tensor::empty(x.shape());
    {
        NoGradGuard no_grad;
        y = x * x;
    }
    SavedTensor saved(x);
    record("wrong_square", {x}, {y}, [=](const std::vector<Tensor>& g, const std::vector<bool>&) {
        return std::vector<Tensor>{g[0] * saved.get() * 3.f};
    });
    return y;
}

TEST(Gradcheck, CatchesAWrongBackward) {
    Generator gen(1);
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return wrong_square(in[0]); },
                                  {test::random_leaf({4}, gen, 0.5f, 1.f)});
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.message.find("analytic"), std::string::npos) << r.message;
    EXPECT_GT(r.max_abs_error, 0.4);
}

TEST(Gradcheck, PassesACorrectBackwardAndIgnoresConstants) {
    Generator gen(2);
    Tensor constant = test::random_tensor({4}, gen);
    GradcheckResult r =
        gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0] * in[1]; },
                  {test::random_leaf({4}, gen), constant});
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_LT(r.max_abs_error, 1e-3);
}

} // namespace
} // namespace pg
