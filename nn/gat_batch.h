// Many small graphs, each with its own GAT, trained together: the graphs are laid out as one
// block-diagonal graph (every graph padded to the same node count), and every parameter of the
// 2-layer GAT (nn/gat.h) gains a leading graph axis, so graph g's nodes only ever meet graph g's
// weights. One forward/backward then trains G independent GATs (the label-noise pipeline's
// per-image GATs, shared/specs/label_noise_gat.md step 6) at the cost of a few large ops.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/gat.h"
#include "nn/module.h"

namespace pg::nn {

// G graphs of at most `nodes_per_graph` nodes as one graph of G x nodes_per_graph nodes: graph g's
// node v is node g * nodes_per_graph + v; the padding nodes have no edge (add self-loops to the
// graphs first; padding then gets one too, so every softmax segment is non-empty).
struct GraphBatch {
    CsrGraph graph;
    int64_t graphs = 0, nodes_per_graph = 0;
    Tensor node_graph;                // (G * nodes_per_graph,) i32: the graph of every node
    std::vector<int64_t> graph_nodes; // the real node count of each graph
};
// Graphs of differing sizes; nodes_per_graph 0 = the largest graph's node count.
GraphBatch batch_graphs(const std::vector<CsrGraph>& graphs, int64_t nodes_per_graph = 0);

// gat_conv (nn/gat.h) with one weight set per graph: x (G Vp, F_in), weight (G, K F, F_in),
// att_src / att_dst (G, K, F), bias (G, K F) / (G, F) or undefined. Node i of graph g computes
// exactly what gat_conv computes with graph g's weights.
Tensor gat_conv_batched(const Tensor& x, const Tensor& weight, const Tensor& att_src,
                        const Tensor& att_dst, const Tensor& bias, const GraphBatch& batch,
                        bool concat, float negative_slope, float attention_dropout = 0.f,
                        bool training = false, Generator* gen = nullptr);

// G independent 2-layer GATs with GAT's structure and dropout. Parameters are GAT's with a
// leading graph axis (weight1 = conv1.lin.weight (G, K F, F_in), att_src1 = conv1.att_src as
// (G, K, F), ...); each graph's slice is initialised as GAT's (glorot, bias zero).
class BatchedGAT : public Module {
  public:
    BatchedGAT(const GATOptions& options, int64_t graphs, Generator& gen);
    // x (G Vp, F_in) -> (G Vp, C) logits.
    Tensor forward(const Tensor& x, const GraphBatch& batch);
    // Graph g's weights from a plain GAT (tests: the batch equals the graphs run apart).
    void set_graph(int64_t g, const GAT& gat);
    const GATOptions& options() const { return options_; }
    int64_t graphs() const { return graphs_; }

    // Per layer l in {1, 2}: weight_l (G, K F, F_in), att_src_l, att_dst_l (G, K, F), bias_l.
    Tensor weight1, att_src1, att_dst1, bias1, weight2, att_src2, att_dst2, bias2;

  protected:
    void on_generator(Generator* gen) override { gen_ = gen; }

  private:
    Tensor layer(const Tensor& x, const GraphBatch& batch, int which);
    GATOptions options_;
    int64_t graphs_;
    Generator* gen_ = nullptr;
};

// The sum over graphs of each graph's mean cross-entropy on its labelled nodes (labels (G Vp,) i32,
// 255 = unlabelled): graph g's weights get exactly the gradient of graph g's own mean loss, so the
// batch trains each GAT as if alone. A graph without labelled nodes contributes 0.
Tensor per_graph_cross_entropy(const Tensor& logits, const Tensor& labels, const GraphBatch& batch);

} // namespace pg::nn
