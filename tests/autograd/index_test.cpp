// Indexing ops: one_hot, index_select / scatter_add, segment_softmax / segment_sum. Values by hand,
// a GAT attention layer against naive loops and against PyTorch (tools/dump_index.py), gradient
// checks with repeated indices and empty segments, determinism, CPU/device parity, bad inputs.
#include <omp.h>

#include <cmath>
#include <functional>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

using test::expect_error;

using test::all_close;
using test::all_equal;
using test::random_leaf;

Tensor f32s(std::vector<float> v, const Shape& shape) { return Tensor::from_vector(v, shape); }
Tensor i32s(std::vector<int32_t> v) {
    Shape shape{int64_t(v.size())};
    return Tensor::from_vector(v, shape);
}

// ---- values by hand ----

TEST(Index, OneHotByHand) {
    Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 2, 255, 1, 2, 0}, {2, 3});
    Tensor expected = f32s({1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0}, {2, 3, 3});
    EXPECT_TRUE(all_equal(one_hot(labels, 3), expected));
    // u8 labels (image masks) give the same; 255 is the default ignore_index.
    Tensor labels_u8 = Tensor::from_vector(std::vector<uint8_t>{0, 2, 255, 1, 2, 0}, {2, 3});
    EXPECT_TRUE(all_equal(one_hot(labels_u8, 3), expected));
    // Another ignore_index: -1 rows are zero, and 255 is now simply out of range.
    Tensor minus = i32s({-1, 1});
    EXPECT_TRUE(all_equal(one_hot(minus, 2, -1), f32s({0, 0, 0, 1}, {2, 2})));
    // A scalar label gives a (C,) vector; an empty label map gives (0, C).
    EXPECT_TRUE(
        all_equal(one_hot(Tensor::from_vector(std::vector<int32_t>{1}, {}), 2), f32s({0, 1}, {2})));
    EXPECT_EQ(one_hot(Tensor::zeros({0}, DType::i32), 4).shape(), (Shape{0, 4}));
}

