// Data-parallel training with the real binary under mpirun (tests/dist/ checks the collectives
// themselves): two processes with batch b train as one process with batch 2b (SyncBN on), and
// without SyncBN they do not; rank 0 alone writes; a run resumes exactly with the same process
// count and keeps its global batch with another, also one it does not divide; a process that dies
// or hangs ends the whole run instead of leaving the others waiting; U2PL, AdvSemiSeg and RIPU run
// across processes; one process forced onto the data-parallel path (also on a GPU, with NCCL)
// trains as the plain run.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "pg_config.h"
#include "seg/train/ripu_rounds.h"
#include "tests/seg/cli_helpers.h"
#include "tests/seg/ripu_helpers.h"
#include "tests/seg/train_helpers.h"

#ifdef PG_MPIRUN

namespace pg::seg {
namespace {

// 32 train images of 32x32, 3 classes, no void pixel anywhere (written before the CE became a mean
// over the global batch's labelled pixels, nn::cross_entropy_over_global_batch; kept so that
// these figures compare with the earlier ones; the RIPU test below runs on a world with void).
// ctest runs tests as concurrent processes: each writes its own world and config (`name`).
std::string void_free_world(const std::string& name) {
    synth::WorldOptions o = tiny_world_options("pg_dp_world_" + name);
    o.scene.num_classes = 3;
    o.scene.void_width = 0;
    o.scene.min_visible = 0;
    o.num_val = 8;
    synth::write_world(o);
    return o.out_dir;
}

// No randomness that depends on the batch split: no dropout, no rescaling (no padded pixels).
std::string dp_config(const std::string& name) {
    std::string path = ::testing::TempDir() + "pg_dp_config_" + name + ".yaml";
    std::ofstream(path) << "dataset:\n  type: voc\n  root: " << void_free_world(name)
                        << "\n  batch_size: 4\n  workers: 1\n"
                           "  train: {list: splits/16/labeled.txt, flip: true,"
                           " crop: {type: rand, size: [32, 32]}}\n"
                           "  val: {split: val}\n"
                           "net:\n  num_classes: 3\n  sync_bn: true\n"
                           "  backbone: {variant: C, blocks: [1, 1, 1, 1], width: 0.0625}\n"
                           "  decoder: {inner_planes: 16, dilations: [1, 2, 3], use_rep: false,"
                           " dropout: 0}\n"
                           "trainer:\n  iterations: 4\n  eval_on: false\n  log_every: 1\n"
                           "  optimizer: {type: SGD, kwargs: {lr: 0.02, momentum: 0.9,"
                           " weight_decay: 0.0001}}\n";
    return path;
}

// Parameters of a run's last checkpoint (no BN statistics), flattened in name order.
std::vector<double> weights(const std::string& run_dir) {
    std::vector<double> out;
    for (auto& [name, t] : load_safetensors(run_dir + "/checkpoints/last.safetensors")) {
        if (t.dtype() != DType::f32 || name.find("running_") != std::string::npos) continue;
        for (float v : t.to_f32_vector()) out.push_back(v);
    }
    return out;
}

// BN running statistics of a run's last checkpoint, flattened in name order: they average every
// image the network saw in training mode, so they tell whether the processes' shares were right.
std::vector<double> running_stats(const std::string& run_dir) {
    std::vector<double> out;
    for (auto& [name, t] : load_safetensors(run_dir + "/checkpoints/last.safetensors")) {
        if (t.dtype() != DType::f32 || name.find("running_") == std::string::npos) continue;
        for (float v : t.to_f32_vector()) out.push_back(v);
    }
    return out;
}

double distance(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return std::sqrt(s);
}

std::string bytes_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

int count_lines(const std::string& text, const std::string& start) {
    int n = 0;
    for (size_t at = text.find(start); at != std::string::npos; at = text.find(start, at + 1))
        n += at == 0 || text[at - 1] == '\n';
    return n;
}

// The run's output holds `text` (printed whole when it does not).
void expect_says(const CliResult& r, const std::string& text) {
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
}

CliResult train(int processes, const std::string& config, const std::string& dir,
                const std::vector<std::string>& sets) {
    std::vector<std::string> args{"train", "--config", config, "--run-dir", dir, "-q"};
    for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
    return processes == 0 ? run_pixelgrad(args, {"OMP_NUM_THREADS=1"})
                          : run_mpirun(processes, args);
}

// The weights every run of `config` starts from (one step at lr 0), to measure how far runs moved.
CliResult initial_weights(const std::string& config, const std::string& dir,
                          std::vector<std::string> sets) {
    sets.insert(sets.end(), {"trainer.iterations=1", "trainer.optimizer.kwargs.lr=0"});
    return train(0, config, dir, sets);
}

TEST(DataParallel, TwoProcessesTrainAsOneWithTheWholeBatch) {
    std::string config = dp_config("equal");
    std::string start = fresh_dir("dp_start"), one = fresh_dir("dp_one"), two = fresh_dir("dp_two"),
                plain = fresh_dir("dp_plain");
    ASSERT_EQ(initial_weights(config, start, {}).exit_code, 0);
    CliResult r1 = train(0, config, one, {});
    ASSERT_EQ(r1.exit_code, 0) << r1.output;
    CliResult r2 = train(2, config, two, {"dataset.batch_size=2"});
    ASSERT_EQ(r2.exit_code, 0) << r2.output;
    CliResult r3 = train(2, config, plain, {"dataset.batch_size=2", "net.sync_bn=false"});
    ASSERT_EQ(r3.exit_code, 0) << r3.output;
    // One step: the same update up to rounding.
    std::string one_1 = fresh_dir("dp_one_1"), two_1 = fresh_dir("dp_two_1");
    ASSERT_EQ(train(0, config, one_1, {"trainer.iterations=1"}).exit_code, 0);
    ASSERT_EQ(train(2, config, two_1, {"dataset.batch_size=2", "trainer.iterations=1"}).exit_code,
              0);
    const std::vector<double> w0 = weights(start), w1 = weights(one);
    const double step = distance(weights(one_1), w0);
    const double synced_1 = distance(weights(two_1), weights(one_1)) / step;
    const double moved = distance(w1, w0); // how far 4 steps took the weights
    const double synced = distance(weights(two), w1) / moved;
    const double unsynced = distance(weights(plain), w1) / moved;
    std::printf("1 step: 2 processes differ from 1 by %.3g of the step; 4 steps moved the weights "
                "by %.4g; 2 processes differ from 1 by %.3g of that with SyncBN, %.3g without\n",
                synced_1, moved, synced, unsynced);
    // One step measured 1.0e-6 to 1.1e-6 (SkylakeX, Haswell, Sandybridge, Nehalem kernels). Over
    // 4 steps mostly 1.2e-6 to 1.7e-6, but 7e-4 or 1.8e-3 on some kernel sets: 1e-6 after steps
    // 1-3, then the runs part at step 4, where rounding tips a discrete choice (a ReLU mask, a
    // max-pool's pick). Which kernel set tips moves with any change of rounding (SyncBN's
    // statistics computed in f32 on the device, not in double on the host, moved it from Nehalem
    // to SkylakeX here, and into AGlobalBatchSplitsOverAnyProcessCount on Haswell). Without
    // SyncBN: 0.88.
    EXPECT_LT(synced_1, 1e-4);
    EXPECT_LT(synced, 1e-2);
    EXPECT_GT(unsynced, 0.1);
    // Rank 0 alone reports and writes: one result line, one row per step.
    EXPECT_EQ(count_lines(r2.output, "run: "), 1) << r2.output;
    EXPECT_EQ(rows(two, "train").size(), 4u);
}

// PG_FORCE_DATA_PARALLEL=1 sends one process down the data-parallel path (SyncBN's collectives
// and Chan's combination, the global batch's means, gradient buckets during backward; NCCL with a
// communicator of one on a GPU, the only way one GPU can run it): it must train as the plain run.
class DataParallelOneProcess : public test::DeviceTest {};

TEST_P(DataParallelOneProcess, ForcedOntoTheDataParallelPathItTrainsAsThePlainRun) {
    const std::string tag = device().is_cpu() ? "cpu" : "cuda";
    const std::string config = dp_config("forced_" + tag);
    auto run = [&](const std::string& dir, std::vector<std::string> env, int mpi_processes,
                   std::vector<std::string> sets) {
        std::vector<std::string> args{"train", "--config", config,     "--run-dir",
                                      dir,     "-q",       "--device", device().name()};
        for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
        if (mpi_processes > 0) return run_mpirun({env}, args);
        env.push_back("OMP_NUM_THREADS=1");
        return run_pixelgrad(args, env);
    };
    const std::string force = "PG_FORCE_DATA_PARALLEL=1", start = fresh_dir("dpf_start_" + tag),
                      plain = fresh_dir("dpf_plain_" + tag), forced = fresh_dir("dpf_" + tag);
    ASSERT_EQ(
        run(start, {}, 0, {"trainer.iterations=1", "trainer.optimizer.kwargs.lr=0"}).exit_code, 0);
    CliResult r_plain = run(plain, {}, 0, {});
    ASSERT_EQ(r_plain.exit_code, 0) << r_plain.output;
    CliResult r_forced = run(forced, {force}, 0, {});
    ASSERT_EQ(r_forced.exit_code, 0) << r_forced.output;
    // It says so, and which collectives carry it (NCCL's on a GPU when built with it).
    const std::string note = "note: PG_FORCE_DATA_PARALLEL=1: one process takes the data-parallel "
                             "path (";
    expect_says(r_forced, note + (device().is_cpu() || !PG_NCCL_ENABLED ? "single" : "NCCL"));
    EXPECT_EQ(r_plain.output.find(note), std::string::npos) << r_plain.output;
    const std::vector<double> w0 = weights(start), w1 = weights(plain);
    const double moved = distance(w1, w0);
    const double apart = distance(weights(forced), w1) / moved;
    std::printf("forced onto the data-parallel path, 1 process differs from the plain run by %.3g "
                "of the distance trained\n",
                apart);
    // Measured on the CPU 1.2e-6 to 2.0e-6, through MPI the same (SkylakeX, Haswell, Sandybridge,
    // Nehalem kernels). The bound is that of two processes against one: rounding (SyncBN's
    // statistics combined by Chan's formula, the CE's sum over the global batch's pixel count) may
    // tip a discrete choice within 4 steps. Not 0: the other path's rounding shows that it ran.
    EXPECT_LT(apart, 1e-2);
    EXPECT_GT(apart, 0.0);
    if (!device().is_cpu()) return;
    // And through MPI's collectives (a world of one, the nonblocking all-reduce of the buckets).
    const std::string mpi = fresh_dir("dpf_mpi_" + tag);
    CliResult r_mpi = run(mpi, {force}, 1, {});
    ASSERT_EQ(r_mpi.exit_code, 0) << r_mpi.output;
    expect_says(r_mpi, note + "MPI");
    const double apart_mpi = distance(weights(mpi), w1) / moved;
    std::printf("through MPI: %.3g\n", apart_mpi);
    EXPECT_LT(apart_mpi, 1e-2);
    EXPECT_GT(apart_mpi, 0.0);
    // A value other than 0 or 1 is named.
    CliResult bad = run(fresh_dir("dpf_bad"), {"PG_FORCE_DATA_PARALLEL=yes"}, 0, {});
    EXPECT_EQ(bad.exit_code, 1);
    expect_says(bad, "PG_FORCE_DATA_PARALLEL is 'yes'; expected 1");
}

PG_INSTANTIATE_DEVICE_SUITE(DataParallelOneProcess);

// Processes started differently (here an MPMD command line with a --set for one of them; likewise
// a dataset copy that differs) stop at the start, every one naming the difference, instead of
// training wrong or waiting for each other forever.
TEST(DataParallel, ProcessesThatDisagreeStopAtTheStart) {
    const std::string config = dp_config("disagree");
    const std::vector<std::string> args{"train", "--config", config,
                                        "-q",    "--set",    "dataset.batch_size=2"};
    CliResult r =
        run_mpirun({{}, {}}, args,
                   {{"--run-dir", fresh_dir("dp_disagree")},
                    {"--run-dir", fresh_dir("dp_disagree"), "--set", "trainer.iterations=6"}});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    // (Every process finds it; the first to print ends the others, which may not print.)
    expect_says(r, "pixelgrad: error (rank ");
    expect_says(r, " of 2): seg/train/same_run.cpp:");
    expect_says(r, "process 1 of 2 was started with another configuration (its trainer section "
                   "differs; --config and every --set count) than process 0");
}

// processes == 0: one process without mpirun.
CliResult stop_after_2(int processes, const std::string& config, const std::string& dir,
                       const std::string& batch) {
    std::vector<std::string> args{"train",
                                  "--config",
                                  config,
                                  "--run-dir",
                                  dir,
                                  "-q",
                                  "--set",
                                  "dataset.batch_size=" + batch,
                                  "--stop-after",
                                  "2"};
    return processes == 0 ? run_pixelgrad(args, {"OMP_NUM_THREADS=1"})
                          : run_mpirun(processes, args);
}

CliResult resume_on(int processes, const std::string& dir, const std::vector<std::string>& sets) {
    std::vector<std::string> args{"train", "--resume", "--run-dir", dir, "-q"};
    for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
    return processes == 0 ? run_pixelgrad(args, {"OMP_NUM_THREADS=1"})
                          : run_mpirun(processes, args);
}

TEST(DataParallel, ResumesExactlyWithTheSameProcessCountAndKeepsTheGlobalBatchWithAnother) {
    std::string config = dp_config("resume");
    std::string start = fresh_dir("dp_resume_start"), straight = fresh_dir("dp_straight"),
                stopped = fresh_dir("dp_stopped");
    ASSERT_EQ(initial_weights(config, start, {}).exit_code, 0);
    ASSERT_EQ(train(2, config, straight, {"dataset.batch_size=2"}).exit_code, 0);
    ASSERT_EQ(stop_after_2(2, config, stopped, "2").exit_code, 0);
    // config.yaml as a resume on 1 process leaves it when killed before its first checkpoint
    // (batch 4): the state's batch wins, and the run goes on bit for bit.
    const std::string yaml = stopped + "/config.yaml";
    std::string text = bytes_of(yaml);
    const size_t at = text.find("batch_size: 2");
    ASSERT_NE(at, std::string::npos) << text;
    std::ofstream(yaml) << text.replace(at, 13, "batch_size: 4");
    CliResult same = resume_on(2, stopped, {});
    ASSERT_EQ(same.exit_code, 0) << same.output;
    expect_same_checkpoints(straight, stopped, {"last.safetensors"});

    // 2 -> 1 process (batch 2 -> 4) and 1 -> 2 (4 -> 2): the global batch of 4 is kept, so the
    // run goes on as the straight one up to the order of the sums (SyncBN on, as in the test above).
    const std::vector<double> w_straight = weights(straight);
    const double moved = distance(w_straight, weights(start));
    for (int from : {2, 0}) {
        std::string dir = fresh_dir("dp_reshard_" + std::to_string(from));
        ASSERT_EQ(stop_after_2(from, config, dir, from == 2 ? "2" : "4").exit_code, 0);
        CliResult r = resume_on(from == 2 ? 0 : 2, dir, {});
        ASSERT_EQ(r.exit_code, 0) << r.output;
        expect_says(r, from == 2 ? "this run has 1 with dataset.batch_size 4 each"
                                 : "this run has 2 with dataset.batch_size 2 each");
        EXPECT_EQ(rows(dir, "train").size(), 4u);
        const double off = distance(weights(dir), w_straight) / moved;
        std::printf("resumed on %d process(es): %.3g of the distance trained from the straight "
                    "run\n",
                    from == 2 ? 1 : 2, off);
        // As in the test above, rounding can tip a discrete choice at step 4. Measured on an AMD
        // EPYC: 2 -> 1 3e-7 to 6e-7 and 1 -> 2 1.3e-6 to 1.6e-6 (Haswell, Sandybridge, Nehalem
        // kernels), 7e-4 on SkylakeX's, where the straight run itself tips at step 4. Batch
        // statistics of 2 instead of 4 images alone (SyncBN off) part the runs by 0.88.
        EXPECT_LT(off, 1e-2);
    }

    // 2 -> 3 -> 2 processes: on 3 the global batch of 4 splits 2, 1, 1, each gradient weighted by
    // its share (step 3), then back on 2 (step 4): the run still goes on as the straight one.
    std::string uneven = fresh_dir("dp_reshard_3");
    ASSERT_EQ(stop_after_2(2, config, uneven, "2").exit_code, 0);
    CliResult three =
        run_mpirun(3, {"train", "--resume", "--run-dir", uneven, "-q", "--stop-after", "1"});
    ASSERT_EQ(three.exit_code, 0) << three.output;
    expect_says(three, "this run has 3 with dataset.batch_size 1 or 2 each");
    CliResult back = resume_on(2, uneven, {});
    ASSERT_EQ(back.exit_code, 0) << back.output;
    EXPECT_NE(back.output.find("was trained by 3 process(es) with a global batch of 4; this run "
                               "has 2 with dataset.batch_size 2 each"),
              std::string::npos)
        << back.output;
    EXPECT_EQ(rows(uneven, "train").size(), 4u);
    const double off3 = distance(weights(uneven), w_straight) / moved;
    std::printf("resumed on 3 processes, then 2: %.3g of the distance trained from the straight "
                "run\n",
                off3);
    EXPECT_LT(off3, 1e-2); // measured 3.5e-7 to 5.3e-7 (7e-4 where the straight run tips)

    // A per-process batch asked for that would change the global batch is refused naming the
    // numbers.
    std::string dir = fresh_dir("dp_reshard_bad");
    ASSERT_EQ(stop_after_2(2, config, dir, "2").exit_code, 0);
    CliResult asked = resume_on(0, dir, {"dataset.batch_size=3"});
    EXPECT_EQ(asked.exit_code, 1);
    EXPECT_NE(asked.output.find("trains with a global batch of 4 (4 per process with 1 "
                                "process(es)); dataset.batch_size 3 would change it"),
              std::string::npos)
        << asked.output;
}

TEST(DataParallel, AGlobalBatchSplitsOverAnyProcessCount) {
    // dataset.global_batch_size 4 over 3 processes (2, 1, 1) trains as one process with batch 4.
    std::string config = dp_config("global");
    std::string start = fresh_dir("dp_global_start"), one = fresh_dir("dp_global_one"),
                three = fresh_dir("dp_global_three");
    ASSERT_EQ(initial_weights(config, start, {}).exit_code, 0);
    ASSERT_EQ(train(0, config, one, {}).exit_code, 0);
    CliResult r = train(3, config, three, {"dataset.global_batch_size=4"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::vector<double> w1 = weights(one);
    const double off = distance(weights(three), w1) / distance(w1, weights(start));
    std::printf("3 processes with a global batch of 4: %.3g of the distance trained from 1\n", off);
    // Measured 1.4e-6 to 2.1e-6 (SkylakeX, Sandybridge, Nehalem kernels), 1.8e-3 on Haswell's
    // where rounding tips a discrete choice at step 4 (see TwoProcessesTrainAsOneWithTheWholeBatch,
    // whose bound this is); without the share weights (each process's gradient counted alike) 0.7.
    EXPECT_LT(off, 1e-2);
    // Fewer samples than processes: refused, naming the key.
    std::string few = fresh_dir("dp_global_few");
    CliResult bad = train(2, config, few, {"dataset.global_batch_size=1"});
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.output.find("global_batch_size is 1; expected at least one sample for each of "
                              "the 2 process(es)"),
              std::string::npos)
        << bad.output;
    // The global batch replaces the config file's per-process one; both given by --set is a
    // contradiction, named (one process is enough to see it).
    CliResult both = train(0, config, few, {"dataset.batch_size=2", "dataset.global_batch_size=4"});
    EXPECT_EQ(both.exit_code, 1);
    expect_says(both, "--set dataset.batch_size: dataset.batch_size 2 (per process) and "
                      "dataset.global_batch_size 4 (all processes together) are both given");
}

TEST(DataParallel, AProcessThatDiesEndsTheRun) {
    std::string config = dp_config("dies");
    std::string dir = fresh_dir("dp_killed");
    // Rank 1 is killed (SIGKILL) after its second step; rank 0 waits in its next all-reduce.
    CliResult r = run_mpirun({{}, {"PG_CRASH_AT=train:after-step#2"}},
                             {"train", "--config", config, "--run-dir", dir, "-q", "--set",
                              "dataset.batch_size=2", "--set", "trainer.iterations=50"});
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.exit_code, 124) << "timed out: the other process hung\n" << r.output;
}

TEST(DataParallel, AProcessThatHangsEndsTheRunAfterTheCollectiveTimeout) {
    std::string config = dp_config("hangs");
    std::string dir = fresh_dir("dp_hung");
    // Rank 1 freezes (SIGSTOP) after its second step; rank 0's next all-reduce times out after
    // 2 s instead of waiting forever.
    CliResult r = run_mpirun({{"PG_COLLECTIVE_TIMEOUT=2"},
                              {"PG_COLLECTIVE_TIMEOUT=2", "PG_CRASH_AT=train:after-step#2:stop"}},
                             {"train", "--config", config, "--run-dir", dir, "-q", "--set",
                              "dataset.batch_size=2", "--set", "trainer.iterations=50"});
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.exit_code, 124) << "timed out: the run hung\n" << r.output;
    expect_says(r, "(rank 0 of 2): an all-");
    expect_says(r, "one of them hangs");
    // Only the process that waited says so: the frozen one, resumed by mpirun as it ends the run,
    // does not count its own stop as waiting for the others.
    EXPECT_EQ(r.output.find("error (rank 1 of 2)"), std::string::npos) << r.output;
}

TEST(DataParallel, AnErrorOnEveryProcessIsOneClearLineEach) {
    std::string dir = fresh_dir("dp_error");
    CliResult r = run_mpirun(2, {"train", "--config", dp_config("error"), "--run-dir", dir, "-q",
                                 "--set", "dataset.root=/nonexistent"});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    expect_says(r, "pixelgrad: error (rank ");
    expect_says(r, "/nonexistent");
    // Also a bad setting of the collectives themselves: every process names it and its rank.
    CliResult timeout = run_mpirun({{"PG_COLLECTIVE_TIMEOUT=abc"}, {"PG_COLLECTIVE_TIMEOUT=abc"}},
                                   {"train", "--config", dp_config("error"), "--run-dir", dir});
    EXPECT_EQ(timeout.exit_code, 1) << timeout.output;
    expect_says(timeout, " of 2): dist/watchdog.cpp:");
    expect_says(timeout, "PG_COLLECTIVE_TIMEOUT is 'abc'; expected a positive number of seconds");
    // Other commands do not run as several processes (each would write the same files).
    CliResult synth = run_mpirun(2, {"synth", "--out", dir + "/world"});
    EXPECT_EQ(synth.exit_code, 1) << synth.output;
    expect_says(synth, "only `pixelgrad train` runs as several processes");
}

// The semi-supervised methods step their parts through the same optimizer, so they run across
// processes too (U2PL's memory banks take every process's negatives: README, "Data parallel").
TEST(DataParallel, U2plAndAdversarialRunOnTwoThenThreeProcessesAndResumeOnOne) {
    std::string world = void_free_world("methods");
    const std::vector<std::string> common{"dataset.root=" + world,
                                          "dataset.train.list=splits/16/labeled.txt",
                                          "dataset.unlabeled.list=splits/16/unlabeled.txt",
                                          "dataset.batch_size=2",
                                          "dataset.train.crop.size=[32,32]",
                                          "net.num_classes=3",
                                          "trainer.eval_on=false",
                                          "net.sync_bn=true",
                                          "net.decoder.dropout=0",
                                          "trainer.log_every=1"};
    for (std::string method : {"u2pl", "adversarial"}) {
        std::string dir = fresh_dir("dp_" + method), straight = fresh_dir("dp_straight_" + method),
                    start = fresh_dir("dp_start_" + method);
        std::string config =
            std::string(PG_TEST_DATA_DIR) + "/../../configs/synth/" + method + "_64.yaml";
        std::vector<std::string> sets = common;
        // U2PL: 4 steps per epoch, so its unsupervised terms start at step 13.
        sets.push_back(method == "u2pl" ? "trainer.iterations=16" : "trainer.iterations=6");
        std::vector<std::string> args{"train", "--config", config, "--run-dir", dir, "-q"};
        for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
        // Two processes (batch 2 each), then three (2, 1 and 1 of the global batch of 4) up to a
        // step past U2PL's warm-up, then one process (batch 4) to the end: the banks, the
        // unlabeled and ground-truth streams go on with each count.
        args.insert(args.end(), {"--stop-after", method == "u2pl" ? "12" : "2"});
        CliResult r = run_mpirun(2, args);
        EXPECT_EQ(r.exit_code, 0) << method << "\n" << r.output;
        CliResult three =
            run_mpirun(3, {"train", "--resume", "--run-dir", dir, "-q", "--stop-after", "2"});
        EXPECT_EQ(three.exit_code, 0) << method << "\n" << three.output;
        expect_says(three, "this run has 3 with dataset.batch_size 1 or 2 each");
        CliResult resumed =
            run_pixelgrad({"train", "--resume", "--run-dir", dir, "-q"}, {"OMP_NUM_THREADS=1"});
        EXPECT_EQ(resumed.exit_code, 0) << method << "\n" << resumed.output;
        expect_says(resumed, "this run has 1 with dataset.batch_size 4 each");
        EXPECT_EQ(rows(dir, "train").size(), method == "u2pl" ? 16u : 6u) << method;
        if (method != "adversarial") continue;
        // AdvSemiSeg draws nothing at random per process here (no dropout, SyncBN, no void
        // pixels): one process with batch 4 all along trains the same weights, up to
        // rounding, only if every process's labeled, unlabeled and ground-truth batches were its
        // share of one process's.
        std::vector<std::string> one = sets;
        one.push_back("dataset.batch_size=4");
        ASSERT_EQ(initial_weights(config, start, one).exit_code, 0);
        ASSERT_EQ(train(0, config, straight, one).exit_code, 0);
        const std::vector<double> w = weights(straight);
        const double off = distance(weights(dir), w) / distance(w, weights(start));
        const std::vector<double> bn = running_stats(straight);
        const double bn_off = distance(running_stats(dir), bn) / distance(bn, running_stats(start));
        std::printf("AdvSemiSeg on 2, 3, then 1 process(es): %.3g of the distance trained from "
                    "1 process, BN statistics %.3g\n",
                    off, bn_off);
        // Measured 7.4e-6 to 7.5e-6 and 4.4e-7 to 4.6e-7 (SkylakeX, Haswell, Sandybridge, Nehalem
        // kernels). With the unlabeled and ground-truth epochs sized by each process's own share
        // instead of the global batch (a bug this test caught), the BN statistics part by 0.02.
        EXPECT_LT(off, 1e-2);
        EXPECT_LT(bn_off, 1e-3);
    }
}

// RIPU: each process scores its share of the target images and writes their maps; every process
// then reads the whole round. Random regions do not depend on the network, so the rounds of two
// processes must be exactly one process's.
TEST(DataParallel, RipuRoundsSplitTheTargetImagesOverProcesses) {
    std::string config = write_config("dp_ripu", "  iterations: 6\n  eval_interval: 6\n");
    std::vector<std::string> sets = ripu_overrides("dp_ripu", "random");
    sets.insert(sets.end(), {"net.sync_bn=true", "net.decoder.dropout=0"});
    std::string start = fresh_dir("dp_ripu_start"), one = fresh_dir("dp_ripu_one"),
                two = fresh_dir("dp_ripu_two");
    ASSERT_EQ(initial_weights(config, start, sets).exit_code, 0);
    ASSERT_EQ(train(0, config, one, sets).exit_code, 0);
    sets.push_back("dataset.batch_size=2");
    CliResult r = train(2, config, two, sets);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (int round : {1, 2}) {
        std::string a = ripu::round_dir(one + "/ripu", round),
                    b = ripu::round_dir(two + "/ripu", round);
        int files = 0;
        for (const auto& f : fs::directory_iterator(a + "/masks")) {
            std::string name = f.path().filename().string();
            for (const char* sub : {"/masks/", "/selected/", "/active/"}) {
                EXPECT_EQ(bytes_of(a + sub + name), bytes_of(b + sub + name))
                    << "round " << round << sub << name;
            }
            ++files;
        }
        EXPECT_EQ(files, 8) << "round " << round;
        auto sa = nlohmann::json::parse(bytes_of(a + "/summary.json"));
        auto sb = nlohmann::json::parse(bytes_of(b + "/summary.json"));
        for (const char* key : {"picks", "selected_pixels", "target_pixels", "images"})
            EXPECT_EQ(sa[key], sb[key]) << "round " << round << " " << key;
    }
    EXPECT_EQ(rows(two, "eval").size(), 1u); // rank 0 evaluated at step 6, the other waited
    // And both processes trained on every image's acquired labels, not only on their own share's.
    const std::vector<double> w0 = weights(start), w1 = weights(one);
    const double apart = distance(weights(two), w1) / distance(w1, w0);
    std::printf("RIPU: 2 processes differ from 1 by %.3g of the distance trained\n", apart);
    // Measured 1.8e-6 to 8.7e-5 (SkylakeX, Haswell, Sandybridge, Nehalem kernels): the CE terms,
    // L_lc and L_nl are means over the pixels of the whole global batch. With each process's own
    // means instead (PyTorch DDP's way) 0.18, as RIPU's few acquired target pixels and the source's
    // void borders are shared out unevenly; 1.01 when each process keeps only its own share's
    // labels. The bound leaves room for rounding that tips a discrete choice, as above.
    EXPECT_LT(apart, 1e-2);
}

} // namespace
} // namespace pg::seg

#endif // PG_MPIRUN
