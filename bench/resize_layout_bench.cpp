// Resize and layout throughput at the shapes of the real networks (GB/s = bytes read + written).
// Bilinear: DeepLab-v2 logits to the crop and the DeepLabV3+ ASPP output to stride 4 (the forward
// op, and both kernels alone); nearest label maps; channel concat; pad / crop / flip of image
// batches. Full training shapes: each case moves at most ~140 MB, a few ms to ~60 ms on 2 cores.
#include <benchmark/benchmark.h>

#include "autograd/ops.h"
#include "tensor/backend.h"

namespace pg {
namespace {

// DeepLab-v2 logits (stride 8 of a 513 crop, 21 VOC classes) -> the 513x513 crop.
const Shape kLogits{1, 65, 65, 21};
constexpr int64_t kCrop = 513;
// DeepLabV3+ ASPP head output (stride 8, 256 channels, batch 2) -> layer1 size (stride 4).
const Shape kAspp{2, 65, 65, 256};
constexpr int64_t kStride4 = 129;

int64_t bytes_of(const Shape& s, DType dtype = DType::f32) {
    return numel(s) * int64_t(dtype_size(dtype));
}

// The op, as a network calls it: includes allocating the output (for outputs over glibc's 32 MB
// mmap threshold that means fresh pages, first-touch faults and all, on every call).
void bilinear_forward(benchmark::State& state, const Shape& in, int64_t out) {
    Generator gen(1);
    Tensor x = Tensor::uniform(in, gen);
    for (auto _ : state) benchmark::DoNotOptimize(resize_bilinear(x, out, out, true).raw());
    Shape out_shape{in[0], out, out, in[3]};
    state.SetBytesProcessed(state.iterations() * (bytes_of(in) + bytes_of(out_shape)));
}

// The kernels alone, into preallocated outputs: forward, and the adjoint that backward() runs.
void bilinear_kernel(benchmark::State& state, const Shape& in, int64_t out, bool backward) {
    Generator gen(1);
    Shape out_shape{in[0], out, out, in[3]};
    Tensor x = Tensor::uniform(in, gen), y = Tensor::uniform(out_shape, gen);
    ResizeGeometry g{in[0], in[1], in[2], in[3], out, out, true};
    Backend& cpu = backend_for(Device::cpu());
    for (auto _ : state) {
        if (backward) {
            cpu.resize_bilinear_backward(x.f32(), y.f32(), g);
        } else {
            cpu.resize_bilinear_forward(y.f32(), x.f32(), g);
        }
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * (bytes_of(in) + bytes_of(out_shape)));
}

void BM_BilinearLogitsForward(benchmark::State& state) { bilinear_forward(state, kLogits, kCrop); }
void BM_BilinearLogitsForwardKernel(benchmark::State& state) {
    bilinear_kernel(state, kLogits, kCrop, false);
}
void BM_BilinearLogitsBackwardKernel(benchmark::State& state) {
    bilinear_kernel(state, kLogits, kCrop, true);
}
void BM_BilinearAsppForward(benchmark::State& state) { bilinear_forward(state, kAspp, kStride4); }
void BM_BilinearAsppForwardKernel(benchmark::State& state) {
    bilinear_kernel(state, kAspp, kStride4, false);
}
void BM_BilinearAsppBackwardKernel(benchmark::State& state) {
    bilinear_kernel(state, kAspp, kStride4, true);
}
BENCHMARK(BM_BilinearLogitsForward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BilinearLogitsForwardKernel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BilinearLogitsBackwardKernel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BilinearAsppForward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BilinearAsppForwardKernel)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BilinearAsppBackwardKernel)->Unit(benchmark::kMillisecond)->UseRealTime();

// A batch of u8 label maps (513 crops, batch 8) down to stride 4 (U2PL's auxiliary targets).
void BM_NearestLabels(benchmark::State& state) {
    Tensor labels = Tensor::full({8, kCrop, kCrop}, 7.0, DType::u8);
    for (auto _ : state) benchmark::DoNotOptimize(resize_nearest(labels, kStride4, kStride4).raw());
    state.SetBytesProcessed(state.iterations() * (bytes_of({8, kCrop, kCrop}, DType::u8) +
                                                  bytes_of({8, kStride4, kStride4}, DType::u8)));
}
BENCHMARK(BM_NearestLabels)->Unit(benchmark::kMillisecond)->UseRealTime();

// DeepLabV3+ decoder: low-level features and upsampled ASPP output joined on channels.
void BM_ConcatChannels(benchmark::State& state) {
    Generator gen(1);
    Shape s{2, kStride4, kStride4, 256};
    Tensor a = Tensor::uniform(s, gen), b = Tensor::uniform(s, gen);
    for (auto _ : state) benchmark::DoNotOptimize(concat({a, b}, -1).raw());
    state.SetBytesProcessed(state.iterations() * bytes_of(s) * 4); // read 2, write 2
}
BENCHMARK(BM_ConcatChannels)->Unit(benchmark::kMillisecond)->UseRealTime();

// Augmentation on an f32 image batch (8, 513, 513, 3): pad by 16 on every side, a 449x449 crop,
// a horizontal flip.
const Shape kImages{8, kCrop, kCrop, 3};

void BM_PadImages(benchmark::State& state) {
    Tensor x = Tensor::ones(kImages);
    for (auto _ : state) benchmark::DoNotOptimize(pad(x, 16, 16, 16, 16, 0.0).raw());
    state.SetBytesProcessed(state.iterations() *
                            (bytes_of(kImages) + bytes_of({8, kCrop + 32, kCrop + 32, 3})));
}
BENCHMARK(BM_PadImages)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CropImages(benchmark::State& state) {
    Tensor x = Tensor::ones(kImages);
    for (auto _ : state) benchmark::DoNotOptimize(crop(x, 40, 24, 449, 449).raw());
    state.SetBytesProcessed(state.iterations() * bytes_of({8, 449, 449, 3}) * 2);
}
BENCHMARK(BM_CropImages)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FlipImages(benchmark::State& state) {
    Tensor x = Tensor::ones(kImages);
    for (auto _ : state) benchmark::DoNotOptimize(flip_horizontal(x).raw());
    state.SetBytesProcessed(state.iterations() * bytes_of(kImages) * 2);
}
BENCHMARK(BM_FlipImages)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace pg
