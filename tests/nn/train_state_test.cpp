// Training-state files: an interrupted and resumed run (optimizer, generator, EMA teacher) equals
// the uninterrupted one bit for bit; scalars survive exactly; wrong files are clear errors.
#include <cstdio>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
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
        s.parts["model"].optimizer = first.sgd.state_dict();
        s.parts["teacher"].weights = first.teacher.state_dict();
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
    resumed.teacher.load_state_dict(s.parts.at("teacher").weights);
    resumed.sgd.load_state_dict(s.parts.at("model").optimizer);
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

// The other way round: a training state given where model weights are expected (eval, predict,
// forward --weights) says what it is and which file to give, instead of listing every name.
TEST(TrainState, AStateFileIsNotTakenForWeights) {
    TinyRun run;
    TrainState state;
    state.parts["model"].weights = run.student.state_dict();
    std::string path = ::testing::TempDir() + "pg_state_as_weights.safetensors";
    save_train_state(path, state);
    test::expect_error([&] { load_weights(run.teacher, path); },
                       path + ": a training state (what `pixelgrad train --resume` reads");
    test::expect_error([&] { load_weights(run.teacher, path); },
                       "give the run's checkpoints/last.safetensors or best.safetensors");
}

// Parts round-trip by name (one without tensors too); a state written before parts existed loads
// its student optimizer, student weights and teacher into parts "model" and "teacher".
TEST(TrainState, PartsRoundTripAndTheOldLayoutLoads) {
    std::string path = ::testing::TempDir() + "pg_parts_state.safetensors";
    TrainState s;
    s.parts["model"].weights["conv.weight"] = Tensor::full({2}, 1.f);
    s.parts["model"].optimizer["0.momentum"] = Tensor::full({2}, 2.f);
    s.parts["discriminator"].weights["fc.bias"] = Tensor::full({1}, 3.f);
    s.parts["empty"];
    s.extra_tensors["u2pl.bank.0"] = Tensor::full({3}, 4.f);
    save_train_state(path, s);
    TrainState back = load_train_state(path);
    ASSERT_EQ(back.parts.size(), 3u);
    EXPECT_TRUE(test::all_equal(back.parts.at("model").weights.at("conv.weight"),
                                s.parts["model"].weights["conv.weight"]));
    EXPECT_TRUE(test::all_equal(back.parts.at("model").optimizer.at("0.momentum"),
                                s.parts["model"].optimizer["0.momentum"]));
    EXPECT_EQ(back.parts.at("discriminator").weights.size(), 1u);
    EXPECT_TRUE(back.parts.at("discriminator").optimizer.empty());
    EXPECT_TRUE(back.parts.at("empty").weights.empty());
    EXPECT_EQ(back.extra_tensors.size(), 1u);
    s.parts["extra"];
    test::expect_error([&] { save_train_state(path, s); }, "reserved 'extra'");

    save_safetensors(path,
                     {{"optimizer.0.momentum", Tensor::full({2}, 2.f)},
                      {"teacher.conv.weight", Tensor::full({2}, 5.f)},
                      {"extra.model.conv.weight", Tensor::full({2}, 1.f)},
                      {"extra.u2pl.bank.0", Tensor::full({3}, 4.f)}},
                     {{"pixelgrad.train_state", R"({"step":"7","epoch":"1"})"}});
    TrainState old = load_train_state(path);
    EXPECT_EQ(old.step, 7);
    EXPECT_EQ(old.parts.at("model").weights.count("conv.weight"), 1u);
    EXPECT_EQ(old.parts.at("model").optimizer.count("0.momentum"), 1u);
    EXPECT_EQ(old.parts.at("teacher").weights.count("conv.weight"), 1u);
    EXPECT_EQ(old.extra_tensors.count("u2pl.bank.0"), 1u);
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
