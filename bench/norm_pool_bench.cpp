// Batch norm and pooling throughput at ResNet-101 / DeepLab shapes (GB/s of compulsory traffic).
// Batch 1 instead of 8-16 and the 321 / 513 crops scaled down so a 2-core CPU runs each in
// milliseconds; the per-pixel work and the channel counts are the networks' own.
#include <benchmark/benchmark.h>

#include "autograd/ops.h"
#include "tensor/backend.h"

namespace pg {
namespace {

// Bytes moved by batch norm, counted in passes over an activation-sized tensor:
// forward = statistics (read x) + normalise (read x, write y) = 3;
// backward = sums (read x, dy) + dx (read x, dy, write dx) = 5.
constexpr int kBnForwardPasses = 3, kBnBackwardPasses = 5;

// Layer3 of ResNet-101 at output stride 8 (1024 ch, 65x65 for a 513 crop) and layer1 of the
// v3+ encoder (256 ch, 129x129), batch 1; 24x24 x 1024, about layer3 of the 129-crop training
// step benchmark (2 x 17x17 pixels), where the tensors fit in L2; and 91x91 x 16, about the demo
// network's narrow layers (8 x 32x32 pixels of 8-32 channels).
void bn_shapes(benchmark::internal::Benchmark* b) {
    b->Args({65, 1024})->Args({129, 256})->Args({24, 1024})->Args({91, 16});
    b->Args({91, 8})->Args({48, 64}); // the demo network: 8 x 32x32 x 8, 8 x 17x17 x 64
}

void BM_BatchNormTrainForward(benchmark::State& state) {
    const int64_t hw = state.range(0), C = state.range(1);
    Generator gen(1);
    Tensor x = Tensor::uniform({1, hw, hw, C}, gen, -1.f, 3.f);
    Tensor w = Tensor::ones({C}), b = Tensor::zeros({C});
    Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});
    for (auto _ : state) benchmark::DoNotOptimize(batch_norm(x, w, b, rm, rv, true).raw());
    state.SetBytesProcessed(state.iterations() * x.nbytes() * kBnForwardPasses);
}
BENCHMARK(BM_BatchNormTrainForward)->Apply(bn_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();

// The op forward + backward as a training step runs it: BN alone, BN then ReLU as two ops, and
// the fused batch_norm_relu (autograd/batch_norm.h) that folds the ReLU into BN's passes. Traffic
// counts BN's 8 compulsory passes for all three (so their GB/s compare as their times do); the
// step also pays for output allocation.
enum class BnStep { alone, then_relu, fused_relu };

void run_bn_step(benchmark::State& state, BnStep kind) {
    const int64_t hw = state.range(0), C = state.range(1);
    Generator gen(1);
    Tensor x = Tensor::uniform({1, hw, hw, C}, gen, -1.f, 3.f);
    Tensor dy = Tensor::uniform({1, hw, hw, C}, gen, -1.f, 1.f);
    Tensor w = Tensor::ones({C}), b = Tensor::zeros({C});
    Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});
    for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
    for (auto _ : state) {
        Tensor y = kind == BnStep::fused_relu ? batch_norm_relu(x, w, b, rm, rv, true)
                                              : batch_norm(x, w, b, rm, rv, true);
        backward(kind == BnStep::then_relu ? relu(y) : y, dy);
        benchmark::DoNotOptimize(x.grad().raw());
        for (Tensor* t : {&x, &w, &b}) t->set_grad(Tensor());
    }
    state.SetBytesProcessed(state.iterations() * x.nbytes() *
                            (kBnForwardPasses + kBnBackwardPasses));
}
void BM_BatchNormTrainStep(benchmark::State& state) { run_bn_step(state, BnStep::alone); }
void BM_BatchNormReluStep(benchmark::State& state) { run_bn_step(state, BnStep::then_relu); }
void BM_BatchNormReluFusedStep(benchmark::State& state) { run_bn_step(state, BnStep::fused_relu); }
BENCHMARK(BM_BatchNormTrainStep)->Apply(bn_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BatchNormReluStep)->Apply(bn_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BatchNormReluFusedStep)
    ->Apply(bn_shapes)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The two kernels alone (training forward, backward for dx, dweight, dbias) on preallocated buffers.
