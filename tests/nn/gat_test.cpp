// The GAT (nn/gat.h): CSR graph builders by hand and their errors on malformed graphs, PyG's
// parameter names and init, the 2-layer network against a dense PyTorch reference
// (tools/dump_gat.py: logits, CE loss on labeled nodes, every parameter's gradient), a node with
// only a self-loop, bitwise determinism with dropout, a gradient check of one layer, FLOPs.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/flops.h"
#include "nn/gat.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::nn {
namespace {

using test::expect_error;

using test::all_close;
using test::all_equal;

Tensor i32s(const std::vector<int32_t>& v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

// ---- graphs ----

TEST(CsrGraph, FromEdgesSortsByDestinationAndMergesDuplicates) {
    // 2 -> 0 twice; node 2 has no in-edge.
    CsrGraph g = CsrGraph::from_edges(4, {2, 0, 1, 2, 0}, {0, 1, 0, 0, 3});
    EXPECT_EQ(g.num_nodes(), 4);
    EXPECT_EQ(g.num_edges(), 4);
    EXPECT_TRUE(all_equal(g.row_ptr(), i32s({0, 2, 3, 3, 4})));
    EXPECT_TRUE(all_equal(g.col(), i32s({1, 2, 0, 0})));
    EXPECT_TRUE(all_equal(g.dst(), i32s({0, 0, 1, 3})));
    // The input order does not matter.
    CsrGraph shuffled = CsrGraph::from_edges(4, {0, 2, 2, 0, 1}, {3, 0, 0, 1, 0});
    EXPECT_TRUE(all_equal(shuffled.col(), g.col()));
    // symmetric adds every reverse edge (and merges the ones already there).
    CsrGraph s = CsrGraph::from_edges(4, {2, 0, 1, 2, 0}, {0, 1, 0, 0, 3}, /*symmetric=*/true);
    EXPECT_TRUE(all_equal(s.row_ptr(), i32s({0, 3, 4, 5, 6})));
    EXPECT_TRUE(all_equal(s.col(), i32s({1, 2, 3, 0, 0, 0})));
}

TEST(CsrGraph, AddSelfLoopsKeepsExactlyOnePerNode) {
    // 1 -> 1 already there; node 2 has no edge at all.
    CsrGraph g = CsrGraph::from_edges(4, {2, 0, 1, 2, 0, 1}, {0, 1, 0, 0, 3, 1});
    CsrGraph l = add_self_loops(g);
    EXPECT_TRUE(all_equal(l.row_ptr(), i32s({0, 3, 5, 6, 8})));
    EXPECT_TRUE(all_equal(l.col(), i32s({0, 1, 2, 0, 1, 2, 0, 3})));
    EXPECT_TRUE(all_equal(l.dst(), i32s({0, 0, 0, 1, 1, 2, 3, 3})));
    // Idempotent, and fine on graphs with no edges or no nodes.
    EXPECT_TRUE(all_equal(add_self_loops(l).col(), l.col()));
    EXPECT_TRUE(all_equal(add_self_loops(CsrGraph::from_edges(2, {}, {})).col(), i32s({0, 1})));
    EXPECT_EQ(add_self_loops(CsrGraph()).num_edges(), 0);
}

TEST(CsrGraph, MalformedGraphsNameTheBadValue) {
    expect_error(
        [] {
            CsrGraph::from_csr(i32s({0, 2, 1, 3}), i32s({0, 1, 2}));
        },
        "CsrGraph: row_ptr[2] = 1 is less than row_ptr[1] = 2");
    expect_error(
        [] {
            CsrGraph::from_csr(i32s({0, 2, 3, 4}), i32s({0, 1, 2, 7}));
        },
        "CsrGraph: col[3] = 7 is out of range for 3 nodes");
    expect_error(
        [] {
            CsrGraph::from_csr(i32s({0, 1, 2}), i32s({0, -1}));
        },
        "col[1] = -1 is out of range for 2 nodes");
    expect_error(
        [] {
            CsrGraph::from_csr(i32s({1, 2}), i32s({0, 0}));
        },
        "CsrGraph: row_ptr[0] = 1 must be 0");
    expect_error(
        [] {
            CsrGraph::from_csr(i32s({0, 1, 3}), i32s({0, 1}));
        },
        "row_ptr[2] = 3 must equal the number of edges 2");
    expect_error([] { CsrGraph::from_csr(Tensor::zeros({3}), i32s({0})); },
                 "row_ptr must be a 1-d i32 tensor, got f32 (3,)");
    expect_error(
        [] {
            CsrGraph::from_edges(3, {0, 1}, {1, 3});
        },
        "edge 1 (1 -> 3) has a node outside [0, 3)");
    expect_error([] { CsrGraph::from_edges(3, {0, 1}, {1}); }, "2 sources but 1 destinations");
}

// ---- the network against the dense PyTorch reference ----

struct Reference {
    std::map<std::string, Tensor> ref = test::load_reference("gat.safetensors");
    CsrGraph graph; // the dump's undirected edges both ways, plus self-loops: V = 9, E = 33
    Reference() {
        graph = add_self_loops(CsrGraph::from_edges(9, ref.at("edges.src").to_i32_vector(),
                                                    ref.at("edges.dst").to_i32_vector(), true));
    }
    // "a." or "b." weights, PyTorch names after the prefix.
    std::map<std::string, Tensor> weights(const std::string& config) const {
        std::map<std::string, Tensor> w;
        std::string prefix = config + ".w.";
        for (const auto& [key, value] : ref)
            if (key.rfind(prefix, 0) == 0) w[key.substr(prefix.size())] = value;
        return w;
    }
};

GATOptions tiny_options(int64_t output_heads, float dropout = 0.f) {
    GATOptions o;
    o.in_channels = 5;
    o.num_classes = 3;
    o.hidden = 4;
    o.heads = 2;
    o.output_heads = output_heads;
    o.dropout = dropout;
    return o;
}

TEST(GAT, ParameterNamesShapesAndInitFollowPyG) {
    Generator gen(1);
    GAT net(tiny_options(2), gen);
    std::vector<std::string> names;
    for (const auto& p : net.named_parameters()) names.push_back(p.name);
    std::vector<std::string> expected{"conv1.att_src",    "conv1.att_dst",   "conv1.bias",
                                      "conv1.lin.weight", "conv2.att_src",   "conv2.att_dst",
                                      "conv2.bias",       "conv2.lin.weight"};
    EXPECT_EQ(names, expected);
    auto sd = net.state_dict();
    EXPECT_EQ(sd.at("conv1.att_src").shape(), (Shape{1, 2, 4}));
    EXPECT_EQ(sd.at("conv1.lin.weight").shape(), (Shape{8, 5}));
    EXPECT_EQ(sd.at("conv1.bias").shape(), (Shape{8}));
    EXPECT_EQ(sd.at("conv2.att_dst").shape(), (Shape{1, 2, 3}));
    EXPECT_EQ(sd.at("conv2.lin.weight").shape(), (Shape{6, 8}));
    EXPECT_EQ(sd.at("conv2.bias").shape(), (Shape{3})); // averaged heads: out_channels only
    // conv1: 8 + 8 + 8 + 40; conv2: 6 + 6 + 3 + 48.
    EXPECT_EQ(net.parameter_count(), 64 + 63);
    // Glorot bounds sqrt(6 / (fan_in + fan_out)) over the last two dims, zero bias: every value
    // inside, and the largest close to the bound (30+ draws).
    auto check_glorot = [](const Tensor& t, float bound) {
        float biggest = 0.f;
        for (float v : t.to_f32_vector()) biggest = std::max(biggest, std::fabs(v));
        EXPECT_LE(biggest, bound);
        EXPECT_GT(biggest, 0.5f * bound);
    };
    check_glorot(net.conv1->lin->weight, std::sqrt(6.f / 13.f));
    check_glorot(net.conv2->lin->weight, std::sqrt(6.f / 14.f));
    check_glorot(concat({reshape(net.conv1->att_src, {8}), reshape(net.conv1->att_dst, {8})}, 0),
                 std::sqrt(6.f / 6.f));
    EXPECT_TRUE(all_equal(net.conv1->bias, Tensor::zeros({8})));
}

// Logits in eval mode, then in training mode (dropout 0: masks cannot match across frameworks)
// the CE loss on the labeled nodes and every parameter's gradient. Float64 reference; tolerance
// 1e-5 abs + 1e-4 rel for f32 sums of ~10 terms on O(1) values.
void check_against_reference(const std::string& config, int64_t output_heads) {
    SCOPED_TRACE(config);
    Reference r;
    Generator gen(2);
    GAT net(tiny_options(output_heads), gen);
    net.load_state_dict(r.weights(config), /*strict=*/true);
    Tensor x = r.ref.at("x");
    net.eval();
    EXPECT_TRUE(all_close(net.forward(x, r.graph), r.ref.at(config + ".logits"), 1e-5f, 1e-4f));
    net.train();
    Tensor logits = net.forward(x, r.graph);
    Tensor loss = cross_entropy(logits, r.ref.at("labels")); // 255 = unlabeled node
    EXPECT_TRUE(all_close(loss, r.ref.at(config + ".loss"), 1e-5f, 1e-4f));
    backward(loss);
    for (const auto& p : net.named_parameters()) {
        ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
        EXPECT_TRUE(all_close(p.tensor.grad(), r.ref.at(config + ".grad." + p.name), 1e-5f, 1e-4f))
            << p.name;
    }
}

TEST(GAT, MatchesPyTorchOneOutputHead) { check_against_reference("a", 1); }
TEST(GAT, MatchesPyTorchAveragedOutputHeads) { check_against_reference("b", 2); }

TEST(GAT, NodeWithOnlyASelfLoopAttendsToItself) {
    // Node 8 of the reference graph has no neighbour: alpha = 1 on its self-loop, so a layer
    // gives exactly its own projection plus bias, and nothing else in the graph affects it.
    Reference r;
    Generator gen(3);
    GAT net(tiny_options(1), gen);
    net.load_state_dict(r.weights("a"), true);
    net.eval();
    Tensor x = r.ref.at("x");
    Tensor h = net.conv1->forward(x, r.graph); // (9, 8)
    Tensor own = linear(narrow(x, 0, 8, 1), net.conv1->lin->weight, net.conv1->bias);
    EXPECT_TRUE(all_close(narrow(h, 0, 8, 1), own, 1e-6f, 1e-6f));
    Tensor logits = net.forward(x, r.graph);
    Tensor other = concat({affine(narrow(x, 0, 0, 8), 2.f, 1.f), narrow(x, 0, 8, 1)}, 0);
    ASSERT_EQ(other.shape(), x.shape());
    Tensor logits_other = net.forward(other, r.graph);
    EXPECT_TRUE(all_equal(narrow(logits_other, 0, 8, 1), narrow(logits, 0, 8, 1)));
    EXPECT_FALSE(all_equal(narrow(logits_other, 0, 0, 8), narrow(logits, 0, 0, 8)));
}

TEST(GAT, NodesWithoutInEdgesOutputTheBias) {
    // No self-loops added: every segment is empty, so each layer gives its bias alone.
    GATLayerOptions o;
    o.in_channels = 3;
    o.out_channels = 2;
    o.heads = 2;
    Generator gen(9);
    GATLayer layer(o, gen);
    layer.load_state_dict({{"att_src", layer.att_src},
                           {"att_dst", layer.att_dst},
                           {"bias", Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {4})},
                           {"lin.weight", layer.lin->weight}},
                          true);
    Tensor out = layer.forward(Tensor::ones({3, 3}), CsrGraph::from_edges(3, {}, {}));
    EXPECT_TRUE(all_equal(
        out, Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}, {3, 4})));
}

