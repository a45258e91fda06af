// `pixelgrad train` end to end on a tiny synthetic world: the loss falls and mIoU rises, the run
// directory holds what trainer.h promises, an interrupted + resumed run equals an uninterrupted
// one bit for bit, and bad configs or run directories are clear errors.
#include <cstdio>
#include <cstdlib>

#include "tests/seg/train_helpers.h"

namespace pg::seg {
namespace {

TEST(Train, SupervisedLossFallsAndMiouRises) {
    TrainOptions o;
    o.config = write_config("e2e", "  epochs: 15\n  eval_every: 5\n  eval_at_start: true\n");
    o.run_dir = fresh_dir("e2e");
    o.quiet = true;
    const char* seed = std::getenv("PG_TEST_SEED"); // margins measured over seeds: test_numerics.sh
    if (seed) o.overrides = {std::string("trainer.seed=") + seed};
    TrainResult r = train(o);
    EXPECT_TRUE(r.completed);
    EXPECT_EQ(r.steps, 60); // 16 labels / batch 4 = 4 steps per epoch
    EXPECT_LT(r.last_loss, 0.7 * r.first_loss);
    std::vector<nlohmann::json> evals = rows(o.run_dir, "eval");
    ASSERT_EQ(evals.size(), 4u); // steps 0, 20, 40, 60
    EXPECT_EQ(evals[0]["step"], 0);
    double start = evals.front()["miou"], end = evals.back()["miou"];
    std::printf("supervised: loss %.4f -> %.4f (ratio %.3f), mIoU %.4f -> %.4f\n", r.first_loss,
                r.last_loss, r.last_loss / r.first_loss, start, end);
    // Measured over seeds 0-2 x Haswell / Sandybridge / Nehalem / Prescott (test_numerics.sh):
    // loss ratio 0.39-0.48, mIoU gain 0.13-0.17; the margins leave room for other kernels.
    EXPECT_GT(end, start + 0.06) << "mIoU " << start << " -> " << end;
    EXPECT_DOUBLE_EQ(r.best_miou,
                     std::max({double(evals[1]["miou"]), double(evals[2]["miou"]), end, start}));
    for (const char* f : {"config.yaml", "eval.json", "report.html", "checkpoints/best.safetensors",
                          "checkpoints/last.safetensors", "checkpoints/last.state.safetensors"})
        EXPECT_TRUE(fs::exists(o.run_dir + "/" + f)) << f;
    std::ifstream eval_file(o.run_dir + "/eval.json");
    nlohmann::json best = nlohmann::json::parse(eval_file);
    EXPECT_DOUBLE_EQ(double(best["miou"]), r.best_miou);
    EXPECT_EQ(best["class_names"][1], "disc");
    std::vector<nlohmann::json> train_rows = rows(o.run_dir, "train");
    ASSERT_EQ(train_rows.size(), 30u);
    EXPECT_GT(double(train_rows[0]["lr_model"]), double(train_rows[29]["lr_model"])); // poly
    EXPECT_TRUE(train_rows[0]["losses"].contains("sup"));
}

// Interrupted after 5 steps and resumed == 12 steps straight: weights, optimizer state and every
// logged loss equal bit for bit (dropout, augmentation and batch order all continue exactly).
TEST(Train, ResumeIsBitExact) {
    std::string config = write_config("resume", "  iterations: 12\n  eval_interval: 6\n");
    auto [straight_dir, resumed_dir] = straight_and_resumed("resume", config, {}, 12, 5);
    expect_same_checkpoints(straight_dir, resumed_dir, {"last.safetensors", "best.safetensors"});
    // Logged every 2 steps: the window of steps 5-6 spans the stop, and is saved with `last`, so
    // every row (loss, terms, lr) equals the uninterrupted run's; nothing is logged twice.
    std::vector<nlohmann::json> ra = rows(straight_dir, "train"), rb = rows(resumed_dir, "train");
    ASSERT_EQ(rb.size(), ra.size());
    for (size_t i = 0; i < ra.size(); i++) {
        for (const char* k : {"step", "loss", "losses", "lr_model"})
            EXPECT_EQ(ra[i][k], rb[i][k]) << k << " " << i;
    }
    std::vector<nlohmann::json> ea = rows(straight_dir, "eval"), eb = rows(resumed_dir, "eval");
    ASSERT_EQ(ea.size(), 2u);
    ASSERT_EQ(eb.size(), 2u);
    EXPECT_EQ(ea[1]["miou"], eb[1]["miou"]);
}

TEST(Train, ErrorsNameTheProblem) {
    TrainOptions o;
    o.quiet = true;
    o.run_dir = fresh_dir("errors");
    o.config = ::testing::TempDir() + "pg_train_missing.yaml";
    expect_errors([&] { train(o); }, {"pg_train_missing.yaml"});
    TrainOptions resume_nowhere; // --resume needs the run's folder
    resume_nowhere.resume = true;
    expect_errors([&] { train(resume_nowhere); }, {"train --resume: give --run-dir"});

    o.config = write_config("bad_method", "  epochs: 1\n  method: magic\n");
    expect_errors([&] { train(o); }, {"trainer.method", "magic", "supervised"});
    EXPECT_FALSE(fs::exists(o.run_dir + "/checkpoints")); // a failed set-up leaves nothing behind

    o.config = write_config("one_step", "  iterations: 1\n");
    o.overrides = {"trainer.optimizer.type=Lion"};
    expect_errors([&] { train(o); }, {"trainer.optimizer.type", "Lion"});
    // The base's SGD momentum does not silently vanish when the type becomes Adam ...
    o.overrides = {"trainer.optimizer.type=Adam"};
    expect_errors([&] { train(o); }, {"trainer.optimizer.kwargs.momentum", "Adam", "betas"});
    o.overrides = {"trainer.optimizer.kwargs.momentun=0.9"}; // ... nor does a typo
    expect_errors([&] { train(o); },
                  {"momentun", "did you mean", "trainer.optimizer.kwargs.momentum"});
    // Every key is known: a misspelt one names the nearest, another method's key names the method.
    o.overrides = {"trainer.iteratons=3"};
    expect_errors([&] { train(o); }, {"unknown key 'trainer.iteratons'", "trainer.iterations"});
    o.overrides = {"dataset.train.crop.sise=[8, 8]"};
    expect_errors([&] { train(o); }, {"dataset.train.crop.sise", "dataset.train.crop.size"});
    o.overrides = {"trainer.contrastive.queue_size=10"};
    expect_errors([&] { train(o); }, {"trainer.contrastive.queue_size", "u2pl", "supervised"});
    o.overrides = {"dataset.trian.list=x.txt"};
    expect_errors([&] { train(o); }, {"dataset.trian", "not a dataset split"});
    o.overrides = {};
    std::string repeated = ::testing::TempDir() + "pg_train_repeated.yaml";
    std::ofstream(repeated) << "base: " << o.config
                            << "\ntrainer:\n  seed: 1\ntrainer:\n  seed: 2\n";
    TrainOptions rep = o;
    rep.config = repeated;
    expect_errors([&] { train(rep); },
                  {"pg_train_repeated.yaml", "'trainer' is given twice", "lines 2 and 4"});

    o.config = write_config("no_length", "");
    expect_errors([&] { train(o); }, {"trainer.epochs"});

    o.config = write_config("ok", "  iterations: 1\n  eval_on: false\n");
    o.overrides = {"dataset.root=" + ::testing::TempDir() + "pg_no_such_world"};
    expect_errors([&] { train(o); }, {"pg_no_such_world"});
    o.overrides = {"net.num_classes=7"};
    expect_errors([&] { train(o); }, {"7", "classes"});

    // The net's shape: named at its key, not deep in the network's constructors.
    // The optimizer's own checks are given the section and the --set they came from.
    o.overrides = {"trainer.optimizer.kwargs.lr=-1"};
    expect_errors([&] { train(o); }, {"--set trainer.optimizer.kwargs.lr: trainer.optimizer: ",
                                      "lr must be >= 0, got -1"});
    o.overrides = {"trainer.head_lr_mult=-1"};
    expect_errors([&] { train(o); }, {"--set trainer.head_lr_mult: ", "expected >= 0"});
    o.overrides = {"dataset.workers=-1"};
    expect_errors([&] { train(o); }, {"--set dataset.workers: dataset.workers is -1"});
    o.overrides = {"net.backbone.variant=Z"};
    expect_errors([&] { train(o); }, {"--set net.backbone.variant: ", "'Z', expected A"});
    o.overrides = {"net.backbone.blocks=[1, 1]"};
    expect_errors([&] { train(o); }, {"net.backbone.blocks is (1, 1), expected 4"});
    o.overrides = {"net.decoder.dilations=[]"};
    expect_errors([&] { train(o); }, {"net.decoder.dilations has 0 values, expected 3"});
    o.overrides = {"trainer.eval_on=true", "trainer.eval_interval=-3"};
    expect_errors([&] { train(o); },
                  {"--set trainer.eval_interval: trainer.eval_interval gives an evaluation every "
                   "-3 steps",
                   "trainer.eval_on: false"});
    o.overrides = {"trainer.iterations=0"};
    expect_errors([&] { train(o); },
                  {"--set trainer.iterations: trainer.iterations gives 0 steps, expected at "
                   "least 1"});

    o.overrides = {};
    o.finish = false;
    train(o);
    expect_errors([&] { train(o); }, {"already holds a run", "--resume"});
    // saver.pretrain: a training state is refused as such, and a whole model's checkpoint (its
    // keys already "encoder.") is told to drop the backbone prefix, which then loads it.
    TrainOptions pre = o;
    pre.run_dir = fresh_dir("pretrain_errors");
    pre.overrides = {"saver.pretrain=" + o.run_dir + "/checkpoints/last.state.safetensors"};
    expect_errors([&] { train(pre); }, {"last.state.safetensors: a training state"});
    pre.overrides = {"saver.pretrain=" + o.run_dir + "/no.safetensors"};
    expect_errors([&] { train(pre); }, {"--set saver.pretrain: saver.pretrain is '",
                                        "no.safetensors', which is not a file"});
    pre.overrides = {"saver.pretrain=" + o.run_dir + "/checkpoints/last.safetensors"};
    expect_errors([&] { train(pre); },
                  {"--set saver.pretrain: ", "matched no parameter",
                   "set saver.pretrain_prefix to \"\": the file's keys start with 'encoder.'"});
    pre.overrides.push_back("saver.pretrain_prefix=\"\"");
    EXPECT_TRUE(train(pre).completed);
    // A folder whose run failed before its first checkpoint (metrics, no state) can be restarted.
    TrainOptions failed = o;
    failed.run_dir = fresh_dir("failed_before_checkpoint");
    fs::create_directories(failed.run_dir + "/checkpoints");
    std::ofstream(failed.run_dir + "/metrics.jsonl") << "{\"type\": \"train\", \"step\": 1}\n";
    EXPECT_TRUE(train(failed).completed);
    EXPECT_EQ(rows(failed.run_dir, "train").size(), 1u); // the old row is gone, the new one there
    TrainOptions r;
    r.run_dir = fresh_dir("nothing_to_resume");
    r.config = o.config;
    r.resume = true;
    expect_errors([&] { train(r); }, {"last.state.safetensors", "nothing to resume"});
}

} // namespace
} // namespace pg::seg
