// Graph attention (nn/gat.h): CSR graph builders with their checks, the attention layer built from
// the engine's deterministic graph ops (index_select, segment_softmax, segment_sum: no atomics, the
// same sums in the same order every run), and the 2-layer GAT.
#include "nn/gat.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <utility>

#include "autograd/ops.h"
#include "nn/flops.h"
#include "tensor/error.h"

namespace pg::nn {

// ---- CsrGraph ----

namespace {

Tensor i32_tensor(const std::vector<int32_t>& v, Device device) {
    return Tensor::from_vector(v, {int64_t(v.size())}, device);
}

// Checks host CSR arrays (naming the first bad position) and returns dst (E,): node i repeated
// once per in-edge.
std::vector<int32_t> check_csr(const std::vector<int32_t>& ptr, const std::vector<int32_t>& col) {
    PG_CHECK(!ptr.empty(), "CsrGraph: row_ptr must have V + 1 >= 1 entries, got none");
    PG_CHECK(ptr[0] == 0, "CsrGraph: row_ptr[0] = ", ptr[0], " must be 0");
    for (size_t v = 1; v < ptr.size(); v++)
        PG_CHECK(ptr[v] >= ptr[v - 1], "CsrGraph: row_ptr[", v, "] = ", ptr[v],
                 " is less than row_ptr[", v - 1, "] = ", ptr[v - 1], " (must be non-decreasing)");
    PG_CHECK(size_t(ptr.back()) == col.size(), "CsrGraph: row_ptr[", ptr.size() - 1,
             "] = ", ptr.back(), " must equal the number of edges ", col.size(), " (col's length)");
    const int64_t nodes = int64_t(ptr.size()) - 1;
    for (size_t e = 0; e < col.size(); e++)
        PG_CHECK(col[e] >= 0 && col[e] < nodes, "CsrGraph: col[", e, "] = ", col[e],
                 " is out of range for ", nodes, " nodes");
    std::vector<int32_t> dst(col.size());
    for (int64_t i = 0; i < nodes; i++)
        for (int32_t e = ptr[size_t(i)]; e < ptr[size_t(i) + 1]; e++) dst[size_t(e)] = int32_t(i);
    return dst;
}

void check_index_tensor(const char* name, const Tensor& t) {
    PG_CHECK(t.defined(), "CsrGraph: ", name, " is an undefined tensor");
    PG_CHECK(t.dtype() == DType::i32 && t.dim() == 1, "CsrGraph: ", name,
             " must be a 1-d i32 tensor, got ", dtype_name(t.dtype()), " ", shape_str(t.shape()));
}

// Sorted (dst, src) pairs -> CSR arrays on the host.
void pairs_to_csr(int64_t nodes, const std::vector<std::pair<int32_t, int32_t>>& pairs,
                  std::vector<int32_t>& ptr, std::vector<int32_t>& col) {
    ptr.assign(size_t(nodes) + 1, 0);
    col.resize(pairs.size());
    for (size_t e = 0; e < pairs.size(); e++) {
        ptr[size_t(pairs[e].first) + 1]++;
        col[e] = pairs[e].second;
    }
    for (int64_t i = 0; i < nodes; i++) ptr[size_t(i) + 1] += ptr[size_t(i)];
}

} // namespace

CsrGraph::CsrGraph()
    : row_ptr_(Tensor::zeros({1}, DType::i32)), col_(Tensor::zeros({0}, DType::i32)),
      dst_(Tensor::zeros({0}, DType::i32)) {}

CsrGraph CsrGraph::from_csr(const Tensor& row_ptr, const Tensor& col) {
    check_index_tensor("row_ptr", row_ptr);
    check_index_tensor("col", col);
    PG_CHECK(row_ptr.device() == col.device(), "CsrGraph: row_ptr is on ", row_ptr.device().name(),
             ", col on ", col.device().name());
    std::vector<int32_t> dst = check_csr(row_ptr.to_i32_vector(), col.to_i32_vector());
    CsrGraph g;
    g.num_nodes_ = row_ptr.numel() - 1;
    g.num_edges_ = col.numel();
    g.row_ptr_ = row_ptr;
    g.col_ = col;
    g.dst_ = i32_tensor(dst, row_ptr.device());
    return g;
}

CsrGraph CsrGraph::from_edges(int64_t num_nodes, const std::vector<int32_t>& src,
                              const std::vector<int32_t>& dst, bool symmetric) {
    PG_CHECK(num_nodes >= 0 && num_nodes < INT32_MAX, "CsrGraph::from_edges: num_nodes ", num_nodes,
             " must be in [0, 2^31 - 1)");
    PG_CHECK(src.size() == dst.size(), "CsrGraph::from_edges: ", src.size(), " sources but ",
             dst.size(), " destinations");
    std::vector<std::pair<int32_t, int32_t>> pairs; // (dst, src): sorting groups by destination
    pairs.reserve(src.size() * (symmetric ? 2 : 1));
    for (size_t e = 0; e < src.size(); e++) {
        PG_CHECK(src[e] >= 0 && src[e] < num_nodes && dst[e] >= 0 && dst[e] < num_nodes,
                 "CsrGraph::from_edges: edge ", e, " (", src[e], " -> ", dst[e],
                 ") has a node outside [0, ", num_nodes, ")");
        pairs.emplace_back(dst[e], src[e]);
        if (symmetric) pairs.emplace_back(src[e], dst[e]);
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    std::vector<int32_t> ptr, col;
    pairs_to_csr(num_nodes, pairs, ptr, col);
    return from_csr(i32_tensor(ptr, Device::cpu()), i32_tensor(col, Device::cpu()));
}

CsrGraph CsrGraph::to(Device device) const {
    if (device == this->device()) return *this;
    CsrGraph g = *this;
    g.row_ptr_ = row_ptr_.to(device);
    g.col_ = col_.to(device);
    g.dst_ = dst_.to(device);
    return g;
}

CsrGraph add_self_loops(const CsrGraph& graph) {
    const int64_t nodes = graph.num_nodes();
    std::vector<int32_t> in_ptr = graph.row_ptr().to_i32_vector();
    std::vector<int32_t> in_col = graph.col().to_i32_vector();
    std::vector<std::pair<int32_t, int32_t>> pairs; // (dst, src), already grouped by dst
    for (int64_t i = 0; i < nodes; i++) {
        for (int32_t e = in_ptr[size_t(i)]; e < in_ptr[size_t(i) + 1]; e++)
            if (in_col[size_t(e)] != i) pairs.emplace_back(int32_t(i), in_col[size_t(e)]);
        pairs.emplace_back(int32_t(i), int32_t(i));
    }
    std::stable_sort(pairs.begin(), pairs.end()); // each node's sources in order
    std::vector<int32_t> ptr, col;
    pairs_to_csr(nodes, pairs, ptr, col);
    CsrGraph g = CsrGraph::from_csr(i32_tensor(ptr, Device::cpu()), i32_tensor(col, Device::cpu()));
    return g.to(graph.device());
}

// ---- the attention layer ----

Tensor gat_attend(const Tensor& z, const Tensor& s_src, const Tensor& s_dst, const CsrGraph& graph,
                  bool concat, float negative_slope, float attention_dropout, bool training,
                  Generator* gen) {
    const int64_t V = z.size(0), K = z.size(1), F = z.size(2), E = graph.num_edges();
    // e_ij for edge j -> i = a_src . z_j + a_dst . z_i, then LeakyReLU and the softmax over the
    // in-edges of i (one CSR segment).
    Tensor score = index_select(s_src, graph.col()) + index_select(s_dst, graph.dst()); // (E, K)
    Tensor alpha = segment_softmax(leaky_relu(score, negative_slope), graph.row_ptr());
    if (training && attention_dropout > 0.f) {
        PG_CHECK(gen != nullptr, "gat_conv: attention dropout ", attention_dropout,
                 " in training needs a generator (set_generator)");
        alpha = dropout(alpha, attention_dropout, true, *gen);
    }
    // h'_i = sum_j alpha_ij z_j: messages (E, K, F) summed per destination segment.
    Tensor messages = index_select(z, graph.col()) * reshape(alpha, {E, K, 1});
    Tensor h = segment_sum(messages, graph.row_ptr()); // (V, K, F)
    return concat ? reshape(h, {V, K * F}) : mean(h, 1);
}

Tensor gat_conv(const Tensor& x, const Tensor& weight, const Tensor& att_src, const Tensor& att_dst,
                const Tensor& bias, const CsrGraph& graph, bool concat, float negative_slope,
                float attention_dropout, bool training, Generator* gen) {
    PG_CHECK(att_src.dim() == 3 && att_src.size(0) == 1 && att_dst.shape() == att_src.shape(),
             "gat_conv: att_src ", shape_str(att_src.shape()), " and att_dst ",
             shape_str(att_dst.shape()), " must both be (1, heads, out_channels)");
    const int64_t K = att_src.size(1), F = att_src.size(2);
    PG_CHECK(x.dim() == 2, "gat_conv: node features must be (V, F_in), got ", shape_str(x.shape()));
    PG_CHECK(weight.dim() == 2 && weight.size(0) == K * F && weight.size(1) == x.size(1),
             "gat_conv: weight ", shape_str(weight.shape()),
             " must be (heads * out_channels = ", K * F, ", in_channels = ", x.size(1), ")");
    PG_CHECK(x.size(0) == graph.num_nodes(), "gat_conv: ", x.size(0),
             " node feature rows for a graph of ", graph.num_nodes(), " nodes");
    PG_CHECK(x.device() == graph.device(), "gat_conv: features on ", x.device().name(),
             ", graph on ", graph.device().name());
    Tensor z = reshape(linear(x, weight), {x.size(0), K, F});          // z_i per head: (V, K, F)
    Tensor s_src = sum(z * att_src, -1), s_dst = sum(z * att_dst, -1); // a . z per node: (V, K)
    Tensor out = gat_attend(z, s_src, s_dst, graph, concat, negative_slope, attention_dropout,
                            training, gen);
    if (bias.defined()) {
        PG_CHECK(bias.dim() == 1 && bias.size(0) == out.size(1), "gat_conv: bias ",
                 shape_str(bias.shape()), " must be (", out.size(1), ",)");
        out = out + bias;
    }
    return out;
}

GATLayer::GATLayer(const GATLayerOptions& o, Generator& gen) : Module("GATLayer"), options_(o) {
    PG_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.heads > 0, "GATLayer: in_channels ",
             o.in_channels, ", out_channels ", o.out_channels, ", heads ", o.heads,
             " must be positive");
    PG_CHECK(o.dropout >= 0.f && o.dropout <= 1.f && o.input_dropout >= 0.f &&
                 o.input_dropout <= 1.f,
             "GATLayer: dropout ", o.dropout, " and input_dropout ", o.input_dropout,
             " must be in [0, 1]");
    const int64_t K = o.heads, F = o.out_channels;
    // PyG's glorot: U(+-sqrt(6 / (size(-2) + size(-1)))), in PyG's order lin, att_src, att_dst.
    lin = std::make_shared<Linear>(o.in_channels, K * F, gen, /*bias=*/false);
    init_uniform(lin->weight, std::sqrt(6.f / float(K * F + o.in_channels)), gen);
    att_src = Tensor::empty({1, K, F});
    att_dst = Tensor::empty({1, K, F});
    init_uniform(att_src, std::sqrt(6.f / float(K + F)), gen);
    init_uniform(att_dst, std::sqrt(6.f / float(K + F)), gen);
    if (o.bias) bias = Tensor::zeros({o.concat ? K * F : F});
    register_parameter("att_src", &att_src);
    register_parameter("att_dst", &att_dst);
    register_parameter("bias", &bias);
    register_module("lin", lin);
}

int64_t GATLayer::output_channels() const {
    return options_.concat ? options_.heads * options_.out_channels : options_.out_channels;
}

// Counted like a convolution, 2 x multiply-accumulates: the projection (V F_in K F), the two
// attention dot products of every node (2 V K F) and the weighted aggregation, a sparse matrix
// product (E K F). Scores, LeakyReLU, softmax, head mean and bias (O(E K)) are not counted, as
// activations and normalisations are not elsewhere.
int64_t GATLayer::forward_flops(int64_t num_nodes, int64_t num_edges) const {
    const int64_t KF = options_.heads * options_.out_channels;
    return 2 * (num_nodes * options_.in_channels * KF + 2 * num_nodes * KF + num_edges * KF);
}

Tensor GATLayer::forward(const Tensor& x, const CsrGraph& graph) {
    const GATLayerOptions& o = options_;
    Tensor h = x;
    if (is_training() && o.input_dropout > 0.f) {
        PG_CHECK(gen_ != nullptr, "GATLayer: training with input dropout ", o.input_dropout,
                 " needs a generator; call set_generator() on the network first");
        h = dropout(h, o.input_dropout, true, *gen_);
    }
    PG_CHECK(!(is_training() && o.dropout > 0.f) || gen_ != nullptr,
             "GATLayer: training with attention dropout ", o.dropout,
             " needs a generator; call set_generator() on the network first");
    Tensor out = gat_conv(h, lin->weight, att_src, att_dst, bias, graph, o.concat, o.negative_slope,
                          o.dropout, is_training(), gen_);
    FlopCounter::add(forward_flops(graph.num_nodes(), graph.num_edges()));
    return out;
}

// ---- the network ----

GAT::GAT(const GATOptions& o, Generator& gen) : Module("GAT"), options_(o) {
    PG_CHECK(o.in_channels > 0 && o.num_classes > 0 && o.hidden > 0 && o.heads > 0 &&
                 o.output_heads > 0,
             "GAT: in_channels ", o.in_channels, ", num_classes ", o.num_classes, ", hidden ",
             o.hidden, ", heads ", o.heads, ", output_heads ", o.output_heads, " must be positive");
    GATLayerOptions l1;
    l1.in_channels = o.in_channels;
    l1.out_channels = o.hidden;
    l1.heads = o.heads;
    l1.concat = true;
    l1.dropout = l1.input_dropout = o.dropout;
    GATLayerOptions l2;
    l2.in_channels = o.heads * o.hidden;
    l2.out_channels = o.num_classes;
    l2.heads = o.output_heads;
    l2.concat = false;
    l2.dropout = l2.input_dropout = o.dropout;
    conv1 = register_module("conv1", std::make_shared<GATLayer>(l1, gen));
    conv2 = register_module("conv2", std::make_shared<GATLayer>(l2, gen));
}

Tensor GAT::forward(const Tensor& x, const CsrGraph& graph) {
    Tensor h = elu(conv1->forward(x, graph)); // (V, K F)
    return conv2->forward(h, graph);          // (V, C)
}

int64_t GAT::forward_flops(int64_t num_nodes, int64_t num_edges) const {
    return conv1->forward_flops(num_nodes, num_edges) + conv2->forward_flops(num_nodes, num_edges);
}

} // namespace pg::nn
