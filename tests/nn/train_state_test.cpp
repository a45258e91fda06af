// Training-state files: an interrupted and resumed run (optimizer, generator, EMA teacher) equals
// the uninterrupted one bit for bit; scalars survive exactly; wrong files are clear errors.
#include <cstdio>

#include "autograd/ops.h"
#include "nn/ema.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/train_state.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "tests/common/test_util.h"

namespace pg::nn {
namespace {

// A tiny model trained with SGD + momentum on random batches drawn from `data_gen`, with a
// dropout layer drawing from the same generator and an EMA teacher.
struct TinyRun {
    Generator init{1}, data_gen{2};
    Linear student{4, 3, init}, teacher{4, 3, init};
    SGD sgd{{ParamGroup{student.parameters()}}, SGDOptions{0.1, 0.9, 0.0, 1e-4}};

    TinyRun() {
        copy_params(teacher.parameters(), student.parameters());
        student.set_generator(&data_gen);
    }
    void step(int64_t k) {
        Tensor x = Tensor::normal({8, 4}, data_gen);
        Tensor y = Tensor::from_vector(std::vector<int32_t>{0, 1, 2, 0, 1, 2, 0, 1}, {8});
        Tensor h = dropout(x, 0.25f, true, data_gen);
        sgd.zero_grad();
        backward(cross_entropy(student.forward(h), y));
        sgd.step();
        ema_update(teacher.parameters(), student.parameters(), ema_decay(k));
    }
};

TEST(TrainState, ResumeIsBitExact) {
    TinyRun straight;
    for (int k = 0; k < 6; k++) straight.step(k);

    std::string path = ::testing::TempDir() + "pg_state.safetensors";
    {
        TinyRun first;
        for (int k = 0; k < 3; k++) first.step(k);
        TrainState s;
        s.step = 3;
        s.epoch = 1;
        s.optimizer = first.sgd.state_dict();
        s.teacher = first.teacher.state_dict();
        s.save_generator("data", first.data_gen);
        s.numbers["best_miou"] = 0.123456789012345;
        save_train_state(path, s);
        // The student's weights travel in the weights file; here: copy them over by hand.
        save_safetensors(path + ".weights", first.student.state_dict());
    }
    TinyRun resumed; // fresh objects, different state until loaded
    TrainState s = load_train_state(path);
    EXPECT_EQ(s.step, 3);
    EXPECT_EQ(s.epoch, 1);
    EXPECT_EQ(s.numbers.at("best_miou"), 0.123456789012345);
    resumed.student.load_state_dict(load_safetensors(path + ".weights"));
    resumed.teacher.load_state_dict(s.teacher);
    resumed.sgd.load_state_dict(s.optimizer);
    s.restore_generator("data", resumed.data_gen);
    for (int k = 3; k < 6; k++) resumed.step(k);
    EXPECT_TRUE(test::all_equal(resumed.student.weight, straight.student.weight));
    EXPECT_TRUE(test::all_equal(resumed.teacher.weight, straight.teacher.weight));
    EXPECT_TRUE(test::all_equal(resumed.teacher.bias, straight.teacher.bias));
    std::remove((path + ".weights").c_str());
}

TEST(TrainState, LargeGeneratorStatesSurviveExactly) {
    std::string path = ::testing::TempDir() + "pg_state2.safetensors";
    TrainState s;
    Generator g(0xFEDCBA9876543210ull);
    g.reserve(123456789012ull);
    s.save_generator("loader", g);
    save_train_state(path, s);
    Generator back;
    load_train_state(path).restore_generator("loader", back);
    EXPECT_EQ(back.seed(), g.seed());
    EXPECT_EQ(back.offset(), g.offset());
    EXPECT_THROW(load_train_state(path).restore_generator("other", back), Error);
}

TEST(TrainState, WeightsFileOrMissingFileIsAClearError) {
    std::string path = ::testing::TempDir() + "pg_weights.safetensors";
    save_safetensors(path, {{"w", Tensor::zeros({2})}});
    try {
        load_train_state(path);
        FAIL() << "a weights file is not a training state";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a pixelgrad training state"), std::string::npos);
    }
    EXPECT_THROW(load_train_state(path + ".missing"), Error);
}

// Counts are digits only and fit in int64 (std::stoll read "1x" as 1; `make fuzz` found a step
// above 2^63 - 1 that became negative).
TEST(TrainState, ForgedCountsAreAClearError) {
    for (const char* step : {"1x", "-1", "", "9223372036854775808", "123456789012345678901"}) {
        std::string path = ::testing::TempDir() + "pg_forged_state.safetensors";
        std::string meta = std::string(R"({"step":")") + step + R"(","epoch":"0"})";
        save_safetensors(path, {{"optimizer.x", Tensor::zeros({1})}},
                         {{"pixelgrad.train_state", meta}});
        try {
            load_train_state(path);
            ADD_FAILURE() << "step '" << step << "' was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("corrupt training-state metadata"),
                      std::string::npos)
                << e.what();
        }
    }
}

} // namespace
} // namespace pg::nn