TEST(Index, IndexSelectByHand) {
    Tensor x = f32s({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2});
    EXPECT_TRUE(all_equal(index_select(x, i32s({3, 0, 3})), f32s({30, 31, 0, 1, 30, 31}, {3, 2})));
    // 1-D rows, higher-rank rows, no rows.
    EXPECT_TRUE(
        all_equal(index_select(f32s({5, 6, 7}, {3}), i32s({2, 2, 0})), f32s({7, 7, 5}, {3})));
    Tensor x3 = f32s({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
    EXPECT_TRUE(all_equal(index_select(x3, i32s({1})), f32s({5, 6, 7, 8}, {1, 2, 2})));
    EXPECT_EQ(index_select(x, Tensor::zeros({0}, DType::i32)).shape(), (Shape{0, 2}));
}

TEST(Index, ScatterAddRepeatedIndicesByHand) {
    // Rows 1 and 3 receive two sources each, row 2 none.
    Tensor src = f32s({1, 2, 10, 20, 100, 200, 1000, 2000}, {4, 2});
    Tensor out = scatter_add(src, i32s({1, 3, 1, 3}), 4);
    EXPECT_TRUE(all_equal(out, f32s({0, 0, 101, 202, 0, 0, 1010, 2020}, {4, 2})));
    EXPECT_TRUE(
        all_equal(scatter_add(f32s({1, 2, 4}, {3}), i32s({0, 0, 0}), 2), f32s({7, 0}, {2})));
    EXPECT_TRUE(all_equal(scatter_add(Tensor::zeros({0, 3}), Tensor::zeros({0}, DType::i32), 2),
                          Tensor::zeros({2, 3})));
}

TEST(Index, SegmentSoftmaxByHandWithEmptySegment) {
    // Segments [0, 2), [2, 2) (empty), [2, 3); two columns. A single entry gets probability 1.
    Tensor ptr = i32s({0, 2, 2, 3});
    Tensor x = f32s({1, 0, 3, 0, -5, 7}, {3, 2});
    float e = 1.f / (1.f + std::exp(2.f)); // softmax(1, 3)[0]
    EXPECT_TRUE(all_close(segment_softmax(x, ptr), f32s({e, 0.5f, 1 - e, 0.5f, 1, 1}, {3, 2})));
    // Max subtraction: huge logits do not overflow.
    float e1 = 1.f / (1.f + std::exp(1.f)); // softmax(0, 1)[0]
    Tensor big = f32s({1000, 1001}, {2, 1});
    EXPECT_TRUE(all_close(segment_softmax(big, i32s({0, 2})), f32s({e1, 1 - e1}, {2, 1})));
    // 1-D x: one column; every segment empty but one.
    EXPECT_TRUE(
        all_close(segment_softmax(f32s({2, 2}, {2}), i32s({0, 0, 2, 2})), f32s({0.5f, 0.5f}, {2})));
}

TEST(Index, SegmentSumByHandWithEmptySegment) {
    Tensor ptr = i32s({0, 2, 2, 3});
    Tensor x = f32s({1, 2, 10, 20, 100, 200}, {3, 2});
    EXPECT_TRUE(all_equal(segment_sum(x, ptr), f32s({11, 22, 0, 0, 100, 200}, {3, 2})));
    // No entries at all: every segment sums to 0; (E, F...) keeps its trailing shape.
    EXPECT_TRUE(
        all_equal(segment_sum(Tensor::zeros({0, 2, 2}), i32s({0, 0})), Tensor::zeros({1, 2, 2})));
    EXPECT_EQ(segment_sum(Tensor::zeros({0}), i32s({0})).shape(), (Shape{0}));
}

// ---- determinism: results equal a sequential loop in edge order, bit for bit ----

TEST(Index, ScatterAddAndSegmentSumFollowEdgeOrderExactly) {
    Generator gen(3);
    const int64_t E = 5000, V = 137, F = 40; // 3 column blocks, 3 segment chunks, ~36 repeats a row
    Tensor src = Tensor::uniform({E, F}, gen, -100.f, 100.f);
    std::vector<int32_t> idx(E);
    for (int64_t e = 0; e < E; e++) idx[size_t(e)] = int32_t(gen.randint(0, V));
    std::vector<float> s = src.to_f32_vector(), expected(size_t(V * F), 0.f);
    for (int64_t e = 0; e < E; e++)
        for (int64_t c = 0; c < F; c++)
            expected[size_t(idx[size_t(e)] * F + c)] += s[size_t(e * F + c)];
    EXPECT_TRUE(all_equal(scatter_add(src, i32s(idx), V), f32s(expected, {V, F})));
    // segment_sum accumulates each segment in double in entry order, then rounds once.
    std::vector<int32_t> ptr{0}; // random segment lengths (some empty), the last takes the rest
    for (int64_t v = 1; v < V; v++)
        ptr.push_back(int32_t(std::min<int64_t>(E, ptr.back() + gen.randint(0, 2 * E / V))));
    ptr.push_back(int32_t(E));
    std::vector<float> sums(size_t(V * F));
    for (int64_t v = 0; v < V; v++) {
        for (int64_t c = 0; c < F; c++) {
            double acc = 0.0;
            for (int32_t r = ptr[size_t(v)]; r < ptr[size_t(v) + 1]; r++)
                acc += s[size_t(r * F + c)];
            sums[size_t(v * F + c)] = float(acc);
        }
    }
    EXPECT_TRUE(all_equal(segment_sum(src, i32s(ptr)), f32s(sums, {V, F})));
}

TEST(Index, ResultsDoNotDependOnTheThreadCount) {
    Generator gen(4);
    const int64_t V = 300, E = 6000, F = 48;
    std::vector<int32_t> idx(E), ptr{0};
    for (auto& i : idx) i = int32_t(gen.randint(0, V));
    for (int64_t v = 1; v < V; v++)
        ptr.push_back(int32_t(std::min<int64_t>(E, ptr.back() + gen.randint(0, 2 * E / V))));
    ptr.push_back(int32_t(E));
    Tensor x = Tensor::uniform({V, F}, gen), logits = Tensor::uniform({E, 4}, gen, -3.f, 3.f);
    Tensor labels = Tensor::from_vector(idx, {E / 2, 2});
    // Forward and backward of every kernel: gather, scatter-add, segment softmax / sum / expand.
    auto run = [&] {
        Tensor xl = x.clone().set_requires_grad(true), ll = logits.clone().set_requires_grad(true);
        Tensor rows = index_select(xl, i32s(idx));                                    // (E, F)
        Tensor alpha = reshape(sum(segment_softmax(ll, i32s(ptr)), 1, true), {E, 1}); // (E, 1)
        Tensor out =
            sum(segment_sum(rows * alpha, i32s(ptr))) + sum(scatter_add(rows, i32s(idx), V));
        backward(out);
        return std::vector<Tensor>{out, xl.grad(), ll.grad(), one_hot(labels, V)};
    };
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<Tensor> reference = run();
    for (int threads : {2, 3, 4}) {
        omp_set_num_threads(threads);
        std::vector<Tensor> results = run();
        for (size_t i = 0; i < results.size(); i++)
            EXPECT_TRUE(all_equal(results[i], reference[i])) << threads << " threads, result " << i;
    }
    omp_set_num_threads(before);
}

// ---- GAT attention: index_select -> scores -> segment_softmax -> weighted segment_sum ----

struct Graph {
    Tensor src, dst, row_ptr; // (E,), (E,), (V + 1,); edges sorted by destination
};

// z (V, K, F) projected features; a_src, a_dst (K, F) attention vectors. Returns h' (V, K, F).
Tensor gat_attention(const Tensor& z, const Tensor& a_src, const Tensor& a_dst, const Graph& g) {
    Tensor z_src = index_select(z, g.src), z_dst = index_select(z, g.dst); // (E, K, F)
    Tensor score = sum(z_src * a_src, -1) + sum(z_dst * a_dst, -1);        // (E, K)
    Tensor alpha = segment_softmax(leaky_relu(score, 0.2f), g.row_ptr);    // (E, K)
    int64_t E = z_src.size(0), K = z_src.size(1);
    return segment_sum(z_src * reshape(alpha, {E, K, 1}), g.row_ptr);
}

TEST(Index, GatLayerMatchesNaiveLoops) {
    // 4 nodes; node 2 has no in-edges (an empty segment: its output is 0).
    std::vector<int32_t> src{0, 1, 3, 1, 2, 0, 2, 3}, dst{0, 0, 0, 1, 1, 3, 3, 3};
    Graph g{i32s(src), i32s(dst), i32s({0, 3, 5, 5, 8})};
    const int64_t V = 4, K = 2, F = 3;
    Generator gen(11);
    Tensor z = Tensor::uniform({V, K, F}, gen, -1.f, 1.f);
    Tensor a_src = Tensor::uniform({K, F}, gen, -1.f, 1.f),
           a_dst = Tensor::uniform({K, F}, gen, -1.f, 1.f);
    std::vector<float> zv = z.to_f32_vector(), as = a_src.to_f32_vector(),
                       ad = a_dst.to_f32_vector();
    std::vector<float> expected(size_t(V * K * F), 0.f);
    std::vector<int32_t> ptr{0, 3, 5, 5, 8};
    for (int64_t i = 0; i < V; i++) {
        for (int64_t k = 0; k < K; k++) {
            std::vector<double> score;
            for (int32_t e = ptr[size_t(i)]; e < ptr[size_t(i) + 1]; e++) {
                double s = 0.0;
                for (int64_t f = 0; f < F; f++)
                    s += as[size_t(k * F + f)] * zv[size_t((src[size_t(e)] * K + k) * F + f)] +
                         ad[size_t(k * F + f)] * zv[size_t((i * K + k) * F + f)];
                score.push_back(s > 0 ? s : 0.2 * s);
            }
            double total = 0.0;
            for (double s : score) total += std::exp(s);
            for (int32_t e = ptr[size_t(i)]; e < ptr[size_t(i) + 1]; e++) {
                double alpha = std::exp(score[size_t(e - ptr[size_t(i)])]) / total;
                for (int64_t f = 0; f < F; f++)
                    expected[size_t((i * K + k) * F + f)] +=
                        float(alpha * zv[size_t((src[size_t(e)] * K + k) * F + f)]);
            }
        }
    }
    EXPECT_TRUE(all_close(gat_attention(z, a_src, a_dst, g), f32s(expected, {V, K, F})));
}

// Forward and gradients of sum(out * w) against the PyTorch dump (float64 there). Tolerance
// 1e-5 abs + 1e-5 rel: f32 rounding of a few dozen operations on O(1) values.
void expect_reference(const std::map<std::string, Tensor>& ref, const std::string& name,
                      const Tensor& out, const std::vector<std::pair<Tensor, std::string>>& grads) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(all_close(out, ref.at(name + ".out"), 1e-5f, 1e-5f));
    backward(sum(out * ref.at(name + ".w")));
    for (const auto& [leaf, key] : grads)
        EXPECT_TRUE(all_close(leaf.grad(), ref.at(key), 1e-5f, 1e-5f)) << key;
}

Tensor leaf_of(const std::map<std::string, Tensor>& ref, const std::string& key) {
    Tensor t = ref.at(key).clone();
    t.set_requires_grad(true);
    return t;
}

TEST(Index, MatchesPyTorchReference) {
    auto ref = test::load_reference("index.safetensors");
    Tensor labels = ref.at("one_hot.labels");
    EXPECT_TRUE(all_equal(one_hot(labels, 5), ref.at("one_hot.out")));
    EXPECT_TRUE(all_equal(one_hot(cast(labels, DType::u8), 5), ref.at("one_hot.out")));

    Tensor x = leaf_of(ref, "index_select.x");
    expect_reference(ref, "index_select", index_select(x, ref.at("index_select.index")),
                     {{x, "index_select.dx"}});
    Tensor src = leaf_of(ref, "scatter_add.src");
    expect_reference(ref, "scatter_add", scatter_add(src, ref.at("scatter_add.index"), 5),
                     {{src, "scatter_add.dsrc"}});
    Tensor ptr = ref.at("segment.row_ptr");
    Tensor xs = leaf_of(ref, "segment_softmax.x");
    expect_reference(ref, "segment_softmax", segment_softmax(xs, ptr),
                     {{xs, "segment_softmax.dx"}});
    Tensor xg = leaf_of(ref, "segment_sum.x");
    expect_reference(ref, "segment_sum", segment_sum(xg, ptr), {{xg, "segment_sum.dx"}});
}

TEST(Index, GatLayerMatchesPyTorchReference) {
    auto ref = test::load_reference("index.safetensors");
    Graph g{ref.at("gat.src"), ref.at("gat.dst"), ref.at("gat.row_ptr")};
    Tensor z = leaf_of(ref, "gat.z"), a_src = leaf_of(ref, "gat.a_src");
    Tensor a_dst = leaf_of(ref, "gat.a_dst");
    expect_reference(ref, "gat", gat_attention(z, a_src, a_dst, g),
                     {{z, "gat.dz"}, {a_src, "gat.da_src"}, {a_dst, "gat.da_dst"}});
}

// ---- gradient checks ----

TEST(IndexGrad, IndexSelectAndScatterAdd) {
    Generator gen(21);
    auto select = [](Tensor index) {
        return [index](const std::vector<Tensor>& in) { return index_select(in[0], index); };
    };
    auto scatter = [](Tensor index, int64_t rows) {
        return [index, rows](const std::vector<Tensor>& in) {
            return scatter_add(in[0], index, rows);
        };
    };
    // Repeated rows, a row never picked, odd sizes, size-1 dims, 1-D rows.
    PG_EXPECT_GRADCHECK(select(i32s({4, 0, 2, 0, 4, 4, 1})), {random_leaf({5, 3}, gen)});
    PG_EXPECT_GRADCHECK(select(i32s({0, 0})), {random_leaf({1, 1, 3}, gen)});
    PG_EXPECT_GRADCHECK(select(i32s({2, 1, 2})), {random_leaf({3}, gen)});
    PG_EXPECT_GRADCHECK(select(i32s({1, 2})), {random_leaf({3, 2, 1, 5}, gen)});
    PG_EXPECT_GRADCHECK(scatter(i32s({1, 3, 0, 1, 4, 3}), 6), {random_leaf({6, 4}, gen)});
    PG_EXPECT_GRADCHECK(scatter(i32s({0, 0, 0}), 1), {random_leaf({3, 1, 2}, gen)});
    PG_EXPECT_GRADCHECK(scatter(i32s({2, 0, 2}), 3), {random_leaf({3}, gen)});
}

TEST(IndexGrad, SegmentSoftmaxAndSum) {
    Generator gen(22);
    auto softmax = [](Tensor ptr) {
        return [ptr](const std::vector<Tensor>& in) { return segment_softmax(in[0], ptr); };
    };
    auto seg_sum = [](Tensor ptr) {
        return [ptr](const std::vector<Tensor>& in) { return segment_sum(in[0], ptr); };
    };
    // Empty segments (first, middle, last), single-entry segments (gradient 0), one column,
    // several heads, trailing feature dims.
    Tensor ptr = i32s({0, 0, 3, 3, 4, 9, 9});
    PG_EXPECT_GRADCHECK(softmax(ptr), {random_leaf({9, 3}, gen, -2.f, 2.f)});
    PG_EXPECT_GRADCHECK(softmax(ptr), {random_leaf({9}, gen, -2.f, 2.f)});
    PG_EXPECT_GRADCHECK(softmax(i32s({0, 1, 2})), {random_leaf({2, 1}, gen)});
    PG_EXPECT_GRADCHECK(softmax(i32s({0, 7})), {random_leaf({7, 2, 2}, gen, -2.f, 2.f)});
    PG_EXPECT_GRADCHECK(seg_sum(ptr), {random_leaf({9, 1, 3}, gen)});
    PG_EXPECT_GRADCHECK(seg_sum(i32s({0, 5})), {random_leaf({5}, gen)});
}

TEST(IndexGrad, GatAttentionLayer) {
    Graph g{i32s({0, 1, 3, 1, 2, 0, 2, 3}), i32s({0, 0, 0, 1, 1, 3, 3, 3}), i32s({0, 3, 5, 5, 8})};
    Generator gen(23);
    // Scores stay well away from LeakyReLU's kink at 0 with probability ~1 for these draws;
    // gradcheck reports the element if one ever lands too close.
    PG_EXPECT_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return gat_attention(in[0], in[1], in[2], g); },
        {random_leaf({4, 2, 3}, gen), random_leaf({2, 3}, gen), random_leaf({2, 3}, gen)});
}