// ---- determinism and dropout ----

// One training step's results with dropout 0.6 (inputs and attention): logits, loss, gradients.
std::vector<Tensor> training_step(const Reference& r, uint64_t dropout_seed) {
    Generator init(4), drop(dropout_seed);
    GAT net(tiny_options(2, 0.6f), init);
    net.set_generator(&drop);
    Tensor logits = net.forward(r.ref.at("x"), r.graph);
    Tensor loss = cross_entropy(logits, r.ref.at("labels"));
    backward(loss);
    std::vector<Tensor> out{logits, loss};
    for (const auto& p : net.named_parameters()) out.push_back(p.tensor.grad());
    return out;
}

TEST(GAT, TrainingWithDropoutIsBitwiseDeterministic) {
    Reference r;
    int before = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<Tensor> first = training_step(r, 7);
    omp_set_num_threads(2);
    std::vector<Tensor> second = training_step(r, 7);
    omp_set_num_threads(before);
    ASSERT_EQ(first.size(), second.size());
    for (size_t i = 0; i < first.size(); i++) EXPECT_TRUE(all_equal(first[i], second[i])) << i;
    // Another dropout seed draws other masks; eval mode (no dropout) differs from both.
    EXPECT_FALSE(all_equal(training_step(r, 8)[0], first[0]));
    Generator init(4);
    GAT net(tiny_options(2, 0.6f), init);
    net.eval();
    EXPECT_FALSE(all_equal(net.forward(r.ref.at("x"), r.graph), first[0]));
}

