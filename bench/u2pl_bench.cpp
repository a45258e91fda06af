// U2PL's per-step extras at VOC-like shapes: the whole contrastive term with its backward
// (host-side pixel choice from the teacher's ranks, bank pushes, 256 anchors x 50 bank keys of
// InfoNCE per valid class) and the pixel choice alone; pixels/s of the representation map. A 257
// crop (rep at stride 4: 65 x 65), 2 labeled + 2 unlabeled images (U2PL's VOC batch is 16 + 16),
// 21 classes, 256-d embeddings.
#include <benchmark/benchmark.h>

#include "autograd/ops.h"
#include "seg/train/u2pl_contrastive.h"

namespace pg {
namespace {

using seg::u2pl::ContrastiveInputs;
using seg::u2pl::ContrastiveOptions;
using seg::u2pl::MemoryBank;

const int64_t kLabeled = 2, kUnlabeled = 2, kSide = 65, kClasses = 21, kDim = 256;

// Peaked random class probabilities (N, h, w, C): softmax of 4 x N(0, 1) logits, so that ranks,
// reliable and unreliable pixels all occur, as with a half-trained teacher.
Tensor random_probabilities(int64_t n, Generator& gen) {
    return softmax(mul(Tensor::normal({n, kSide, kSide, kClasses}, gen), 4.f));
}

// (U, h, w) u8: the unlabeled pixels whose uniform draw lies in [lo, hi); disjoint ranges give
// disjoint masks, as reliable and unreliable pixels are.
Tensor random_mask(float lo, float hi, Generator& gen) {
    std::vector<float> u =
        Tensor::uniform({kUnlabeled, kSide, kSide}, gen, 0.f, 1.f).to_f32_vector();
    std::vector<uint8_t> m(u.size());
    for (size_t i = 0; i < u.size(); i++) m[i] = u[i] >= lo && u[i] < hi;
    return Tensor::from_vector(m, {kUnlabeled, kSide, kSide});
}

ContrastiveInputs random_inputs(Generator& gen) {
    const int64_t n = kLabeled + kUnlabeled;
    ContrastiveInputs in;
    in.num_labeled = kLabeled;
    in.prob_teacher = random_probabilities(n, gen);
    in.labels = argmax(in.prob_teacher, 3); // (N, h, w) i32: the teacher's top class
    in.reliable = random_mask(0.f, 0.5f, gen);
    in.unreliable = random_mask(0.5f, 0.83f, gen);
    in.rep = Tensor::normal({n, kSide, kSide, kDim}, gen).set_requires_grad(true);
    in.rep_teacher = Tensor::normal({n, kSide, kSide, kDim}, gen);
    return in;
}

// The whole term, forward + backward, banks at U2PL's VOC capacities (filling as in training).
void BM_U2plContrastiveStep(benchmark::State& state) {
    Generator gen(1);
    ContrastiveInputs in = random_inputs(gen);
    std::vector<int64_t> capacities(kClasses, 30000);
    capacities[0] = 50000;
    MemoryBank bank(capacities, kDim, Device::cpu());
    ContrastiveOptions options;
    for (auto _ : state) {
        seg::u2pl::ContrastiveResult r = seg::u2pl::contrastive_loss(in, bank, options, gen);
        backward(r.loss);
        benchmark::DoNotOptimize(in.rep.grad().raw());
        in.rep.set_grad(Tensor());
    }
    state.SetItemsProcessed(state.iterations() * (kLabeled + kUnlabeled) * kSide * kSide);
}
BENCHMARK(BM_U2plContrastiveStep)->Unit(benchmark::kMillisecond)->UseRealTime();

// The host-side choice alone (ranks of every pixel's C probabilities).
void BM_U2plSelectPixels(benchmark::State& state) {
    Generator gen(2);
    ContrastiveInputs in = random_inputs(gen);
    ContrastiveOptions options;
    for (auto _ : state) benchmark::DoNotOptimize(seg::u2pl::select_pixels(in, options).data());
    state.SetItemsProcessed(state.iterations() * (kLabeled + kUnlabeled) * kSide * kSide);
}
BENCHMARK(BM_U2plSelectPixels)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace pg
