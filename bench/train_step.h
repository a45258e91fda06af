// One supervised training step of a full segmentation network, shared by the whole-step
// benchmarks (bench/train_step_bench.cpp on the CPU, bench/gpu_train_step_bench.cpp on a GPU):
// forward, cross-entropy (ignore 255) on the logits upsampled to the crop, backward, SGD.
// tools/bench_torch_train_step.py times the same step in PyTorch with the same configurations.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "nn/optim.h"
#include "nn/segmenter.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg::bench {

// Steps run before the CPU step benchmarks start timing: the heap reaches its size only in the
// third (v2 R50 w0.5 took 11K and 5.5K page faults in the 2nd and 3rd steps, none after), and the
// first builds the momentum buffers. tools/bench_torch_train_step.py warms PyTorch up alike.
constexpr int kCpuWarmupSteps = 3;

// Runs `step` kCpuWarmupSteps times, then times state's iterations of it and sets the counters
// steps/s, images/s (of `batch`), GFLOP/s and GFLOP/step. PG_PROFILE=1 also prints the per-kernel
// table (tensor/profiler.h) of the timed steps to stderr under `name`: where a step's time goes,
// kernel by kernel, and how much of it is host work between kernels.
void time_cpu_steps(benchmark::State& state, const std::string& name, int64_t batch,
                    double flops_per_step, const std::function<void()>& step);

// A network and a batch. The names are the benchmark names after the prefix ("TrainStep/",
// "GpuTrainStep/") and the keys of tools/bench_torch_train_step.py's CONFIGS.
//   v3plus: U2PL's DeepLabV3+ (ResNet variant C, trainable BN), use_rep OFF and no aux head: the
//           supervised CE step, where nothing would consume the representation; Dropout2d 0.1.
//   v2:     AdvSemiSeg's DeepLab-v2 (ResNet variant A, frozen BN, ASPP-sum of 4 branches).
// width scales the backbone and the v3+ decoder's 256-channel widths alike (1 = the real network).
//   synth_demo: instead, the network of configs/synth/supervised_base.yaml that `make demo` trains
//           (v3+, ResNet C blocks 1,1,2,1 at 1/8 width, decoder 48 / 32 / 64, dilations 2,4,6,
//           3 classes); arch, depth and width are then ignored.
struct TrainStepConfig {
    const char* name;
    nn::SegArch arch;
    int depth;     // 101 or 50
    float width;   // 1 = the real network
    int64_t batch; // images of crop x crop
    int64_t crop;
    bool synth_demo = false;
};

// The network of a configuration (21 classes; the demo's 3).
nn::SegmenterOptions train_step_segmenter(const TrainStepConfig& config);
int64_t train_step_classes(const TrainStepConfig& config);

// Labels in [0, classes) with about 5% ignore_index (255), like VOC's object boundaries.
// (N, H, W) i32 on `device`.
Tensor random_targets(int64_t n, int64_t h, int64_t w, Generator& gen, Device device,
                      int64_t classes = 21);

// The model, its optimizer and one fixed batch on `device`. SGD as the methods train: momentum
// 0.9, weight decay 1e-4, base lr 1e-3 on the backbone (x1) and the heads (x10).
class TrainStep {
  public:
    TrainStep(const TrainStepConfig& config, Device device);
    // zero_grad, forward, loss, backward, SGD step. Queued work is not waited for on a GPU.
    void run();
    // 3 x the forward FLOPs of the batch (SegmentationNet::forward_flops: 2 x conv MACs; the
    // backward of a conv is two convs of the same size). Counted once, at construction.
    double flops_per_step() const { return flops_per_step_; }
    const nn::SegmentationNet& net() const { return *net_; }

  private:
    Generator gen_; // weights, the batch and the dropout masks
    std::shared_ptr<nn::SegmentationNet> net_;
    std::unique_ptr<nn::SGD> optimizer_;
    Tensor image_;  // (N, crop, crop, 3) f32 in [-1, 1)
    Tensor target_; // (N, crop, crop) i32: 21 classes, about 5% ignore (255)
    double flops_per_step_ = 0.0;
};

} // namespace pg::bench
