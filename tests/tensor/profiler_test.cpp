// The per-kernel profiler (tensor/profiler.h): nothing recorded while disabled or on other
// threads; exact call counts and FLOPs of convolution and GEMM through the public ops; reset;
// the printed table (names, rates, shares summing to 100%); identical results with it on and off.
#include <sstream>
#include <string>
#include <thread>

#include "autograd/ops.h"
#include "tensor/profiler.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::all_equal;
using test::random_tensor;

// Every test starts and ends with the profiler off and empty, whatever it asserted.
class Profiler : public ::testing::Test {
  protected:
    void SetUp() override {
        profiler::enable(false);
        profiler::reset();
    }
    void TearDown() override {
        profiler::enable(false);
        profiler::reset();
    }
};

// The stat named `name` in a snapshot; calls == 0 when absent.
profiler::OpStat find(const std::vector<profiler::OpStat>& stats, const std::string& name) {
    for (const profiler::OpStat& s : stats)
        if (s.name == name) return s;
    return profiler::OpStat{};
}

TEST_F(Profiler, DisabledRecordsNothing) {
    Generator gen(1);
    Tensor x = random_tensor({1, 5, 5, 3}, gen), w = random_tensor({4, 3, 3, 3}, gen);
    EXPECT_FALSE(profiler::enabled());
    Tensor y = relu(conv2d(x, w));
    EXPECT_TRUE(profiler::snapshot().empty());
    // Stopped again after a profiled call: later calls are not added.
    profiler::enable(true);
    y = conv2d(x, w);
    profiler::enable(false);
    y = conv2d(x, w);
    EXPECT_EQ(find(profiler::snapshot(), "conv2d_forward").calls, 1);
}

TEST_F(Profiler, Conv2dForwardIsOneCallWithExactFlops) {
    Generator gen(2);
    // x (N 2, H 9, W 7, C 6), w (K 8, R 3, S 3, C/groups 3), groups 2, stride 2, padding 1:
    // P = (9 + 2 - 3) / 2 + 1 = 5, Q = (7 + 2 - 3) / 2 + 1 = 4.
    Tensor x = random_tensor({2, 9, 7, 6}, gen), w = random_tensor({8, 3, 3, 3}, gen);
    Tensor b = random_tensor({8}, gen);
    profiler::enable(true);
    Tensor y = conv2d(x, w, b, /*stride=*/2, /*padding=*/1, /*dilation=*/1, /*groups=*/2);
    profiler::enable(false);
    ASSERT_EQ(y.shape(), (Shape{2, 5, 4, 8}));
    std::vector<profiler::OpStat> stats = profiler::snapshot();
    ASSERT_EQ(stats.size(), 1u) << profiler::format_table(stats); // the bias is inside the kernel
    EXPECT_EQ(stats[0].name, "conv2d_forward");
    EXPECT_EQ(stats[0].calls, 1);
    EXPECT_GE(stats[0].total_ns, 0);
    // 2 N P Q K R S (C / groups) = 2 * 2*5*4 * 8*3*3 * 3.
    EXPECT_EQ(stats[0].flops, 2.0 * 2 * 5 * 4 * 8 * 3 * 3 * 3);
    // x + w + y, f32.
    EXPECT_EQ(stats[0].bytes, 4.0 * (2 * 9 * 7 * 6 + 8 * 3 * 3 * 3 + 2 * 5 * 4 * 8));
}