TEST(GAT, ErrorsNameTheProblem) {
    Reference r;
    Generator gen(5);
    GAT net(tiny_options(1, 0.5f), gen);
    expect_error([&] { net.forward(r.ref.at("x"), r.graph); }, "needs a generator");
    net.eval();
    expect_error(
        [&] {
            net.forward(Tensor::zeros({8, 5}), r.graph);
        },
        "gat_conv: 8 node feature rows for a graph of 9 nodes");
    expect_error(
        [&] {
            net.forward(Tensor::zeros({9, 4}), r.graph);
        },
        "weight (8, 5) must be (heads * out_channels = 8, in_channels = 4)");
    GATLayerOptions bad;
    bad.in_channels = 3;
    expect_error([&] { GATLayer layer(bad, gen); }, "GATLayer: in_channels 3, out_channels 0");
}

// ---- gradient check of one layer, concatenated and averaged heads ----

TEST(GATGrad, OneLayerMatchesFiniteDifferences) {
    // 5 nodes, node 4 only its self-loop; 2 heads of 2 features on 3 input features.
    CsrGraph g = add_self_loops(CsrGraph::from_edges(5, {0, 1, 2, 3, 0}, {1, 2, 0, 0, 3}, true));
    for (bool concat : {true, false}) {
        SCOPED_TRACE(concat ? "concat" : "mean");
        Generator gen(6);
        std::vector<Tensor> inputs{test::random_leaf({5, 3}, gen), test::random_leaf({4, 3}, gen),
                                   test::random_leaf({1, 2, 2}, gen),
                                   test::random_leaf({1, 2, 2}, gen),
                                   test::random_leaf({concat ? 4 : 2}, gen)};
        auto f = [&](const std::vector<Tensor>& in) {
            return gat_conv(in[0], in[1], in[2], in[3], in[4], g, concat, 0.2f);
        };
        PG_EXPECT_GRADCHECK(f, inputs);
    }
}

