// RIPU's acquisition on one Cityscapes-sized image on the CPU (seg/train/ripu_parts.h): from the
// native-size softmax (1024 x 2048, 19 classes) to the round's picks. RA: window uncertainty and
// impurity (k = 1), score, greedy selection of 1026 3x3 regions with 5x5 blocking; PA: pixel
// entropy x impurity over 65x65 windows (k = 32), 21 pixels. The network's forward is not timed
// (it is the eval forward TrainStep/ benchmarks already cover).
//   pg_bench --benchmark_filter=^Ripu
#include <benchmark/benchmark.h>

#include "autograd/softmax.h"
#include "seg/train/ripu_parts.h"

namespace pg {
namespace {

using namespace seg::ripu;

constexpr int64_t kHeight = 1024, kWidth = 2048, kClasses = 19;

// A smooth random prediction: class logits from a coarse random grid, upsampled by repetition, so
// that windows see both pure and mixed argmax (real predictions are piecewise constant).
Tensor smooth_probs() {
    Generator gen(3);
    Tensor coarse = Tensor::normal({kHeight / 16, kWidth / 16, kClasses}, gen, 0.f, 2.f);
    Tensor logits = Tensor::empty({kHeight, kWidth, kClasses});
    for (int64_t y = 0; y < kHeight; ++y)
        for (int64_t x = 0; x < kWidth; ++x)
            for (int64_t c = 0; c < kClasses; ++c)
                logits.f32()[(y * kWidth + x) * kClasses + c] =
                    coarse.f32()[((y / 16) * (kWidth / 16) + x / 16) * kClasses + c];
    return softmax(logits);
}

void BM_RipuRound(benchmark::State& state, Selection selection) {
    static const Tensor probs = smooth_probs();
    const bool pixel = selection == Selection::pixel;
    const int64_t k = pixel ? 32 : 1;
    const int64_t count = pixel ? pixels_per_round(kHeight, kWidth, 640, 1280, 40, 5)
                                : regions_per_round(kHeight, kWidth, 0.022, 5, k);
    std::vector<int32_t> truth(size_t(kHeight * kWidth), 0);
    for (auto _ : state) {
        ActiveMaps maps = ActiveMaps::empty(kHeight, kWidth);
        Tensor score = acquisition_score(probs, selection, k);
        std::vector<int64_t> picks =
            greedy_select(score, count, pixel ? 0 : k, pixel ? k : 2 * k, truth, maps);
        benchmark::DoNotOptimize(picks.data());
    }
    state.counters["picks"] = double(count);
}

BENCHMARK_CAPTURE(BM_RipuRound, ra_1024x2048, Selection::region)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RipuRound, pa_1024x2048, Selection::pixel)->Unit(benchmark::kMillisecond);

} // namespace
} // namespace pg
