// Whole training steps on the CPU (bench/train_step.h: forward, CE ignore 255 on the logits
// upsampled to the crop, backward, SGD with two lr groups) of the full DeepLabV3+ ResNet-101 (U2PL,
// variant C, no representation head, no aux head) and DeepLab-v2 ResNet-101 (AdvSemiSeg, variant
// A, frozen BN) at a small crop, plus ResNet-50 / width 0.5 versions as quicker entries.
// Reports steps/s, images/s and GFLOP/s (3 x forward conv FLOPs); demo/8x64x64 is `make demo`'s
// network and batch. tools/bench_torch_train_step.py times the same steps in PyTorch.
// Run: pg_bench --benchmark_filter=^TrainStep/
// PG_PROFILE=1 also prints the per-kernel table (tensor/profiler.h) of the timed steps to stderr:
// where the step's time goes, kernel by kernel, and how much of it is host work between kernels.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "bench/train_step.h"
#include "tensor/profiler.h"

namespace pg {
namespace {

// 2 x 129 x 129 (129 = 4 x 32 + 1, so the stride-4 / stride-8 maps are 33 x 33 and 17 x 17, as a
// 513 crop gives 129 and 65): full ResNet-101 steps of 240 (v3+) and 155 (v2) GFLOP, 1-2 s each
// with 2 threads on an idle machine; the reduced networks take a few tenths of a second.
const bench::TrainStepConfig kConfigs[] = {
    {"v3plus_r101/2x129x129", nn::SegArch::deeplabv3plus, 101, 1.f, 2, 129},
    {"v2_r101/2x129x129", nn::SegArch::deeplabv2, 101, 1.f, 2, 129},
    {"v3plus_r50_w0.5/2x129x129", nn::SegArch::deeplabv3plus, 50, 0.5f, 2, 129},
    {"v2_r50_w0.5/2x129x129", nn::SegArch::deeplabv2, 50, 0.5f, 2, 129},
    // `make demo`'s network and batch (configs/synth/supervised_base.yaml): 8 x 64x64, 3 classes.
    {"demo/8x64x64", nn::SegArch::deeplabv3plus, 50, 0.125f, 8, 64, true},
};

void run_train_step(benchmark::State& state, const bench::TrainStepConfig& config) {
    bench::TrainStep step(config, Device::cpu());
    for (int i = 0; i < bench::kCpuWarmupSteps; i++) step.run();
    const bool profile = std::getenv("PG_PROFILE") && std::string(std::getenv("PG_PROFILE")) != "0";
    profiler::reset();
    profiler::enable(profile);
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) step.run();
    const std::chrono::duration<double, std::milli> wall = std::chrono::steady_clock::now() - start;
    profiler::enable(false);
    if (profile)
        std::cerr << config.name << ", " << state.iterations() << " steps:\n"
                  << profiler::format_table(profiler::snapshot(), 30, wall.count()) << "\n";
    const double flops = step.flops_per_step();
    state.counters["steps/s"] =
        benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["images/s"] =
        benchmark::Counter(double(config.batch), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/step"] = flops * 1e-9;
}

const bool kRegistered = [] {
    for (const bench::TrainStepConfig& c : kConfigs)
        benchmark::RegisterBenchmark((std::string("TrainStep/") + c.name).c_str(), run_train_step,
                                     c)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(3);
    return true;
}();

} // namespace
} // namespace pg
