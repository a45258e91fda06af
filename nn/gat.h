// Graph attention network (Velickovic et al., ICLR 2018) on sparse graphs in CSR form: the graph
// type and its builders (edge list -> CSR sorted by destination, self-loops), one multi-head
// attention layer with PyTorch Geometric's GATConv parameter names, and the 2-layer GAT of the
// label-noise pipeline (shared/specs/label_noise_gat.md). Read nn/gat.cpp for the math.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "nn/module.h"

namespace pg::nn {

// A directed graph of V nodes and E edges j -> i, grouped by destination (CSR): the in-edges of
// node i are the entries e in [row_ptr[i], row_ptr[i + 1]), col[e] is the source node j of edge e
// and dst[e] = i. Within a node the edges are sorted by source. A CsrGraph is only made by the
// checked builders below, so every graph in use is well formed.
class CsrGraph {
  public:
    CsrGraph(); // the empty graph: 0 nodes, 0 edges, row_ptr = {0}

    // From CSR arrays: row_ptr (V + 1,) i32 non-decreasing from 0 to E, col (E,) i32 in [0, V).
    // Any device; checked on the host, naming the first bad position and value. Entries of a
    // node need not be sorted by source (they are used as given).
    static CsrGraph from_csr(const Tensor& row_ptr, const Tensor& col);
    // From an edge list src[e] -> dst[e] (host vectors, any order): sorted by (dst, src), duplicate
    // edges merged (a graph, not a multigraph: a repeated edge would count twice in the softmax).
    // symmetric: also adds the reverse of every edge. Nodes out of [0, num_nodes) are an error.
    static CsrGraph from_edges(int64_t num_nodes, const std::vector<int32_t>& src,
                               const std::vector<int32_t>& dst, bool symmetric = false);

    int64_t num_nodes() const { return num_nodes_; }
    int64_t num_edges() const { return num_edges_; }
    const Tensor& row_ptr() const { return row_ptr_; } // (V + 1,) i32
    const Tensor& col() const { return col_; }         // (E,) i32, source of each edge
    const Tensor& dst() const { return dst_; }         // (E,) i32, destination of each edge
    Device device() const { return row_ptr_.device(); }
    CsrGraph to(Device device) const; // the same graph with its arrays on `device`

  private:
    int64_t num_nodes_ = 0, num_edges_ = 0;
    Tensor row_ptr_, col_, dst_;
};

// The graph with exactly one self-loop per node: existing self-loops are dropped and i -> i is
// added to every node, kept in source order within each node (PyG's remove_self_loops followed
// by add_self_loops). Attention then always includes the node itself, and a node with no
// neighbours attends only to itself (alpha = 1).
CsrGraph add_self_loops(const CsrGraph& graph);

struct GATLayerOptions {
    int64_t in_channels = 0, out_channels = 0; // F_in, F (per head)
    int64_t heads = 1;                         // K
    bool concat = true;          // (V, K F) heads side by side, else (V, F) averaged over heads
    float negative_slope = 0.2f; // of the LeakyReLU on the attention scores
    float dropout = 0.f;         // on the normalised attention coefficients (PyG's `dropout`)
    float input_dropout = 0.f;   // on the input features (the F.dropout before PyG's GATConv)
    bool bias = true;
};

// One multi-head graph attention layer. Per head k, for every edge j -> i:
//   z = W_k h,  e_ij = LeakyReLU(a_src_k . z_j + a_dst_k . z_i),  alpha_i. = softmax_j e_i.,
//   h'_i = sum_j alpha_ij z_j;  heads concatenated or averaged, then + bias.
// (a_src . z_j + a_dst . z_i is the paper's a^T [z_i || z_j] with a split into halves.)
// Parameters, named and shaped as PyG's current GATConv (in_channels an int), in its state_dict
// order: att_src (1, K, F), att_dst (1, K, F), bias (K F) or (F) when averaging,
// lin.weight (K F, F_in) (a bias-free Linear; output column k F + f is feature f of head k).
// Init as PyG: glorot, U(+-sqrt(6 / (fan_in + fan_out))) over the last two dims, bias zero.
// The graph is used as given: add self-loops first (add_self_loops) to get PyG's behaviour; a
// node with no in-edge at all then outputs the bias alone.
class GATLayer : public Module {
  public:
    GATLayer(const GATLayerOptions& options, Generator& gen);
    // x (V, F_in) -> (V, K F) or (V, F). Training with dropout > 0 needs set_generator().
    Tensor forward(const Tensor& x, const CsrGraph& graph);
    int64_t output_channels() const;
    // 2 x multiply-accumulates of one forward on a graph of V nodes and E edges (see gat.cpp).
    int64_t forward_flops(int64_t num_nodes, int64_t num_edges) const;
    const GATLayerOptions& options() const { return options_; }

    std::shared_ptr<Linear> lin;
    Tensor att_src, att_dst, bias;

  protected:
    void on_generator(Generator* gen) override { gen_ = gen; }

  private:
    GATLayerOptions options_;
    Generator* gen_ = nullptr;
};

// The attention math on explicit tensors (what GATLayer::forward runs after its input dropout;
// gradient checks call it directly). x (V, F_in), weight (K F, F_in), att_src / att_dst (1, K, F),
// bias (K F) / (F) or undefined. Attention dropout p is applied when training (gen then needed).
Tensor gat_conv(const Tensor& x, const Tensor& weight, const Tensor& att_src, const Tensor& att_dst,
                const Tensor& bias, const CsrGraph& graph, bool concat, float negative_slope,
                float attention_dropout = 0.f, bool training = false, Generator* gen = nullptr);

// The attention half of gat_conv, shared with the graph-batched GATs (nn/gat_batch.h): z (V, K, F)
// the projected features, s_src / s_dst (V, K) each node's a_src . z and a_dst . z. Returns
// sum_j alpha_ij z_j, (V, K F) concatenated or (V, F) averaged over heads, without bias.
Tensor gat_attend(const Tensor& z, const Tensor& s_src, const Tensor& s_dst, const CsrGraph& graph,
                  bool concat, float negative_slope, float attention_dropout, bool training,
                  Generator* gen);

struct GATOptions {
    int64_t in_channels = 0, num_classes = 0;
    int64_t hidden = 8;       // F: features per head of layer 1
    int64_t heads = 8;        // K: heads of layer 1 (concatenated, then ELU)
    int64_t output_heads = 1; // heads of layer 2, averaged (1 = a single head)
    float dropout = 0.6f;     // on each layer's input and on both layers' attention
};

// The 2-layer GAT of Velickovic et al. (PyG's examples/gat.py), children conv1 and conv2:
//   x -> dropout -> conv1 (K heads of F, concat) -> ELU -> dropout -> conv2 (averaged) -> logits.
// Train with cross_entropy on the labeled nodes (label 255 elsewhere) and Adam (lr 5e-3,
// weight decay 5e-4, specs/networks.md).
class GAT : public Module {
  public:
    GAT(const GATOptions& options, Generator& gen);
    Tensor forward(const Tensor& x, const CsrGraph& graph); // (V, F_in) -> (V, C) logits
    // Forward FLOPs on a graph of V nodes and E edges (self-loops included): a closed form,
    // since it depends on the graph; equal to what a FlopCounter sees during forward().
    int64_t forward_flops(int64_t num_nodes, int64_t num_edges) const;
    const GATOptions& options() const { return options_; }

    std::shared_ptr<GATLayer> conv1, conv2;

  private:
    GATOptions options_;
};

} // namespace pg::nn