TEST_F(Profiler, Conv2dBackwardsCountTheSameFlops) {
    Generator gen(3);
    Tensor x = random_tensor({1, 6, 6, 4}, gen).set_requires_grad(true);
    Tensor w = random_tensor({5, 3, 3, 4}, gen).set_requires_grad(true);
    Tensor y = conv2d(x, w, Tensor(), 1, 1); // (1, 6, 6, 5)
    Tensor loss = sum(y);
    profiler::enable(true);
    backward(loss);
    profiler::enable(false);
    std::vector<profiler::OpStat> stats = profiler::snapshot();
    const double flops = 2.0 * 1 * 6 * 6 * 5 * 3 * 3 * 4;
    for (const char* name : {"conv2d_backward_input", "conv2d_backward_weight"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(find(stats, name).calls, 1);
        EXPECT_EQ(find(stats, name).flops, flops);
    }
    EXPECT_EQ(find(stats, "conv2d_forward").calls, 0);
}

TEST_F(Profiler, MatmulAndLinearRecordGemmFlops) {
    Generator gen(4);
    // Batched matmul (3, 4, 5) x (5, 6): one GEMM call of batch 3, 2 * M N K * batch FLOPs.
    Tensor a = random_tensor({3, 4, 5}, gen), b = random_tensor({5, 6}, gen);
    // linear: x (7, 5), W (6, 5), bias (6,): a (7, 6, 5) GEMM, then the bias added to every row.
    Tensor x = random_tensor({7, 5}, gen), w = random_tensor({6, 5}, gen);
    Tensor bias = random_tensor({6}, gen);
    profiler::enable(true);
    Tensor c = matmul(a, b);
    std::vector<profiler::OpStat> stats = profiler::snapshot();
    ASSERT_EQ(stats.size(), 1u) << profiler::format_table(stats);
    EXPECT_EQ(stats[0].name, "gemm");
    EXPECT_EQ(stats[0].calls, 1);
    EXPECT_EQ(stats[0].flops, 2.0 * 4 * 6 * 5 * 3);
    Tensor y = linear(x, w, bias);
    profiler::enable(false);
    stats = profiler::snapshot();
    EXPECT_EQ(find(stats, "gemm").calls, 2);
    EXPECT_EQ(find(stats, "gemm").flops, 2.0 * 4 * 6 * 5 * 3 + 2.0 * 7 * 6 * 5);
    // The bias add: y (7, 6) read and written, bias (6,) read.
    EXPECT_EQ(find(stats, "add").calls, 1);
    EXPECT_EQ(find(stats, "add").flops, 0.0);
    EXPECT_EQ(find(stats, "add").bytes, 4.0 * (42 + 42 + 6));
}

TEST_F(Profiler, ResetClearsAndRecordingGoesOn) {
    Generator gen(5);
    Tensor x = random_tensor({4, 8}, gen);
    profiler::enable(true);
    Tensor y = relu(x);
    EXPECT_EQ(find(profiler::snapshot(), "relu_forward").calls, 1);
    profiler::reset();
    EXPECT_TRUE(profiler::snapshot().empty());
    EXPECT_TRUE(profiler::enabled()); // reset does not stop it
    y = sigmoid(x);
    std::vector<profiler::OpStat> stats = profiler::snapshot();
    ASSERT_EQ(stats.size(), 1u);
    EXPECT_EQ(stats[0].name, "sigmoid_forward");
    EXPECT_EQ(stats[0].bytes, 4.0 * 2 * 32);
}

TEST_F(Profiler, OnlyTheEnablingThreadIsRecorded) {
    Generator gen(6);
    Tensor x = random_tensor({16, 16}, gen);
    profiler::enable(true);
    std::thread worker([&] {
        EXPECT_FALSE(profiler::recording_on_this_thread());
        Tensor y = exp(x); // a data-loader style kernel on another thread
    });
    worker.join();
    EXPECT_TRUE(profiler::recording_on_this_thread());
    EXPECT_TRUE(profiler::snapshot().empty());
    Tensor y = exp(x);
    EXPECT_EQ(find(profiler::snapshot(), "exp_forward").calls, 1);
}

// The share column of every kernel row of a table (between the two rules).
std::vector<double> shares(const std::string& table) {
    std::vector<double> out;
    std::istringstream lines(table);
    std::string line;
    int rules = 0;
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] == '-') {
            rules++;
            continue;
        }
        if (rules != 1) continue;
        std::istringstream words(line);
        std::string word;
        while (words >> word)
            if (word.back() == '%') out.push_back(std::stod(word));
    }
    return out;
}

TEST_F(Profiler, TableHasNamesRatesAndSharesThatSumTo100) {
    // By hand: flops per ns is GFLOP/s, bytes per ns GB/s.
    std::vector<profiler::OpStat> stats = {
        {"conv2d_forward", 4, 6'000'000, 24e9, 1e6}, // 4000 GFLOP/s (flops win over bytes)
        {"add", 10, 3'000'000, 0, 15e6},             // 5 GB/s (below 10: two decimals)
        {"segment_sum", 2, 1'000'000, 0, 0},         // nothing known: "-"
    };
    std::string table = profiler::format_table(stats);
    for (const char* text : {"kernel", "calls", "total ms", "ms/call", "share", "conv2d_forward",
                             "4000.0 GFLOP/s", "5.00 GB/s", "segment_sum", "total"})
        EXPECT_NE(table.find(text), std::string::npos) << text << " missing from\n" << table;
    std::vector<double> s = shares(table);
    ASSERT_EQ(s.size(), 3u) << table;
    EXPECT_NEAR(s[0], 60.0, 0.05);
    EXPECT_NEAR(s[0] + s[1] + s[2], 100.0, 0.15);
    // "6.000" total ms and "1.5000" ms/call of the conv row.
    EXPECT_NE(table.find("6.000"), std::string::npos) << table;
    EXPECT_NE(table.find("1.5000"), std::string::npos) << table;

    // max_rows folds the tail into one row; the wall time adds a coverage line.
    std::string short_table = profiler::format_table(stats, 1, 20.0);
    EXPECT_NE(short_table.find("(2 others)"), std::string::npos) << short_table;
    EXPECT_EQ(short_table.find("segment_sum"), std::string::npos) << short_table;
    EXPECT_NE(short_table.find("10.0 ms of 20.0 ms wall (50.0%)"), std::string::npos)
        << short_table;
    std::vector<double> s2 = shares(short_table);
    ASSERT_EQ(s2.size(), 2u) << short_table;
    EXPECT_NEAR(s2[0] + s2[1], 100.0, 0.15);
}

