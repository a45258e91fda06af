// Softmax / sort / loss throughput at segmentation shapes: fused cross-entropy forward + backward
// on full-resolution logits, softmax / entropy / top-k over per-pixel class vectors, the entropy
// percentile of U2PL, and BCE with logits on discriminator maps. GB/s of memory touched, rows/s.
#include <benchmark/benchmark.h>

#include "autograd/ops.h"

namespace pg {
namespace {

// Per-pixel rows of DeepLabV3+ logits at stride 4 of a 513x513 crop: 2 x 129 x 129 pixels, 21 classes.
const int64_t kPixels = 2 * 129 * 129;
const int64_t kVocClasses = 21;

// Integer labels in [0, classes) with about 1 pixel in 16 ignored (255), as in VOC masks.
Tensor random_labels(const Shape& shape, int64_t classes, Generator& gen) {
    std::vector<float> u = Tensor::uniform(shape, gen, 0.f, 1.f).to_f32_vector();
    std::vector<uint8_t> labels(u.size());
    for (size_t i = 0; i < u.size(); i++)
        labels[i] = u[i] < 1.f / 16 ? 255 : uint8_t(int64_t(u[i] * 1e6f) % classes);
    return Tensor::from_vector(labels, shape);
}

// Fused CE forward + backward (mean over non-ignored pixels). Bytes: the forward reads the logits,
// the backward reads them again and writes dlogits (3 logits-sized passes; targets are small).
// Shapes: VOC DeepLab-v2 crops (321 x 321, batch 2 instead of 10) and Cityscapes logits at half
// of a 769 crop (385 x 385, batch 1 instead of 4), to stay quick on a 2-core CPU.
void BM_CrossEntropyForwardBackward(benchmark::State& state) {
    Shape shape{state.range(0), state.range(1), state.range(1), state.range(2)};
    Generator gen(1);
    Tensor logits = Tensor::uniform(shape, gen, -4.f, 4.f);
    logits.set_requires_grad(true);
    Tensor target = random_labels({shape[0], shape[1], shape[2]}, shape[3], gen);
    for (auto _ : state) {
        logits.set_grad(Tensor()); // no accumulation pass between iterations
        backward(cross_entropy(logits, target));
        benchmark::DoNotOptimize(logits.grad().raw());
    }
    int64_t rows = target.numel();
    state.SetBytesProcessed(state.iterations() * int64_t(logits.nbytes() * 3 + target.nbytes()));
    state.counters["rows/s"] =
        benchmark::Counter(double(state.iterations() * rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CrossEntropyForwardBackward)
    ->Args({2, 321, 21})
    ->Args({1, 385, 19})
    ->Args({8, 64, 3}) // the demo network's logits
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_SoftmaxForward(benchmark::State& state) {
    Generator gen(2);
    Tensor x = Tensor::uniform({kPixels, kVocClasses}, gen, -4.f, 4.f);
    for (auto _ : state) benchmark::DoNotOptimize(softmax(x).raw());
    state.SetBytesProcessed(state.iterations() * int64_t(x.nbytes() * 2));
}
BENCHMARK(BM_SoftmaxForward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SoftmaxForwardBackward(benchmark::State& state) {
    Generator gen(3);
    Tensor x = Tensor::uniform({kPixels, kVocClasses}, gen, -4.f, 4.f);
    Tensor dy = Tensor::uniform({kPixels, kVocClasses}, gen);
    x.set_requires_grad(true);
    for (auto _ : state) {
        x.set_grad(Tensor());
        backward(softmax(x), dy);
        benchmark::DoNotOptimize(x.grad().raw());
    }
    // forward: read x, write y; backward: read dy and y, write dx.
    state.SetBytesProcessed(state.iterations() * int64_t(x.nbytes() * 5));
}
BENCHMARK(BM_SoftmaxForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Entropy(benchmark::State& state) {
    Generator gen(4);
    Tensor p = softmax(Tensor::uniform({kPixels, kVocClasses}, gen, -4.f, 4.f));
    for (auto _ : state) benchmark::DoNotOptimize(entropy(p).raw());
    state.SetBytesProcessed(state.iterations() * int64_t(p.nbytes()));
}
BENCHMARK(BM_Entropy)->Unit(benchmark::kMillisecond)->UseRealTime();

// U2PL's class ranks: every pixel's 21 probabilities fully sorted (k = C).
void BM_TopKAllClasses(benchmark::State& state) {
    Generator gen(5);
    Tensor p = softmax(Tensor::uniform({kPixels, kVocClasses}, gen, -4.f, 4.f));
    for (auto _ : state) benchmark::DoNotOptimize(topk(p, kVocClasses).indices.raw());
    state.SetBytesProcessed(state.iterations() * int64_t(p.nbytes() * 3)); // read p, write v + i
    state.counters["rows/s"] =
        benchmark::Counter(double(state.iterations() * kPixels), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TopKAllClasses)->Unit(benchmark::kMillisecond)->UseRealTime();

// U2PL's entropy threshold: np.percentile(entropy, 100 * (1 - alpha)) over every pixel.
void BM_PercentileOfEntropy(benchmark::State& state) {
    Generator gen(6);
    Tensor h = entropy(softmax(Tensor::uniform({kPixels, kVocClasses}, gen, -4.f, 4.f)));
    for (auto _ : state) benchmark::DoNotOptimize(percentile(h, 80.0));
    state.SetBytesProcessed(state.iterations() * int64_t(h.nbytes()));
    state.counters["rows/s"] =
        benchmark::Counter(double(state.iterations() * kPixels), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PercentileOfEntropy)->Unit(benchmark::kMillisecond)->UseRealTime();

// AdvSemiSeg's adversarial loss: BCE on the discriminator map upsampled to the 321 x 321 crop
// (batch 2 instead of 10), with the semi-supervised confidence mask. Forward + backward.
void BM_BceWithLogitsForwardBackward(benchmark::State& state) {
    Generator gen(7);
    Shape shape{2, 321, 321, 1};
    Tensor x = Tensor::uniform(shape, gen, -6.f, 6.f);
    x.set_requires_grad(true);
    Tensor t = Tensor::ones(shape);
    Tensor valid = gt(Tensor::uniform(shape, gen), 0.2f);
    for (auto _ : state) {
        x.set_grad(Tensor());
        backward(bce_with_logits(x, t, valid));
        benchmark::DoNotOptimize(x.grad().raw());
    }
    // forward: read x, t, valid, write loss; backward: read x, t, valid, dloss, write dx.
    state.SetBytesProcessed(state.iterations() * int64_t(x.nbytes() * 7 + valid.nbytes() * 2));
}
BENCHMARK(BM_BceWithLogitsForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace pg