// ---- parity (CPU with itself today; CPU vs CUDA once the backend lands) ----

class IndexDevice : public test::DeviceTest {};

TEST_P(IndexDevice, ParityWithCpu) {
    Generator gen(31);
    constexpr int64_t V = 50, E = 300, F = 20;
    std::vector<int32_t> src(E), ptr{0};
    for (auto& s : src) s = int32_t(gen.randint(0, V));
    for (int64_t v = 0; v < V; v++)
        ptr.push_back(int32_t(std::min<int64_t>(E, ptr.back() + gen.randint(0, 13))));
    ptr.back() = int32_t(E);
    Tensor x = random_leaf({V, F}, gen), index = i32s(src), row_ptr = i32s(ptr);
    Tensor logits = random_leaf({E, 4}, gen, -3.f, 3.f);
    auto layer = [](const std::vector<Tensor>& in) {
        Tensor rows = index_select(in[0], in[1]);                    // (E, F)
        Tensor alpha = segment_softmax(in[2], in[3]);                // (E, 4)
        Tensor msg = rows * reshape(sum(alpha, 1, true), {-1, 1});   // (E, F)
        return segment_sum(msg, in[3]) + scatter_add(msg, in[1], V); // both (V, F)
    };
    EXPECT_TRUE(test::device_parity(layer, {x, index, logits, row_ptr}, device()));
    Tensor labels = Tensor::from_vector(std::vector<int32_t>{3, 255, 0, 2, 20, 255}, {2, 3});
    auto encode = [](const std::vector<Tensor>& in) { return one_hot(in[0], 21); };
    EXPECT_TRUE(test::device_parity(encode, {labels}, device()));
}

