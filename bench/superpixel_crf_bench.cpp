// The label-noise pipeline's per-image pixel stages on a VOC-sized picture (500 x 375): SLIC with
// VOC's 1000 superpixels (seg/correct/slic.h) and the dense CRF's mean field, 10 iterations over
// 21 classes through the permutohedral lattice (seg/correct/dense_crf.h). items_per_second =
// images per second on one thread of this machine.
//   pg_bench --benchmark_filter='^(Slic|DenseCrf)'
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "seg/correct/dense_crf.h"
#include "seg/correct/slic.h"

namespace pg::seg {
namespace {

constexpr int kH = 375, kW = 500, kClasses = 21;

// Smooth colour blobs with noise: a stand-in for a photograph's regions and texture.
Image blobs() {
    Image im{kH, kW, 3, std::vector<uint8_t>(size_t(kH) * kW * 3)};
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> noise(-12, 12);
    for (int y = 0; y < kH; y++)
        for (int x = 0; x < kW; x++)
            for (int c = 0; c < 3; c++) {
                double v =
                    128 + 100 * std::sin(0.021 * x * (c + 1)) * std::cos(0.017 * y * (3 - c));
                im.pixels[(size_t(y) * kW + x) * 3 + c] =
                    uint8_t(std::clamp(int(v) + noise(rng), 0, 255));
            }
    return im;
}

void BM_Slic(benchmark::State& state) {
    Image im = blobs();
    SlicOptions o;
    o.num_segments = 1000;
    int count = 0;
    for (auto _ : state) benchmark::DoNotOptimize(count = slic(im, o).count);
    state.counters["superpixels"] = count;
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Slic)->Unit(benchmark::kMillisecond);

void BM_DenseCrf(benchmark::State& state) {
    Image im = blobs();
    // Soft, position-dependent unaries: the label of the blob a pixel sits in, at 0.6.
    std::vector<float> p(size_t(kH) * kW * kClasses, 0.4f / (kClasses - 1));
    for (int y = 0; y < kH; y++)
        for (int x = 0; x < kW; x++)
            p[(size_t(y) * kW + x) * kClasses + (x / 50 + y / 75) % kClasses] = 0.6f;
    DenseCrfOptions o;
    o.iterations = int(state.range(0));
    for (auto _ : state) benchmark::DoNotOptimize(dense_crf(im, p, kClasses, o));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DenseCrf)->Arg(10)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace pg::seg
