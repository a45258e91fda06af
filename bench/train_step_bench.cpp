// Whole training steps on the CPU (bench/train_step.h: forward, CE ignore 255 on the logits
// upsampled to the crop, backward, SGD with two lr groups) of the full DeepLabV3+ ResNet-101 (U2PL,
// variant C, no representation head, no aux head) and DeepLab-v2 ResNet-101 (AdvSemiSeg, variant
// A, frozen BN) at a small crop, plus ResNet-50 / width 0.5 versions as quicker entries.
// Reports steps/s, images/s and GFLOP/s (3 x forward conv FLOPs); demo/8x64x64 is `make demo`'s
// network and batch. tools/bench_torch_train_step.py times the same steps in PyTorch.
// Run: pg_bench --benchmark_filter=^TrainStep/
// PG_PROFILE=1 also prints the per-kernel table of the timed steps (bench::time_cpu_steps).
#include <benchmark/benchmark.h>

#include <string>

#include "bench/train_step.h"

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
    bench::time_cpu_steps(state, config.name, config.batch, step.flops_per_step(),
                          [&] { step.run(); });
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