PG_INSTANTIATE_DEVICE_SUITE(IndexDevice);

// ---- bad inputs ----

TEST(IndexErrors, OutOfRangeLabelsAndIndices) {
    Tensor labels = Tensor::from_vector(std::vector<int32_t>{0, 255, 30, 40}, {2, 2});
    expect_error([&] { one_hot(labels, 21); },
                 "one_hot: label 30 at position 2 is outside [0, 21) and is not ignore_index 255");
    // -1 is a bad label too (and not mistaken for the kernels' "all fine").
    expect_error([&] { one_hot(i32s({1, -1}), 21); }, "one_hot: label -1 at position 1");
    expect_error([&] { one_hot(Tensor::from_vector(std::vector<uint8_t>{7}, {1}), 5); },
                 "one_hot: label 7 at position 0");
    Tensor x = Tensor::zeros({5, 3});
    expect_error(
        [&] {
            index_select(x, i32s({0, 7, 2}));
        },
        "index_select: index 7 at position 1 is out of range for 5 rows");
    expect_error([&] { index_select(x, i32s({-1})); }, "index_select: index -1 at position 0");
    expect_error(
        [&] {
            scatter_add(Tensor::zeros({3, 2}), i32s({0, 1, 7}), 5);
        },
        "scatter_add: index 7 at position 2 is out of range for 5 rows");
    expect_error(
        [&] {
            scatter_add(Tensor::zeros({3, 2}), i32s({-1, 1, 2}), 5);
        },
        "scatter_add: index -1 at position 0");
}

