// Indexing and dropout throughput (GB/s of tensor data read + written): one-hot of a DeepLab-v2
// label map, the kernels of one GAT layer on a graph of the label-noise pipeline's size, and
// dropout on a DeepLabV3+ decoder activation. Ops are called as users call them (no grad).
#include <benchmark/benchmark.h>

#include <algorithm>

#include "autograd/ops.h"

namespace pg {
namespace {

// ---- one-hot: AdvSemiSeg's discriminator ground truth, (2, 321, 321) labels to 21 classes ----

void BM_OneHotLabelMap(benchmark::State& state) {
    const Shape shape{2, 321, 321};
    Generator gen(1);
    std::vector<int32_t> labels(size_t(numel(shape)));
    for (auto& l : labels) l = gen.uniform() < 0.05f ? 255 : int32_t(gen.randint(0, 21));
    Tensor y = Tensor::from_vector(labels, shape);
    for (auto _ : state) benchmark::DoNotOptimize(one_hot(y, 21).raw());
    state.SetBytesProcessed(state.iterations() *
                            int64_t(y.nbytes() * (1 + 21))); // i32 in, 21 f32 out
}
BENCHMARK(BM_OneHotLabelMap)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- GAT layer: V = 20000 nodes, E = 200000 edges sorted by destination, 8 heads x 8 features ----

constexpr int64_t kNodes = 20000, kEdges = 200000, kHeads = 8, kFeatures = 64;

struct GatGraph {
    Tensor src, row_ptr; // (E,) source of each edge; (V + 1,) CSR offsets by destination
};

// Random sources; in-degrees drawn around E / V (sorted destinations give the CSR offsets).
const GatGraph& gat_graph() {
    static GatGraph graph = [] {
        Generator gen(2);
        std::vector<int32_t> src(kEdges), dst(kEdges), ptr(kNodes + 1, 0);
        for (int64_t e = 0; e < kEdges; e++) {
            src[size_t(e)] = int32_t(gen.randint(0, kNodes));
            dst[size_t(e)] = int32_t(gen.randint(0, kNodes));
        }
        std::sort(dst.begin(), dst.end());
        for (int32_t d : dst) ptr[size_t(d) + 1]++;
        for (int64_t v = 0; v < kNodes; v++) ptr[size_t(v) + 1] += ptr[size_t(v)];
        return GatGraph{Tensor::from_vector(src, {kEdges}), Tensor::from_vector(ptr, {kNodes + 1})};
    }();
    return graph;
}

void BM_GatIndexSelect(benchmark::State& state) { // gather source features (V, 64) -> (E, 64)
    Generator gen(3);
    Tensor z = Tensor::uniform({kNodes, kFeatures}, gen);
    const GatGraph& g = gat_graph();
    for (auto _ : state) benchmark::DoNotOptimize(index_select(z, g.src).raw());
    state.SetBytesProcessed(state.iterations() * kEdges * (2 * kFeatures * 4 + 4));
}
BENCHMARK(BM_GatIndexSelect)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GatScatterAdd(benchmark::State& state) { // index_select's backward: (E, 64) -> (V, 64)
    Generator gen(4);
    Tensor msg = Tensor::uniform({kEdges, kFeatures}, gen);
    const GatGraph& g = gat_graph();
    for (auto _ : state) benchmark::DoNotOptimize(scatter_add(msg, g.src, kNodes).raw());
    state.SetBytesProcessed(state.iterations() *
                            (kEdges * (kFeatures * 4 + 4) + kNodes * kFeatures * 4));
}
BENCHMARK(BM_GatScatterAdd)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GatSegmentSoftmax(benchmark::State& state) { // attention logits (E, 8) per destination
    Generator gen(5);
    Tensor logits = Tensor::uniform({kEdges, kHeads}, gen, -3.f, 3.f);
    const GatGraph& g = gat_graph();
    for (auto _ : state) benchmark::DoNotOptimize(segment_softmax(logits, g.row_ptr).raw());
    state.SetBytesProcessed(state.iterations() * 2 * int64_t(logits.nbytes()));
}
BENCHMARK(BM_GatSegmentSoftmax)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GatSegmentSum(
    benchmark::State& state) { // aggregation of weighted messages (E, 64) -> (V, 64)
    Generator gen(6);
    Tensor msg = Tensor::uniform({kEdges, kFeatures}, gen);
    const GatGraph& g = gat_graph();
    for (auto _ : state) benchmark::DoNotOptimize(segment_sum(msg, g.row_ptr).raw());
    state.SetBytesProcessed(state.iterations() * (kEdges + kNodes) * kFeatures * 4);
}
BENCHMARK(BM_GatSegmentSum)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- dropout on the DeepLabV3+ decoder activation (2, 129, 129, 256) ----
// Bytes count x read and y written only; the mask's intermediates (uniform, u8 compare, f32 cast,
// scaled mask) are extra traffic of the composed op, so this is the throughput a user sees.

void BM_Dropout(benchmark::State& state) {
    Generator gen(7);
    Tensor x = Tensor::uniform({2, 129, 129, 256}, gen);
    for (auto _ : state) benchmark::DoNotOptimize(dropout(x, 0.5f, true, gen).raw());
    state.SetBytesProcessed(state.iterations() * 2 * int64_t(x.nbytes()));
}
BENCHMARK(BM_Dropout)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Dropout2d(benchmark::State& state) {
    Generator gen(8);
    Tensor x = Tensor::uniform({2, 129, 129, 256}, gen);
    for (auto _ : state) benchmark::DoNotOptimize(dropout2d(x, 0.5f, true, gen).raw());
    state.SetBytesProcessed(state.iterations() * 2 * int64_t(x.nbytes()));
}
BENCHMARK(BM_Dropout2d)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace pg
