// Graph-batched GATs (nn/gat_batch.h): the block-diagonal layout, gat_conv with per-graph weights
// (a batched matrix product for the projections, per-node gathers of each graph's attention vectors
// and bias) and the per-graph loss. The attention itself is gat_conv's (gat_attend): scores per edge, a softmax
// per destination segment, a weighted segment sum.
#include "nn/gat_batch.h"

#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"

namespace pg::nn {

GraphBatch batch_graphs(const std::vector<CsrGraph>& graphs, int64_t nodes_per_graph) {
    PG_CHECK(!graphs.empty(), "batch_graphs: no graphs");
    int64_t largest = 0;
    for (const CsrGraph& g : graphs) largest = std::max(largest, g.num_nodes());
    if (nodes_per_graph == 0) nodes_per_graph = std::max<int64_t>(largest, 1);
    PG_CHECK(nodes_per_graph >= largest, "batch_graphs: nodes_per_graph ", nodes_per_graph,
             " is less than the largest graph's ", largest, " nodes");
    const int64_t G = int64_t(graphs.size()), Vp = nodes_per_graph;
    std::vector<int32_t> ptr{0}, col, node_graph(size_t(G * Vp));
    GraphBatch batch;
    for (int64_t g = 0; g < G; g++) {
        std::vector<int32_t> gp = graphs[size_t(g)].row_ptr().to_i32_vector();
        std::vector<int32_t> gc = graphs[size_t(g)].col().to_i32_vector();
        const int32_t offset = int32_t(g * Vp);
        for (int64_t v = 0; v < Vp; v++) {
            node_graph[size_t(offset + v)] = int32_t(g);
            if (v < graphs[size_t(g)].num_nodes()) {
                for (int32_t e = gp[size_t(v)]; e < gp[size_t(v) + 1]; e++)
                    col.push_back(offset + gc[size_t(e)]);
            } else {
                col.push_back(offset + int32_t(v)); // padding attends to itself only
            }
            ptr.push_back(int32_t(col.size()));
        }
        batch.graph_nodes.push_back(graphs[size_t(g)].num_nodes());
    }
    const Device device = graphs[0].device();
    batch.graph = CsrGraph::from_csr(Tensor::from_vector(ptr, {int64_t(ptr.size())}, device),
                                     Tensor::from_vector(col, {int64_t(col.size())}, device));
    batch.graphs = G;
    batch.nodes_per_graph = Vp;
    batch.node_graph = Tensor::from_vector(node_graph, {G * Vp}, device);
    return batch;
}

Tensor gat_conv_batched(const Tensor& x, const Tensor& weight, const Tensor& att_src,
                        const Tensor& att_dst, const Tensor& bias, const GraphBatch& batch,
                        bool concat, float negative_slope, float attention_dropout, bool training,
                        Generator* gen) {
    const int64_t G = batch.graphs, Vp = batch.nodes_per_graph, V = G * Vp;
    PG_CHECK(att_src.dim() == 3 && att_src.size(0) == G && att_dst.shape() == att_src.shape(),
             "gat_conv_batched: att_src ", shape_str(att_src.shape()), " and att_dst ",
             shape_str(att_dst.shape()), " must both be (graphs = ", G, ", heads, out_channels)");
    const int64_t K = att_src.size(1), F = att_src.size(2);
    PG_CHECK(x.dim() == 2 && x.size(0) == V, "gat_conv_batched: node features ",
             shape_str(x.shape()), " must be (graphs x nodes_per_graph = ", V, ", F_in)");
    PG_CHECK(weight.dim() == 3 && weight.size(0) == G && weight.size(1) == K * F &&
                 weight.size(2) == x.size(1),
             "gat_conv_batched: weight ", shape_str(weight.shape()), " must be (", G, ", ", K * F,
             ", ", x.size(1), ")");
    // z = W_g h per graph: (G, Vp, F_in) x (G, F_in, K F) -> (V, K, F).
    Tensor z =
        reshape(matmul(reshape(x, {G, Vp, x.size(1)}), permute(weight, {0, 2, 1})), {V, K, F});
    // Every node's own graph's attention vectors: (G, K F) rows gathered by node_graph.
    Tensor a_src = reshape(index_select(reshape(att_src, {G, K * F}), batch.node_graph), {V, K, F});
    Tensor a_dst = reshape(index_select(reshape(att_dst, {G, K * F}), batch.node_graph), {V, K, F});
    Tensor s_src = sum(z * a_src, -1), s_dst = sum(z * a_dst, -1); // (V, K)
    Tensor out = gat_attend(z, s_src, s_dst, batch.graph, concat, negative_slope, attention_dropout,
                            training, gen);
    if (bias.defined()) {
        PG_CHECK(bias.dim() == 2 && bias.size(0) == G && bias.size(1) == out.size(1),
                 "gat_conv_batched: bias ", shape_str(bias.shape()), " must be (", G, ", ",
                 out.size(1), ")");
        out = out + index_select(bias, batch.node_graph);
    }
    return out;
}

namespace {

// Graph by graph, GATLayer's glorot init of a (G, rows, cols) tensor over its last two dims.
Tensor glorot_per_graph(int64_t G, int64_t rows, int64_t cols, Generator& gen) {
    Tensor t = Tensor::empty({G, rows, cols});
    const float bound = std::sqrt(6.f / float(rows + cols));
    init_uniform(t, bound, gen);
    return t;
}

// Copies `from` (any shape, numel = slice size) into slice g of the CPU tensor `to` (G, ...).
void copy_slice(Tensor& to, int64_t g, const Tensor& from) {
    PG_CHECK(to.device().is_cpu(), "BatchedGAT::set_graph: the batch must be on the CPU");
    const int64_t n = to.numel() / to.size(0);
    PG_CHECK(from.numel() == n, "BatchedGAT::set_graph: a GAT tensor of ", from.numel(),
             " values for slices of ", n);
    std::vector<float> v = from.to_f32_vector();
    std::copy(v.begin(), v.end(), to.f32() + g * n);
}

} // namespace

BatchedGAT::BatchedGAT(const GATOptions& o, int64_t graphs, Generator& gen)
    : Module("BatchedGAT"), options_(o), graphs_(graphs) {
    PG_CHECK(graphs > 0 && o.in_channels > 0 && o.num_classes > 0 && o.hidden > 0 && o.heads > 0 &&
                 o.output_heads > 0,
             "BatchedGAT: graphs ", graphs, ", in_channels ", o.in_channels, ", num_classes ",
             o.num_classes, ", hidden ", o.hidden, ", heads ", o.heads, ", output_heads ",
             o.output_heads, " must be positive");
    const int64_t G = graphs, K1 = o.heads, F1 = o.hidden, K2 = o.output_heads, F2 = o.num_classes;
    weight1 = glorot_per_graph(G, K1 * F1, o.in_channels, gen);
    att_src1 = glorot_per_graph(G, K1, F1, gen);
    att_dst1 = glorot_per_graph(G, K1, F1, gen);
    bias1 = Tensor::zeros({G, K1 * F1});
    weight2 = glorot_per_graph(G, K2 * F2, K1 * F1, gen);
    att_src2 = glorot_per_graph(G, K2, F2, gen);
    att_dst2 = glorot_per_graph(G, K2, F2, gen);
    bias2 = Tensor::zeros({G, F2});
    // Flat names (a registered name has no '.'): <tensor><layer>, GAT's conv<layer>.<tensor>.
    for (auto [name, slot] : {std::pair<const char*, Tensor*>{"att_src1", &att_src1},
                              {"att_dst1", &att_dst1},
                              {"bias1", &bias1},
                              {"weight1", &weight1},
                              {"att_src2", &att_src2},
                              {"att_dst2", &att_dst2},
                              {"bias2", &bias2},
                              {"weight2", &weight2}})
        register_parameter(name, slot);
}

void BatchedGAT::set_graph(int64_t g, const GAT& gat) {
    PG_CHECK(g >= 0 && g < graphs_, "BatchedGAT::set_graph: graph ", g, " of ", graphs_);
    copy_slice(weight1, g, gat.conv1->lin->weight);
    copy_slice(att_src1, g, gat.conv1->att_src);
    copy_slice(att_dst1, g, gat.conv1->att_dst);
    copy_slice(bias1, g, gat.conv1->bias);
    copy_slice(weight2, g, gat.conv2->lin->weight);
    copy_slice(att_src2, g, gat.conv2->att_src);
    copy_slice(att_dst2, g, gat.conv2->att_dst);
    copy_slice(bias2, g, gat.conv2->bias);
}

// One layer with GATLayer's order: input dropout, then the attention (with its dropout).
Tensor BatchedGAT::layer(const Tensor& x, const GraphBatch& batch, int which) {
    const float p = options_.dropout;
    PG_CHECK(!(is_training() && p > 0.f) || gen_ != nullptr, "BatchedGAT: training with dropout ",
             p, " needs a generator; call set_generator() on the network first");
    Tensor h = is_training() && p > 0.f ? dropout(x, p, true, *gen_) : x;
    if (which == 1)
        return gat_conv_batched(h, weight1, att_src1, att_dst1, bias1, batch, true, 0.2f, p,
                                is_training(), gen_);
    return gat_conv_batched(h, weight2, att_src2, att_dst2, bias2, batch, false, 0.2f, p,
                            is_training(), gen_);
}

Tensor BatchedGAT::forward(const Tensor& x, const GraphBatch& batch) {
    PG_CHECK(batch.graphs == graphs_, "BatchedGAT: a batch of ", batch.graphs, " graphs for ",
             graphs_, " GATs");
    return layer(elu(layer(x, batch, 1)), batch, 2);
}

Tensor per_graph_cross_entropy(const Tensor& logits, const Tensor& labels,
                               const GraphBatch& batch) {
    const int64_t V = batch.graphs * batch.nodes_per_graph;
    PG_CHECK(logits.dim() == 2 && logits.size(0) == V && labels.dim() == 1 && labels.size(0) == V,
             "per_graph_cross_entropy: logits ", shape_str(logits.shape()), " and labels ",
             shape_str(labels.shape()), " must be (", V, ", C) and (", V, ",)");
    std::vector<int32_t> y = labels.to_i32_vector();
    std::vector<float> weight(size_t(V), 0.f);
    for (int64_t g = 0; g < batch.graphs; g++) {
        const int64_t first = g * batch.nodes_per_graph;
        int64_t labelled = 0;
        for (int64_t v = 0; v < batch.nodes_per_graph; v++) labelled += y[size_t(first + v)] != 255;
        for (int64_t v = 0; v < batch.nodes_per_graph && labelled; v++)
            if (y[size_t(first + v)] != 255) weight[size_t(first + v)] = 1.f / float(labelled);
    }
    Tensor w = Tensor::from_vector(weight, {V}, logits.device());
    Tensor nll = neg(sum(log_softmax(logits) * one_hot(labels, logits.size(1)), 1)); // (V,)
    return sum(nll * w);
}

} // namespace pg::nn
