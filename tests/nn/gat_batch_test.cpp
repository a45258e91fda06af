// Graph-batched GATs (nn/gat_batch.h): the block-diagonal layout by hand, G GATs run as one batch
// equal to each GAT run on its own graph (forward and every gradient), the per-graph loss, a
// gradient check of the batched layer, and the batch training each graph's GAT as if alone.
#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/gat_batch.h"
#include "nn/optim.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::nn {
namespace {

using test::all_close;
using test::all_equal;
using test::expect_error;

Tensor i32s(const std::vector<int32_t>& v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

// Two small graphs with self-loops: a path 0-1-2 and a triangle plus a pendant node.
std::vector<CsrGraph> two_graphs() {
    return {add_self_loops(CsrGraph::from_edges(3, {0, 1}, {1, 2}, true)),
            add_self_loops(CsrGraph::from_edges(4, {0, 1, 2, 2}, {1, 2, 0, 3}, true))};
}

TEST(GraphBatch, LaysGraphsOutBlockDiagonallyWithPadding) {
    GraphBatch b = batch_graphs(two_graphs());
    EXPECT_EQ(b.graphs, 2);
    EXPECT_EQ(b.nodes_per_graph, 4);
    EXPECT_EQ(b.graph.num_nodes(), 8);
    // Graph 0: 3 nodes (2 + 3 + 2 in-edges) and padding node 3 with a self-loop; graph 1 at 4..7.
    EXPECT_TRUE(all_equal(b.graph.row_ptr(), i32s({0, 2, 5, 7, 8, 11, 14, 18, 20})));
    EXPECT_TRUE(all_equal(b.graph.col(),
                          i32s({0, 1, 0, 1, 2, 1, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6, 7, 6, 7})));
    EXPECT_TRUE(all_equal(b.node_graph, i32s({0, 0, 0, 0, 1, 1, 1, 1})));
    EXPECT_EQ(b.graph_nodes, (std::vector<int64_t>{3, 4}));
    expect_error([] { batch_graphs(two_graphs(), 3); }, "less than the largest graph");
}

// x for the batch: graph g's rows at g * Vp, padding rows arbitrary.
Tensor batch_features(const std::vector<Tensor>& per_graph, int64_t Vp) {
    std::vector<Tensor> rows;
    for (const Tensor& x : per_graph) {
        rows.push_back(x);
        if (x.size(0) < Vp) rows.push_back(Tensor::full({Vp - x.size(0), x.size(1)}, 0.3));
    }
    return concat(rows, 0);
}

TEST(BatchedGAT, EqualsEachGraphsGATRunApartWithGradients) {
    GATOptions o;
    o.in_channels = 5;
    o.num_classes = 3;
    o.hidden = 4;
    o.heads = 2;
    o.dropout = 0.f;
    Generator g0(1), g1(2), gb(3);
    GAT a(o, g0), b(o, g1);
    BatchedGAT batched(o, 2, gb);
    batched.set_graph(0, a);
    batched.set_graph(1, b);
    std::vector<CsrGraph> graphs = two_graphs();
    GraphBatch batch = batch_graphs(graphs);
    Generator data(7);
    Tensor xa = Tensor::normal({3, 5}, data), xb = Tensor::normal({4, 5}, data);
    Tensor ya = i32s({0, 255, 2}), yb = i32s({1, 1, 255, 0});

    Tensor la = a.forward(xa, graphs[0]), lb = b.forward(xb, graphs[1]);
    Tensor lbatch = batched.forward(batch_features({xa, xb}, 4), batch);
    EXPECT_TRUE(all_close(narrow(lbatch, 0, 0, 3), la, 1e-5f, 1e-5f));
    EXPECT_TRUE(all_close(narrow(lbatch, 0, 4, 4), lb, 1e-5f, 1e-5f));

    // The batch's loss is the sum of the graphs' own mean CE, so every gradient matches.
    Tensor loss = per_graph_cross_entropy(lbatch, i32s({0, 255, 2, 255, 1, 1, 255, 0}), batch);
    Tensor apart = cross_entropy(la, ya) + cross_entropy(lb, yb);
    EXPECT_NEAR(loss.item(), apart.item(), 1e-5);
    backward(loss);
    backward(apart);
    const int64_t n1 = a.conv1->lin->weight.numel();
    std::vector<float> gw = batched.weight1.grad().to_f32_vector();
    std::vector<float> ga = a.conv1->lin->weight.grad().to_f32_vector();
    std::vector<float> gbv = b.conv1->lin->weight.grad().to_f32_vector();
    for (int64_t i = 0; i < n1; i++) {
        EXPECT_NEAR(gw[size_t(i)], ga[size_t(i)], 1e-5) << i;
        EXPECT_NEAR(gw[size_t(n1 + i)], gbv[size_t(i)], 1e-5) << i;
    }
    std::vector<float> gatt = batched.att_src2.grad().to_f32_vector();
    std::vector<float> gatt_b = b.conv2->att_src.grad().to_f32_vector();
    const int64_t n2 = b.conv2->att_src.numel();
    for (int64_t i = 0; i < n2; i++) EXPECT_NEAR(gatt[size_t(n2 + i)], gatt_b[size_t(i)], 1e-5);
}

TEST(BatchedGAT, AGraphWithoutLabelledNodesAddsNothing) {
    GraphBatch batch = batch_graphs(two_graphs());
    Generator gen(4);
    Tensor logits = Tensor::normal({8, 3}, gen);
    Tensor only_first =
        per_graph_cross_entropy(logits, i32s({0, 1, 255, 255, 255, 255, 255, 255}), batch);
    EXPECT_NEAR(only_first.item(), cross_entropy(narrow(logits, 0, 0, 2), i32s({0, 1})).item(),
                1e-6);
    EXPECT_EQ(per_graph_cross_entropy(logits, Tensor::full({8}, 255, DType::i32), batch).item(),
              0.f);
}

TEST(BatchedGAT, LayerGradcheck) {
    GraphBatch batch = batch_graphs(two_graphs());
    for (bool concat : {true, false}) {
        SCOPED_TRACE(concat ? "concat" : "mean");
        Generator gen(5);
        std::vector<Tensor> inputs{
            test::random_leaf({8, 3}, gen), test::random_leaf({2, 4, 3}, gen),
            test::random_leaf({2, 2, 2}, gen), test::random_leaf({2, 2, 2}, gen),
            test::random_leaf({2, concat ? 4 : 2}, gen)};
        auto f = [&](const std::vector<Tensor>& in) {
            return gat_conv_batched(in[0], in[1], in[2], in[3], in[4], batch, concat, 0.2f);
        };
        PG_EXPECT_GRADCHECK(f, inputs);
    }
}

TEST(BatchedGAT, TrainingTheBatchFitsEachGraphsLabels) {
    GATOptions o;
    o.in_channels = 5;
    o.num_classes = 2;
    o.dropout = 0.f;
    Generator gen(6);
    BatchedGAT net(o, 2, gen);
    GraphBatch batch = batch_graphs(two_graphs());
    Tensor x = Tensor::normal({8, 5}, gen);
    // Opposite labels for the two graphs' first nodes: one shared GAT could not fit both.
    Tensor y = i32s({0, 0, 1, 255, 1, 1, 0, 0});
    AdamOptions ao;
    ao.lr = 5e-2;
    Adam adam({ParamGroup{net.parameters()}}, ao);
    for (int step = 0; step < 60; step++) {
        adam.zero_grad();
        Tensor loss = per_graph_cross_entropy(net.forward(x, batch), y, batch);
        backward(loss);
        adam.step();
    }
    std::vector<int32_t> pred = argmax(net.forward(x, batch), 1).to_i32_vector();
    std::vector<int32_t> want = y.to_i32_vector();
    for (size_t v = 0; v < want.size(); v++) {
        if (want[v] != 255) { EXPECT_EQ(pred[v], want[v]) << v; }
    }
}

} // namespace
} // namespace pg::nn