TEST(IndexErrors, BadRowPtr) {
    Tensor x = Tensor::zeros({4, 2});
    expect_error(
        [&] {
            segment_softmax(x, i32s({0, 3, 1, 4}));
        },
        "segment_softmax: row_ptr[2] = 1 is less than row_ptr[1] = 3");
    expect_error([&] { segment_sum(x, i32s({1, 2, 4})); }, "segment_sum: row_ptr[0] = 1 must be 0");
    expect_error(
        [&] {
            segment_sum(x, i32s({0, 2, 5}));
        },
        "segment_sum: row_ptr[2] = 5 must equal the number of entries 4");
    expect_error([&] { segment_sum(x, Tensor::zeros({0}, DType::i32)); },
                 "segment_sum: row_ptr must have at least one entry");
    expect_error([&] { segment_sum(x, Tensor::zeros({3})); },
                 "segment_sum: row_ptr must be i32, got f32");
    expect_error(
        [&] {
            segment_softmax(Tensor::zeros({4}, DType::i32), i32s({0, 4}));
        },
        "segment_softmax: input must be f32, got i32");
}

TEST(IndexErrors, WrongDtypesAndShapes) {
    expect_error([&] { one_hot(Tensor::zeros({3}), 4); },
                 "one_hot: labels must be i32 or u8, got f32 (3,)");
    expect_error([&] { one_hot(i32s({0}), 0); }, "one_hot: num_classes must be positive, got 0");
    expect_error(
        [&] {
            index_select(Tensor::zeros({3, 2}), Tensor::zeros({2}));
        },
        "index_select: index must be i32, got f32 (2,)");
    expect_error(
        [&] {
            index_select(Tensor::zeros({3, 2}, DType::i32), i32s({0}));
        },
        "index_select: input must be f32, got i32");
    expect_error(
        [&] {
            index_select(Tensor::zeros({3, 2}), Tensor::zeros({2, 1}, DType::i32));
        },
        "index_select: index must have 1 dimensions, got shape (2, 1)");
    expect_error(
        [&] {
            scatter_add(Tensor::zeros({3, 2}), i32s({0, 1}), 4);
        },
        "scatter_add: src (3, 2) must have one row per index entry, index has 2");
    expect_error(
        [&] {
            scatter_add(Tensor::zeros({2}), i32s({0, 1}), -1);
        },
        "scatter_add: num_rows must be >= 0, got -1");
}

} // namespace
} // namespace pg
