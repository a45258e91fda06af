// Nothing lost: the real binary killed with SIGKILL at many points of a tiny training (after a
// step, between the two checkpoint files, while evaluating, inside every kind of atomic write) and
// then resumed (or, before its first checkpoint, restarted) ends with the weights, training state
// and logged rows of the uninterrupted run; Ctrl-C (SIGINT) writes `last`, exits 130 and resumes
// exactly.
#include <chrono>
#include <thread>

#include "nn/train_state.h"
#include "tests/seg/cli_helpers.h"
#include "tests/seg/train_helpers.h"

namespace pg::seg {
namespace {

const std::vector<std::string> kSteps = {"--set", "trainer.iterations=12",
                                         "--set", "trainer.eval_interval=4",
                                         "--set", "saver.save_every=3"};

std::vector<std::string> train_args(const std::string& config, const std::string& dir,
                                    const std::vector<std::string>& extra = kSteps) {
    std::vector<std::string> a{"train", "-q", "--config", config, "--run-dir", dir};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

// Continues `dir` as a user would after a crash: --resume when a checkpoint exists, else anew.
void recover(const std::string& config, const std::string& dir,
             const std::vector<std::string>& extra = kSteps) {
    bool has_state = fs::exists(dir + "/checkpoints/last.state.safetensors");
    CliResult r = has_state ? run_pixelgrad({"train", "-q", "--resume", "--run-dir", dir})
                            : run_pixelgrad(train_args(config, dir, extra));
    ASSERT_EQ(r.exit_code, 0) << r.output;
}

void expect_same_runs(const std::string& straight, const std::string& other) {
    expect_same_checkpoints(straight, other,
                            {"last.safetensors", "last.state.safetensors", "best.safetensors"});
    for (const char* type : {"train", "eval"}) {
        std::vector<nlohmann::json> a = rows(straight, type), b = rows(other, type);
        ASSERT_EQ(a.size(), b.size()) << type << " rows of " << other;
        for (size_t i = 0; i < a.size(); i++)
            for (const char* k : {"step", "loss", "losses", "miou"})
                EXPECT_EQ(a[i].value(k, nlohmann::json()), b[i].value(k, nlohmann::json()))
                    << type << " row " << i << " " << k << " of " << other;
    }
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(other))
        EXPECT_NE(e.path().extension(), ".tmp") << e.path(); // no leftovers
}

int64_t state_step(const std::string& dir) {
    return nn::load_train_state(dir + "/checkpoints/last.state.safetensors").step;
}

TEST(CrashSafety, KilledAnywhereThenResumedEqualsTheUninterruptedRun) {
    std::string config = write_config("crash");
    std::string straight = fresh_dir("crash_straight");
    CliResult s = run_pixelgrad(train_args(config, straight));
    ASSERT_EQ(s.exit_code, 0) << s.output;
    // Points named in the code (tensor/file_io.h crash_point); #K = the K-th time it is reached.
    // file:before-rename covers every atomic write: config, weights, states, eval.json, report.
    const std::vector<std::string> points = {"train:after-step#1",
                                             "train:after-step#5",
                                             "train:after-step#11",
                                             "train:between-checkpoint-files#1",
                                             "train:between-checkpoint-files#9", // #9: the last
                                             "train:evaluating#2",
                                             "train:evaluating#3", // the last step's
                                             "file:before-rename#1",
                                             "file:before-rename#2",
                                             "file:before-rename#3",
                                             "file:before-rename#5",
                                             "file:before-rename#8",
                                             "file:before-rename#12"};
    for (const std::string& point : points) {
        std::string dir = fresh_dir("crash_" + std::to_string(&point - points.data()));
        CliResult k = run_pixelgrad(train_args(config, dir), {"PG_CRASH_AT=" + point});
        ASSERT_EQ(k.signal, SIGKILL) << point << " was never reached: " << k.output;
        // Killed while evaluating: the steps before it are kept (`last` is written first).
        if (point.rfind("train:evaluating#", 0) == 0) {
            EXPECT_EQ(state_step(dir), point.back() == '2' ? 8 : 12) << point;
        }
        recover(config, dir);
        expect_same_runs(straight, dir);
    }
}

// The way past an evaluation that keeps failing (a bad val label): resume with evaluation off.
TEST(CrashSafety, AnEvaluationLeftPendingIsSkippedWhenEvaluationIsTurnedOff) {
    std::string config = write_config("crash_eval_off");
    std::string dir = fresh_dir("crash_eval_off");
    CliResult k = run_pixelgrad(train_args(config, dir), {"PG_CRASH_AT=train:evaluating#2"});
    ASSERT_EQ(k.signal, SIGKILL) << k.output;
    ASSERT_EQ(state_step(dir), 8);
    CliResult r = run_pixelgrad(
        {"train", "-q", "--resume", "--run-dir", dir, "--set", "trainer.eval_on=false"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(state_step(dir), 12);
    // Only the evaluation that had finished (step 4) is logged.
    std::vector<nlohmann::json> evals = rows(dir, "eval");
    ASSERT_EQ(evals.size(), 1u);
    EXPECT_EQ(evals[0]["step"], 4);
}

TEST(CrashSafety, CtrlCWritesLastExits130AndResumesExactly) {
    std::string config = write_config("sigint");
    const std::vector<std::string> steps = {"--set", "trainer.iterations=150", "--set",
                                            "trainer.eval_interval=50"};
    std::string straight = fresh_dir("sigint_straight");
    ASSERT_EQ(run_pixelgrad(train_args(config, straight, steps)).exit_code, 0);

    std::string dir = fresh_dir("sigint"), log = dir + ".log";
    pid_t pid = start_pixelgrad(train_args(config, dir, steps), log);
    // Interrupt once training has logged its first window (the loop is running).
    for (int i = 0; i < 600 && rows(dir, "train").empty(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(pid, SIGINT);
    CliResult r = wait_pixelgrad(pid, log);
    ASSERT_EQ(r.exit_code, 130) << r.output;
    EXPECT_NE(r.output.find("pixelgrad train --resume --run-dir " + dir), std::string::npos)
        << r.output;
    int64_t stopped = state_step(dir);
    EXPECT_GT(stopped, 0);
    EXPECT_LT(stopped, 150) << "the run ended before the signal: make it longer";
    recover(config, dir, steps);
    EXPECT_EQ(state_step(dir), 150);
    expect_same_runs(straight, dir);
}

} // namespace
} // namespace pg::seg
