// Whole training steps on a GPU at the methods' real sizes (bench/train_step.h): DeepLabV3+
// ResNet-101 (U2PL, no representation / aux head) at 513 x 513 batch 8 and DeepLab-v2 ResNet-101
// (AdvSemiSeg, frozen BN) at 321 x 321 batch 10, TF32 on (PG_BENCH_TF32=0 turns it off, as in
// bench/gpu_bench.cpp). Device time per step from CUDA events; also the allocator's peak.
// tools/bench_torch_train_step.py --device cuda times the same in PyTorch.
// Run: pg_bench --benchmark_filter=^GpuTrainStep/   (skips itself without a GPU)
// PG_PROFILE=1 then runs 3 more steps under the per-kernel profiler (tensor/profiler.h, which
// synchronizes around every kernel, so those steps are slower) and prints their table to stderr.
#include "pg_config.h"

#if PG_CUDA_ENABLED

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "bench/gpu_timer.h"
#include "bench/train_step.h"
#include "cuda/settings.h"
#include "tensor/backend.h"
#include "tensor/profiler.h"

namespace pg {
namespace {

const Device kGpu = Device::cuda(0);

// Where the step's device time goes: kernel by kernel, outside the timed steps.
void print_kernel_table(bench::TrainStep& step, const std::string& name) {
    constexpr int kSteps = 3;
    profiler::reset();
    profiler::enable(true);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kSteps; ++i) step.run();
    backend_for(kGpu).synchronize();
    const std::chrono::duration<double, std::milli> wall = std::chrono::steady_clock::now() - start;
    profiler::enable(false);
    std::cerr << name << ", " << kSteps << " profiled steps:\n"
              << profiler::format_table(profiler::snapshot(), 30, wall.count()) << "\n";
}

const bench::TrainStepConfig kConfigs[] = {
    {"v3plus_r101/8x513x513", nn::SegArch::deeplabv3plus, 101, 1.f, 8, 513},
    {"v2_r101/10x321x321", nn::SegArch::deeplabv2, 101, 1.f, 10, 321},
};

void run_gpu_train_step(benchmark::State& state, const bench::TrainStepConfig& config) {
    if (!device_available(kGpu)) {
        state.SkipWithError("no CUDA device");
        return;
    }
    const char* tf32 = std::getenv("PG_BENCH_TF32");
    cuda::settings().allow_tf32 = !(tf32 && std::string(tf32) == "0");
    cuda::empty_cache(); // the previous benchmark's blocks must not count here
    cuda::context().allocator->reset_peak();
    bench::TrainStep step(config, kGpu);
    step.run(); // warm-up: cuDNN algorithm choice, the allocator's segments, momentum buffers
    backend_for(kGpu).synchronize();
    bench::GpuTimer timer;
    double total = 0.0;
    for (auto _ : state) {
        timer.start();
        step.run();
        const double seconds = timer.stop();
        state.SetIterationTime(seconds);
        total += seconds;
    }
    if (total <= 0.0) return;
    const double steps = double(state.iterations());
    state.counters["steps/s"] = steps / total;
    state.counters["images/s"] = steps * double(config.batch) / total;
    state.counters["TFLOP/s"] = step.flops_per_step() * steps / total * 1e-12;
    state.counters["GFLOP/step"] = step.flops_per_step() * 1e-9;
    state.counters["peak_GiB"] = double(cuda::allocator_stats().peak_allocated) / double(1 << 30);
    const char* profile = std::getenv("PG_PROFILE");
    if (profile && std::string(profile) != "0") print_kernel_table(step, config.name);
}

const bool kRegistered = [] {
    for (const bench::TrainStepConfig& c : kConfigs)
        benchmark::RegisterBenchmark((std::string("GpuTrainStep/") + c.name).c_str(),
                                     run_gpu_train_step, c)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime()
            ->Iterations(10);
    return true;
}();

} // namespace
} // namespace pg

#endif // PG_CUDA_ENABLED
