// The label-noise pipeline's GAT stage (nn/gat_batch.h): one training epoch (forward, per-graph
// loss, backward, Adam) of G per-image GATs batched as one block-diagonal graph, on VOC-sized
// superpixel graphs (1000 nodes, ~6 neighbours each, 21 classes, 8 heads of 8), with F-d node
// features: 512 (decoder features) or 21 (the clean model's softmax, `graph.features: probs`).
// Arguments G/F; items_per_second = graph-epochs per second; a whole image needs `epochs` (200) of
// them, so G = 1 against G = 64 is what batching buys.
//   pg_bench --benchmark_filter=^BM_GatBatch
#include <benchmark/benchmark.h>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/gat_batch.h"
#include "nn/optim.h"

namespace pg {
namespace {

constexpr int64_t kNodes = 1000, kClasses = 21;

// A superpixel-like graph: nodes on a 40 x 25 grid, each joined to its right, lower and lower-right
// neighbours (6 neighbours inside the grid), symmetric, with self-loops.
nn::CsrGraph grid_graph() {
    std::vector<int32_t> src, dst;
    const int W = 40, H = 25;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int v = y * W + x;
            if (x + 1 < W) src.push_back(v), dst.push_back(v + 1);
            if (y + 1 < H) src.push_back(v), dst.push_back(v + W);
            if (x + 1 < W && y + 1 < H) src.push_back(v), dst.push_back(v + W + 1);
        }
    return nn::add_self_loops(nn::CsrGraph::from_edges(kNodes, src, dst, true));
}

void BM_GatBatchEpoch(benchmark::State& state) {
    const int64_t G = state.range(0), features = state.range(1);
    nn::GraphBatch batch = nn::batch_graphs(std::vector<nn::CsrGraph>(size_t(G), grid_graph()));
    Generator gen(1);
    Tensor x = Tensor::normal({G * kNodes, features}, gen);
    std::vector<int32_t> y(size_t(G * kNodes), 255);
    for (size_t v = 0; v < y.size(); v += 2)
        y[v] = int32_t(v % kClasses); // half the nodes labelled
    Tensor labels = Tensor::from_vector(y, {G * kNodes});
    nn::GATOptions o;
    o.in_channels = features;
    o.num_classes = kClasses;
    nn::BatchedGAT net(o, G, gen);
    net.set_generator(&gen);
    net.train();
    nn::AdamOptions ao;
    ao.lr = 5e-3;
    ao.weight_decay = 5e-4;
    nn::Adam adam({nn::ParamGroup{net.parameters()}}, ao);
    for (auto _ : state) {
        adam.zero_grad();
        backward(nn::per_graph_cross_entropy(net.forward(x, batch), labels, batch));
        adam.step();
    }
    state.SetItemsProcessed(state.iterations() * G);
}

BENCHMARK(BM_GatBatchEpoch)
    ->ArgsProduct({{1, 16, 64}, {512, 21}})
    ->ArgNames({"G", "F"})
    ->Unit(benchmark::kMillisecond);

} // namespace
} // namespace pg