// ---- FLOPs ----

TEST(GAT, ForwardFlopsMatchHandFormulaAndCounter) {
    // V = 9, E = 33; per layer 2 (V F_in K F + 2 V K F + E K F).
    // conv1: 2 (9*5*8 + 2*9*8 + 33*8) = 1536; conv2 (one head of 3): 2 (9*8*3 + 2*9*3 + 33*3) = 738.
    Reference r;
    Generator gen(7);
    GAT net(tiny_options(1), gen);
    EXPECT_EQ(net.forward_flops(9, 33), 1536 + 738);
    net.eval();
    FlopCounter counter;
    {
        NoGradGuard no_grad;
        net.forward(r.ref.at("x"), r.graph);
    }
    EXPECT_EQ(counter.total(), 1536 + 738);
    // The default network (K = 8 heads of 8, dropout 0.6) on 512-d features, 21 classes.
    GATOptions o;
    o.in_channels = 512;
    o.num_classes = 21;
    GAT big(o, gen);
    EXPECT_EQ(big.forward_flops(1000, 7000), 2 * (1000 * 512 * 64 + 2 * 1000 * 64 + 7000 * 64) +
                                                 2 * (1000 * 64 * 21 + 2 * 1000 * 21 + 7000 * 21));
    EXPECT_EQ(big.parameter_count(), (64 + 64 + 64 + 64 * 512) + (21 + 21 + 21 + 21 * 64));
}

// ---- devices: the same forward and gradients on every device ----

class GATDevice : public test::DeviceTest {};

TEST_P(GATDevice, MatchesCpu) {
    Reference r;
    auto run = [&](Device device) {
        Generator gen(8);
        GAT net(tiny_options(2), gen);
        net.load_state_dict(r.weights("b"), true);
        net.to(device);
        Tensor logits = net.forward(r.ref.at("x").to(device), r.graph.to(device));
        backward(cross_entropy(logits, r.ref.at("labels").to(device)));
        std::vector<Tensor> out{logits.to(Device::cpu())};
        for (const auto& p : net.named_parameters())
            out.push_back(p.tensor.grad().to(Device::cpu()));
        return out;
    };
    std::vector<Tensor> cpu = run(Device::cpu()), dev = run(device());
    for (size_t i = 0; i < cpu.size(); i++)
        EXPECT_TRUE(all_close(dev[i], cpu[i], 1e-5f, 1e-4f)) << i;
}

PG_INSTANTIATE_DEVICE_SUITE(GATDevice);

} // namespace
} // namespace pg::nn