void BM_BatchNormTrainKernels(benchmark::State& state) {
    const int64_t hw = state.range(0), C = state.range(1), rows = hw * hw;
    Generator gen(1);
    Tensor x = Tensor::uniform({rows, C}, gen, -1.f, 3.f), dy = Tensor::uniform({rows, C}, gen);
    Tensor y = Tensor::empty({rows, C}), dx = Tensor::empty({rows, C});
    Tensor w = Tensor::ones({C}), b = Tensor::zeros({C}), rm = Tensor::zeros({C});
    Tensor rv = Tensor::ones({C}), mean = Tensor::empty({C}), invstd = Tensor::empty({C});
    Tensor dw = Tensor::empty({C}), db = Tensor::empty({C});
    Backend& be = backend_for(Device::cpu());
    for (auto _ : state) {
        be.batch_norm_forward_train(y.f32(), mean.f32(), invstd.f32(), rm.f32(), rv.f32(), x.f32(),
                                    w.f32(), b.f32(), rows, C, 0.1f, 1e-5f, false);
        be.batch_norm_backward(dx.f32(), dw.f32(), db.f32(), dy.f32(), x.f32(), w.f32(), mean.f32(),
                               invstd.f32(), rows, C, true, nullptr);
        benchmark::DoNotOptimize(dx.raw());
    }
    state.SetBytesProcessed(state.iterations() * x.nbytes() *
                            (kBnForwardPasses + kBnBackwardPasses));
}
BENCHMARK(BM_BatchNormTrainKernels)->Apply(bn_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BatchNormEvalForward(benchmark::State& state) {
    const int64_t hw = state.range(0), C = state.range(1);
    Generator gen(1);
    Tensor x = Tensor::uniform({1, hw, hw, C}, gen, -1.f, 3.f);
    Tensor w = Tensor::ones({C}), b = Tensor::zeros({C});
    Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});
    for (auto _ : state) benchmark::DoNotOptimize(batch_norm(x, w, b, rm, rv, false).raw());
    state.SetBytesProcessed(state.iterations() * x.nbytes() * 2); // read x, write y
}
BENCHMARK(BM_BatchNormEvalForward)->Apply(bn_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();

// The ResNet stem's max pool (3x3 s2 p1 ceil_mode) after the stride-2 conv of a 321 crop:
// (1, 161, 161, 64) -> (1, 81, 81, 64). Traffic: x + y + argmax forward, dy + argmax + dx backward
// (the op-level step also pays for allocation and the engine's copy of dx into x.grad).
void BM_MaxPoolStemForwardBackward(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform({1, 161, 161, 64}, gen);
    x.set_requires_grad(true);
    Tensor dy = Tensor::uniform({1, 81, 81, 64}, gen);
    for (auto _ : state) {
        backward(max_pool2d(x, 3, 2, 1, true), dy);
        benchmark::DoNotOptimize(x.grad().raw());
        x.set_grad(Tensor());
    }
    state.SetBytesProcessed(state.iterations() * (x.nbytes() * 2 + dy.nbytes() * 4));
}
BENCHMARK(BM_MaxPoolStemForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MaxPoolStemForward(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform({1, 161, 161, 64}, gen);
    for (auto _ : state) benchmark::DoNotOptimize(max_pool2d(x, 3, 2, 1, true).raw());
    state.SetBytesProcessed(state.iterations() * (x.nbytes() + 81 * 81 * 64 * 8));
}
BENCHMARK(BM_MaxPoolStemForward)->Unit(benchmark::kMillisecond)->UseRealTime();

// The image-pooling branch of the v3+ ASPP on layer4 (2048 ch, 65x65), batch 2. Reads x once.
void BM_GlobalAvgPool(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform({2, 65, 65, 2048}, gen);
    for (auto _ : state) benchmark::DoNotOptimize(global_avg_pool(x).raw());
    state.SetBytesProcessed(state.iterations() * x.nbytes());
}
BENCHMARK(BM_GlobalAvgPool)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace pg
