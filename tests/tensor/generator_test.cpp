// The Philox generator: reproducibility from the seed, counter bookkeeping, distributions.
#include <cmath>
#include <set>

#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

TEST(Generator, PhiloxMatchesTheRandom123KnownAnswer) {
    // Known-answer test of Philox4x32-10 from the Random123 suite: counter 0, key 0.
    PhiloxBlock b = philox4x32(0, 0);
    EXPECT_EQ(b.v[0], 0x6627e8d5u);
    EXPECT_EQ(b.v[1], 0xe169c58du);
    EXPECT_EQ(b.v[2], 0xbc57ac4cu);
    EXPECT_EQ(b.v[3], 0x9b00dbd8u);
}

TEST(Generator, SameSeedSameStream) {
    Generator a(42), b(42), c(43);
    std::vector<uint32_t> va, vb, vc;
    for (int i = 0; i < 10; i++)
        va.push_back(a.next_u32()), vb.push_back(b.next_u32()), vc.push_back(c.next_u32());
    EXPECT_EQ(va, vb);
    EXPECT_NE(va, vc);
}

TEST(Generator, FillsReserveCountersSoLaterDrawsDiffer) {
    Generator g(5);
    Tensor first = Tensor::uniform({10}, g);
    EXPECT_EQ(g.offset(), 3u); // ceil(10 / 4) blocks
    Tensor second = Tensor::uniform({10}, g);
    EXPECT_NE(first.to_f32_vector(), second.to_f32_vector());
    Generator replay(5);
    replay.set_state(5, 3);
    EXPECT_EQ(Tensor::uniform({10}, replay).to_f32_vector(), second.to_f32_vector());
}

TEST(Generator, ElementIIsAPureFunctionOfItsCounter) {
    Generator g(11);
    std::vector<float> v = Tensor::uniform({9}, g).to_f32_vector();
    for (uint64_t i = 0; i < 9; i++) EXPECT_EQ(v[i], philox_uniform(11, 0, i));
}

TEST(Generator, UniformAndNormalMoments) {
    Generator g(1);
    std::vector<float> u = Tensor::uniform({200000}, g, 2.f, 4.f).to_f32_vector();
    std::vector<float> n = Tensor::normal({200000}, g, 1.f, 3.f).to_f32_vector();
    double su = 0, sn = 0, sn2 = 0;
    float lo = 10, hi = -10;
    for (float x : u) su += x, lo = std::min(lo, x), hi = std::max(hi, x);
    for (float x : n) sn += x, sn2 += double(x) * x;
    EXPECT_NEAR(su / u.size(), 3.0, 0.01);
    EXPECT_GE(lo, 2.f);
    EXPECT_LT(hi, 4.f);
    double mean = sn / n.size();
    EXPECT_NEAR(mean, 1.0, 0.03);
    EXPECT_NEAR(std::sqrt(sn2 / n.size() - mean * mean), 3.0, 0.03);
}

TEST(Generator, RandintCoversTheRangeUniformly) {
    Generator g(3);
    std::vector<int> counts(6, 0);
    for (int i = 0; i < 60000; i++) counts[size_t(g.randint(0, 6))]++;
    for (int c : counts) EXPECT_NEAR(c, 10000, 400);
    EXPECT_THROW(g.randint(3, 3), Error);
}

} // namespace
} // namespace pg