TEST_F(Profiler, TableOfARealRunSharesSumTo100) {
    Generator gen(7);
    Tensor x = random_tensor({2, 8, 8, 3}, gen), w = random_tensor({4, 3, 3, 3}, gen);
    profiler::enable(true);
    Tensor y = sum(max_pool2d(relu(conv2d(x, w, Tensor(), 1, 1)), 2, 2));
    profiler::enable(false);
    std::vector<profiler::OpStat> stats = profiler::snapshot();
    std::string table = profiler::format_table(stats);
    for (const char* name : {"conv2d_forward", "relu_forward", "max_pool2d_forward", "reduce_sum"})
        EXPECT_EQ(find(stats, name).calls, 1) << name << "\n" << table;
    for (size_t i = 1; i < stats.size(); i++) EXPECT_GE(stats[i - 1].total_ns, stats[i].total_ns);
    std::vector<double> s = shares(table);
    ASSERT_EQ(s.size(), stats.size()) << table;
    double total = 0;
    for (double v : s) total += v;
    // Each share is rounded to 0.1%.
    EXPECT_NEAR(total, 100.0, 0.05 * double(s.size()) + 1e-9) << table;
}

// A small training step: conv -> batch norm -> relu -> max pool -> linear -> cross-entropy,
// forward and backward. Returns the loss and every gradient.
std::vector<Tensor> train_step(uint64_t seed) {
    Generator gen(seed);
    Tensor x = random_tensor({2, 8, 8, 3}, gen).set_requires_grad(true);
    Tensor w1 = random_tensor({4, 3, 3, 3}, gen).set_requires_grad(true);
    Tensor b1 = random_tensor({4}, gen).set_requires_grad(true);
    Tensor gamma = random_tensor({4}, gen, 0.5f, 1.5f).set_requires_grad(true);
    Tensor beta = random_tensor({4}, gen).set_requires_grad(true);
    Tensor w2 = random_tensor({5, 64}, gen).set_requires_grad(true);
    Tensor b2 = random_tensor({5}, gen).set_requires_grad(true);
    Tensor target = Tensor::from_vector(std::vector<int32_t>{3, 1}, {2});
    Tensor h = conv2d(x, w1, b1, 1, 1); // (2, 8, 8, 4)
    h = max_pool2d(relu(batch_norm(h, gamma, beta, Tensor(), Tensor(), true)), 2,
                   2);                                   // (2, 4, 4, 4)
    Tensor logits = linear(reshape(h, {2, 64}), w2, b2); // (2, 5)
    Tensor loss = cross_entropy(logits, target);
    backward(loss);
    return {loss, x.grad(), w1.grad(), b1.grad(), gamma.grad(), beta.grad(), w2.grad(), b2.grad()};
}

TEST_F(Profiler, ResultsAreIdenticalWithProfilingOnAndOff) {
    std::vector<Tensor> off = train_step(8);
    profiler::enable(true);
    std::vector<Tensor> on = train_step(8);
    profiler::enable(false);
    ASSERT_EQ(on.size(), off.size());
    for (size_t i = 0; i < on.size(); i++) EXPECT_TRUE(all_equal(on[i], off[i])) << "output " << i;
    std::vector<profiler::OpStat> stats = profiler::snapshot();
    for (const char* name : {"conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
                             "batch_norm_forward_train", "batch_norm_backward",
                             "max_pool2d_backward", "cross_entropy_forward", "gemm"})
        EXPECT_GE(find(stats, name).calls, 1) << name << "\n" << profiler::format_table(stats);
}

// On every device: one kernel call is one record, with the exact FLOPs, and the profiled result is
// bit-identical to the plain one (on CUDA this runs the synchronize-before-stop path).
class ProfilerDevice : public test::DeviceTest {
  protected:
    void TearDown() override {
        profiler::enable(false);
        profiler::reset();
    }
};

TEST_P(ProfilerDevice, RecordsDeviceKernelsAndKeepsResults) {
    Generator gen(9);
    Tensor x = random_tensor({2, 7, 7, 4}, gen).to(device());
    Tensor w = random_tensor({6, 3, 3, 4}, gen).to(device());
    Tensor plain = relu(conv2d(x, w, Tensor(), 1, 1)); // (2, 7, 7, 6)
    profiler::reset();
    profiler::enable(true);
    Tensor profiled = relu(conv2d(x, w, Tensor(), 1, 1));
    profiler::enable(false);
    std::vector<profiler::OpStat> stats = profiler::snapshot();
    ASSERT_EQ(stats.size(), 2u) << profiler::format_table(stats);
    EXPECT_EQ(find(stats, "conv2d_forward").calls, 1);
    EXPECT_EQ(find(stats, "conv2d_forward").flops, 2.0 * 2 * 7 * 7 * 6 * 3 * 3 * 4);
    EXPECT_EQ(find(stats, "relu_forward").calls, 1);
    EXPECT_EQ(find(stats, "relu_forward").bytes, 4.0 * 2 * (2 * 7 * 7 * 6));
    EXPECT_TRUE(all_equal(profiled, plain));
}

PG_INSTANTIATE_DEVICE_SUITE(ProfilerDevice);

} // namespace
} // namespace pg
