// Elementwise and reduction throughput on activation-sized tensors (GB/s).
#include <benchmark/benchmark.h>

#include "autograd/ops.h"
#include "tensor/backend.h"

namespace pg {
namespace {

// DeepLabV3+ decoder activation at 129x129 (513 / 4), batch 2, 256 channels.
const Shape kActivation{2, 129, 129, 256};

void BM_ReluForward(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform(kActivation, gen, -1.f, 1.f);
    for (auto _ : state) benchmark::DoNotOptimize(relu(x).raw());
    state.SetBytesProcessed(state.iterations() * x.nbytes() * 2);
}
BENCHMARK(BM_ReluForward)->Unit(benchmark::kMillisecond)->UseRealTime();

// AdvSemiSeg's discriminator activation (slope 0.2): y = x > 0 ? x : 0.2 x, and its backward
// dx = dy (x > 0 ? 1 : 0.2).
void BM_LeakyReluForward(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform(kActivation, gen, -1.f, 1.f), y = Tensor::empty(kActivation);
    Backend& cpu = backend_for(Device::cpu());
    for (auto _ : state)
        cpu.unary_forward(UnaryOp::leaky_relu, y.f32(), x.f32(), x.numel(), 0.2f, 0.f);
    state.SetBytesProcessed(state.iterations() * x.nbytes() * 2);
}
BENCHMARK(BM_LeakyReluForward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LeakyReluBackward(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform(kActivation, gen, -1.f, 1.f);
    Tensor dy = Tensor::uniform(kActivation, gen), dx = Tensor::empty(kActivation);
    Backend& cpu = backend_for(Device::cpu());
    for (auto _ : state)
        cpu.unary_backward(UnaryOp::leaky_relu, dx.f32(), dy.f32(), x.f32(), x.f32(), x.numel(),
                           0.2f, 0.f);
    state.SetBytesProcessed(state.iterations() * x.nbytes() * 3);
}
BENCHMARK(BM_LeakyReluBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

// dx = dy where y > 0: the kernel of ReLU's backward (reads y and dy, writes dx).
void BM_ReluBackward(benchmark::State& state) {
    Generator gen(1);
    Tensor y = relu(Tensor::uniform(kActivation, gen, -1.f, 1.f));
    Tensor dy = Tensor::uniform(kActivation, gen), dx = Tensor::empty(kActivation);
    Backend& cpu = backend_for(Device::cpu());
    for (auto _ : state)
        cpu.unary_backward(UnaryOp::relu, dx.f32(), dy.f32(), y.f32(), y.f32(), y.numel(), 0.f,
                           0.f);
    state.SetBytesProcessed(state.iterations() * y.nbytes() * 3);
}
BENCHMARK(BM_ReluBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same written over dy, as autograd does when nothing else holds dy (autograd/op_util.h).
void BM_ReluBackwardInPlace(benchmark::State& state) {
    Generator gen(1);
    Tensor y = relu(Tensor::uniform(kActivation, gen, -1.f, 1.f));
    Tensor dy = Tensor::uniform(kActivation, gen);
    Backend& cpu = backend_for(Device::cpu());
    for (auto _ : state)
        cpu.unary_backward(UnaryOp::relu, dy.f32(), dy.f32(), y.f32(), y.f32(), y.numel(), 0.f,
                           0.f);
    state.SetBytesProcessed(state.iterations() * y.nbytes() * 3);
}
BENCHMARK(BM_ReluBackwardInPlace)->Unit(benchmark::kMillisecond)->UseRealTime();

// The residual add + ReLU closing every ResNet block: fused (one pass) against add then relu.
void BM_AddRelu(benchmark::State& state) {
    Generator gen(1);
    Tensor a = Tensor::uniform(kActivation, gen, -1.f, 1.f), b = Tensor::uniform(kActivation, gen);
    for (auto _ : state) benchmark::DoNotOptimize(add_relu(a, b).raw());
    state.SetBytesProcessed(state.iterations() * a.nbytes() * 3);
}
BENCHMARK(BM_AddRelu)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AddThenRelu(benchmark::State& state) {
    Generator gen(1);
    Tensor a = Tensor::uniform(kActivation, gen, -1.f, 1.f), b = Tensor::uniform(kActivation, gen);
    for (auto _ : state) benchmark::DoNotOptimize(relu(a + b).raw());
    state.SetBytesProcessed(state.iterations() * a.nbytes() * 3);
}
BENCHMARK(BM_AddThenRelu)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AddPerChannel(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform(kActivation, gen), bias = Tensor::uniform({256}, gen);
    for (auto _ : state) benchmark::DoNotOptimize((x + bias).raw());
    state.SetBytesProcessed(state.iterations() * x.nbytes() * 2);
}
BENCHMARK(BM_AddPerChannel)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SumToChannel(benchmark::State& state) {
    Generator gen(1);
    Tensor x = Tensor::uniform(kActivation, gen);
    for (auto _ : state) benchmark::DoNotOptimize(sum_to_shape(x, {256}).raw());
    state.SetBytesProcessed(state.iterations() * x.nbytes());
}
BENCHMARK(BM_SumToChannel)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ArgmaxClasses(benchmark::State& state) {
    Generator gen(1);
    Tensor logits = Tensor::uniform({2, 513, 513, 21}, gen); // full-resolution VOC logits
    for (auto _ : state) benchmark::DoNotOptimize(argmax(logits, -1).raw());
    state.SetBytesProcessed(state.iterations() * logits.nbytes());
}
BENCHMARK(BM_ArgmaxClasses)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace pg
