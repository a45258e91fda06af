// The full segmentation networks (nn/segmenter.h) against PyTorch (tools/dump_segmenter.py ->
// tests/data/segmenter.safetensors): U2PL's DeepLabV3+ on a FULL-SIZE ResNet-101 (every key of
// U2PL's checkpoints, eval outputs, one train-mode backward), a reduced DeepLab-v2 made by
// build_segmenter, FLOPs against PyTorch's conv-hook count, the full-size parameter count.
// The 67M weights are not stored: both sides compute them from the same formula (fill_value).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/losses.h"
#include "nn/segmenter.h"
#include "tests/common/test_util.h"
#include "tests/nn/net_reference.h"

namespace pg {
namespace {

using nn::SegArch;
using nn::SegmenterOptions;
using test::all_close;

// ---- the deterministic weights: the twin of tools/dump_segmenter.py's fill_value ----

uint32_t lowbias32(uint32_t x) { // Chris Wellons' integer hash
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

uint32_t fnv1a(const std::string& s) {
    uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
}

// Entry `key` of PyTorch shape `shape`, element i (row-major) = a + b u_i with
// u_i = (lowbias32(lowbias32(i) ^ fnv1a(key)) >> 8) / 2^23 - 1 in [-1, 1): conv weights
// (a, b) = (0, sqrt(3 / fan_in)); BN weight (1, 0.1), bias (0, 0.1), running_mean (0, 0.1),
// running_var (1, 0.25); other tensors (conv biases) (0, 0.1); num_batches_tracked 3. The last BN
// of a residual branch (bn3) has weight (0.1, 0.01): small like a trained ResNet's, which keeps
// the train-mode backward through 33 blocks from amplifying f32 rounding (see the dump script).
Tensor fill_value(const std::string& key, const Shape& shape, bool is_bn) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    if (leaf == "num_batches_tracked") return Tensor::full(shape, 3.0, DType::i32);
    double a = 0.0, b = 0.1;
    if (shape.size() == 4) {
        b = std::sqrt(3.0 / double(shape[1] * shape[2] * shape[3]));
    } else if (is_bn && leaf == "weight") {
        const bool residual_end =
            key.size() > 11 && key.compare(key.size() - 11, 11, ".bn3.weight") == 0;
        a = residual_end ? 0.1 : 1.0, b = residual_end ? 0.01 : 0.1;
    } else if (is_bn && leaf == "running_var") {
        a = 1.0, b = 0.25;
    }
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    const uint32_t seed = fnv1a(key);
    for (int64_t i = 0; i < n; i++) {
        const double u = double(lowbias32(lowbias32(uint32_t(i)) ^ seed) >> 8) / 8388608.0 - 1.0;
        v[size_t(i)] = float(a + b * u);
    }
    return Tensor::from_vector(v, shape);
}

// The whole state_dict from the dumped "key:shape" lines; a BN is a module with a running_mean.
std::map<std::string, Tensor> fill_state(const std::vector<std::string>& lines) {
    std::set<std::string> names;
    for (const std::string& line : lines) names.insert(test::parse_key_shape(line).first);
    std::map<std::string, Tensor> state;
    for (const std::string& line : lines) {
        const auto [key, shape] = test::parse_key_shape(line);
        const bool is_bn = names.count(key.substr(0, key.rfind('.')) + ".running_mean") > 0;
        state[key] = fill_value(key, shape, is_bn);
    }
    return state;
}

bool is_buffer_key(const std::string& key) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    return leaf == "running_mean" || leaf == "running_var" || leaf == "num_batches_tracked";
}

// The keys of a "key:shape" list that are parameters (or buffers), in the list's order: PyTorch's
// state_dict order restricted to parameters is its named_parameters() order.
std::vector<std::string> names_of(const std::vector<std::string>& lines, bool buffers) {
    std::vector<std::string> out;
    for (const std::string& line : lines) {
        const std::string key = test::parse_key_shape(line).first;
        if (is_buffer_key(key) == buffers) out.push_back(key);
    }
    return out;
}

int64_t stored_count(const std::map<std::string, Tensor>& ref, const std::string& key) {
    return int64_t(ref.at(key + ".hi").to_i32_vector()[0]) * 1000000 +
           ref.at(key + ".lo").to_i32_vector()[0];
}

// The dump's input image(): pattern((2, 33, 33, 3), 21), the second image at half contrast
// + 0.4, so the two images differ in their global statistics (the ASPP image-pool branch's
// train-mode BN normalises over just their two pooled feature vectors).
Tensor image() {
    Tensor x = test::pattern({2, 33, 33, 3}, 21);
    std::vector<float> v = x.to_f32_vector();
    for (size_t i = v.size() / 2; i < v.size(); i++) v[i] = v[i] * 0.5f + 0.4f;
    return Tensor::from_vector(v, x.shape());
}

// ---- the networks ----

// U2PL's VOC model: ResNet-101 C, 21 classes, representation head, aux head; dropout 0 so train
// mode is deterministic (the reference has p = 0 too).
SegmenterOptions full_v3plus_options() {
    SegmenterOptions o;
    o.arch = SegArch::deeplabv3plus;
    o.v3plus.encoder = nn::resnet_options(nn::ResNetVariant::C, 101);
    o.v3plus.decoder.num_classes = 21;
    o.v3plus.decoder.dropout = 0.f;
    o.v3plus.aux = true;
    o.v3plus.aux_head.dropout = 0.f;
    return o;
}

// The dump's reduced DeepLab-v2: ResNet A, blocks 1 1 2 1, width 1/16, 5 classes.
SegmenterOptions reduced_v2_options() {
    SegmenterOptions o;
    o.arch = SegArch::deeplabv2;
    o.v2.num_classes = 5;
    o.v2.backbone = nn::resnet_options(nn::ResNetVariant::A, 101);
    o.v2.backbone.blocks = {1, 1, 2, 1};
    o.v2.backbone.width = 1.f / 16;
    return o;
}

// The dump's reduced DeepLabV3+ for FLOPs: blocks 1 1 2 2, width 1/16, inner 16, rep 32.
SegmenterOptions reduced_v3plus_options() {
    SegmenterOptions o = full_v3plus_options();
    o.v3plus.encoder.blocks = {1, 1, 2, 2};
    o.v3plus.encoder.width = 1.f / 16;
    o.v3plus.decoder.inner_planes = 16;
    o.v3plus.decoder.rep_planes = 32;
    return o;
}

// ---- the full-size DeepLabV3+ (built, filled and loaded once for the suite: about 0.5 GB) ----

// Timing (one core): building the network (its own Kaiming init) 2.6 s, the formula 0.5 s,
// the strict load 0.7 s, the eval forward 0.2 s, the train forward + backward 1.0 s.
class FullDeepLabV3Plus : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        ref_ = new std::map<std::string, Tensor>(test::load_reference("segmenter.safetensors"));
        keys_ = new std::vector<std::string>(test::text_lines(ref_->at("v3.keys")));
        state_ = new std::map<std::string, Tensor>(fill_state(*keys_));
        Generator gen(0);
        net_ = new std::shared_ptr<nn::SegmentationNet>(
            nn::build_segmenter(full_v3plus_options(), gen));
        // Strict: every key and shape of U2PL's checkpoint, nothing missing or left over.
        (*net_)->load_state_dict(*state_, /*strict=*/true);
    }
    static void TearDownTestSuite() {
        delete net_, delete state_, delete keys_, delete ref_;
        net_ = nullptr, state_ = nullptr, keys_ = nullptr, ref_ = nullptr;
    }
    // The net holding the formula's weights and running statistics, no gradients. A train-mode
    // forward moves the running statistics, so the test that runs one marks the net dirty.
    static nn::SegmentationNet& loaded_net() {
        nn::SegmentationNet& net = **net_;
        if (dirty_) net.load_state_dict(*state_, /*strict=*/true);
        dirty_ = false;
        net.zero_grad();
        return net;
    }
    static const Tensor& ref(const std::string& key) { return ref_->at(key); }

    static std::map<std::string, Tensor>* ref_;
    static std::vector<std::string>* keys_;
    static std::map<std::string, Tensor>* state_;
    static std::shared_ptr<nn::SegmentationNet>* net_;
    static bool dirty_;
};

std::map<std::string, Tensor>* FullDeepLabV3Plus::ref_ = nullptr;
std::vector<std::string>* FullDeepLabV3Plus::keys_ = nullptr;
std::map<std::string, Tensor>* FullDeepLabV3Plus::state_ = nullptr;
std::shared_ptr<nn::SegmentationNet>* FullDeepLabV3Plus::net_ = nullptr;
bool FullDeepLabV3Plus::dirty_ = false;

// Every key and shape of U2PL's ModelBuilder (encoder.*, decoder.*, auxor.*), parameters and
// buffers each in PyTorch's order; the parameter count (66,825,450) and the lr groups.
TEST_F(FullDeepLabV3Plus, KeysOrderCountAndGroupsMatchU2PL) {
    nn::SegmentationNet& net = **net_;
    std::vector<std::string> ours = test::key_shapes(net), theirs = *keys_;
    std::sort(ours.begin(), ours.end());
    std::sort(theirs.begin(), theirs.end());
    EXPECT_EQ(ours, theirs);
    std::vector<std::string> params, buffers;
    for (const nn::NamedTensor& p : net.named_parameters()) params.push_back(p.name);
    for (const nn::NamedTensor& b : net.named_buffers()) buffers.push_back(b.name);
    EXPECT_EQ(params, names_of(*keys_, false));
    EXPECT_EQ(buffers, names_of(*keys_, true));
    EXPECT_EQ(params.front(), "encoder.conv1.0.weight");
    EXPECT_EQ(params.back(), "auxor.aux.4.bias");

    EXPECT_EQ(net.parameter_count(), stored_count(*ref_, "count.v3plus_r101"));
    EXPECT_EQ(nn::segmenter_name(full_v3plus_options()), "deeplabv3plus-resnet101-C");
    auto& v3 = dynamic_cast<nn::DeepLabV3Plus&>(net);
    int64_t backbone = 0, head = 0;
    for (const Tensor& p : net.backbone_parameters()) backbone += p.numel();
    for (const Tensor& p : net.head_parameters()) head += p.numel();
    EXPECT_EQ(backbone, v3.encoder->parameter_count()); // U2PL trains BN: all trainable
    EXPECT_EQ(backbone + head, net.parameter_count());
    EXPECT_EQ(net.output_stride(), 4);
    EXPECT_EQ(net.num_classes(), 21);
}

// Eval mode on image(): logits (2, 9, 9, 21), the first 32 channels and the per-pixel norm of
// the 256-channel representation, aux (2, 5, 5, 21). The reference is float64; after 107
// convolutions pixelgrad's f32 lands within 7e-7 of the largest value (|logits| < 0.32,
// |aux| < 0.73), so 2e-5 + 1e-4 relative leaves room for other summation orders (threads).
TEST_F(FullDeepLabV3Plus, EvalOutputsMatchPyTorch) {
    nn::SegmentationNet& net = loaded_net();
    net.eval();
    NoGradGuard no_grad;
    nn::SegOutput out = net.forward(image());
    ASSERT_EQ(out.logits.shape(), (Shape{2, 9, 9, 21}));
    ASSERT_EQ(out.rep.shape(), (Shape{2, 9, 9, 256}));
    ASSERT_EQ(out.aux.shape(), (Shape{2, 5, 5, 21}));
    EXPECT_TRUE(all_close(out.logits, ref("v3.eval.logits"), 2e-5f, 1e-4f));
    EXPECT_TRUE(all_close(narrow(out.rep, 3, 0, 32), ref("v3.eval.rep_c32"), 2e-5f, 1e-4f));
    EXPECT_TRUE(all_close(sqrt(sum(out.rep * out.rep, 3)), ref("v3.eval.rep_norm"), 2e-5f, 1e-4f));
    EXPECT_TRUE(all_close(out.aux, ref("v3.eval.aux"), 2e-5f, 1e-4f));
}

// Train mode (BN on batch statistics, dropout 0): loss = CE(up(logits)) + 0.4 CE(up(aux)) +
// 0.1 mean(rep^2) (the last term so the representation head has gradients too), up = bilinear
// with align_corners to 33 x 33; then every parameter's gradient (as its L2 norm: 366 numbers
// instead of 67M), the norm of every buffer after the forward, and a few whole gradients.
//
// Tolerances. Forward: the train logits land within 6e-6 of the largest (|logits| < 2.7), the
// loss within 1e-7. The encoder's gradients are ill-conditioned at this size, whoever computes
// them: ASPP's image-pool branch batch-normalises two pooled vectors (one per image), and a
// channel whose two values nearly coincide has a gradient of order 1/sqrt(eps); ReLUs of 5 x 5
// maps flip under rounding. Against the float64 reference, PyTorch's own f32 run lands 2e-5 (2
// threads) or up to 1.8e-2 (1 thread) of the largest element of these encoder gradients, and
// 3e-3 to 4e-3 on the worst gradient norm; pixelgrad lands 6.7e-3 and 2.1e-3. Hence 1e-2
// relative on the norms (plus 1e-5 of the largest norm: conv biases before a train-mode BN have
// a zero gradient, ~1e-9 in f32) and 3e-2 of the largest element on the encoder's whole
// gradients; the heads' gradients (within 6e-6) get 1e-4.
TEST_F(FullDeepLabV3Plus, TrainStepLossAndGradientsMatchPyTorch) {
    nn::SegmentationNet& net = loaded_net();
    dirty_ = true;
    net.train();
    nn::SegOutput out = net.forward(image());
    nn::SegLossConfig ce;
    ce.aux_weight = 0.4f;
    Tensor loss = nn::seg_loss({out.logits, out.aux}, ref("v3.train.label"), ce) +
                  mean(out.rep * out.rep) * 0.1f;
    EXPECT_TRUE(all_close(out.logits, ref("v3.train.logits"), 2e-4f, 1e-4f));
    EXPECT_NEAR(loss.item(), ref("v3.train.loss").item(), 1e-5f * ref("v3.train.loss").item());
    backward(loss);

    std::vector<nn::NamedTensor> params = net.named_parameters();
    std::vector<float> norms = ref("v3.train.grad_norms").to_f32_vector();
    ASSERT_EQ(params.size(), norms.size());
    const float largest = *std::max_element(norms.begin(), norms.end());
    for (size_t i = 0; i < params.size(); i++) {
        SCOPED_TRACE("gradient of " + params[i].name);
        ASSERT_TRUE(params[i].tensor.grad().defined());
        const Tensor g = params[i].tensor.grad();
        EXPECT_NEAR(std::sqrt(sum(g * g).item()), norms[i], 1e-2f * norms[i] + 1e-5f * largest);
    }
    std::vector<nn::NamedTensor> buffers = net.named_buffers();
    std::vector<float> buffer_norms = ref("v3.train.buffer_norms").to_f32_vector();
    ASSERT_EQ(buffers.size(), buffer_norms.size());
    for (size_t i = 0; i < buffers.size(); i++) {
        SCOPED_TRACE("buffer " + buffers[i].name);
        const Tensor b = cast(buffers[i].tensor, DType::f32);
        EXPECT_NEAR(std::sqrt(sum(b * b).item()), buffer_norms[i], 1e-4f * buffer_norms[i]);
    }
    int checked = 0;
    for (const nn::NamedTensor& p : params) {
        auto it = ref_->find("v3.g." + p.name);
        if (it == ref_->end()) continue;
        SCOPED_TRACE("gradient of " + p.name);
        const Tensor g = nn::to_torch_layout(p.tensor.grad(), p.layout);
        const float scale = max(abs(it->second)).item();
        const bool encoder = p.name.rfind("encoder.", 0) == 0;
        EXPECT_TRUE(all_close(g, it->second, (encoder ? 3e-2f : 1e-4f) * scale, 1e-3f));
        checked++;
    }
    EXPECT_EQ(checked, 7);
}

// ---- the reduced DeepLab-v2, FLOPs ----

// build_segmenter's DeepLab-v2 has AdvSemiSeg's flat keys; eval logits on pattern(X, 22).
TEST(Segmenter, ReducedDeepLabV2MatchesPyTorch) {
    auto ref = test::load_reference("segmenter.safetensors");
    std::vector<std::string> keys = test::text_lines(ref.at("v2.keys"));
    Generator gen(1);
    std::shared_ptr<nn::SegmentationNet> net = nn::build_segmenter(reduced_v2_options(), gen);
    ASSERT_NE(dynamic_cast<nn::DeepLabV2*>(net.get()), nullptr);
    EXPECT_EQ(nn::segmenter_name(reduced_v2_options()), "deeplabv2-resnet17-A-w0.0625");
    std::vector<std::string> ours = test::key_shapes(*net), theirs = keys;
    std::sort(ours.begin(), ours.end());
    std::sort(theirs.begin(), theirs.end());
    EXPECT_EQ(ours, theirs);
    std::vector<std::string> params;
    for (const nn::NamedTensor& p : net->named_parameters()) params.push_back(p.name);
    EXPECT_EQ(params, names_of(keys, false)); // conv1, bn1, layer1..layer4, layer5: flat
    net->load_state_dict(fill_state(keys), /*strict=*/true);
    net->eval();
    NoGradGuard no_grad;
    nn::SegOutput out = net->forward(test::pattern({2, 33, 33, 3}, 22));
    EXPECT_FALSE(out.rep.defined());
    EXPECT_FALSE(out.aux.defined());
    EXPECT_TRUE(all_close(out.logits, ref.at("v2.eval.logits"), 1e-5f, 1e-4f));
}

// SegmentationNet::forward_flops against PyTorch's forward-hook count (2 x MACs of every conv)
// on reduced networks at 65 x 49: the same convolutions with the same output sizes.
TEST(Segmenter, ForwardFlopsMatchPyTorchHookCount) {
    auto ref = test::load_reference("segmenter.safetensors");
    Generator gen(2);
    EXPECT_EQ(nn::build_segmenter(reduced_v3plus_options(), gen)->forward_flops(65, 49),
              stored_count(ref, "flops.v3_reduced_65x49"));
    EXPECT_EQ(nn::build_segmenter(reduced_v2_options(), gen)->forward_flops(65, 49),
              stored_count(ref, "flops.v2_reduced_65x49"));
}

// The README's figures: full-size FLOPs at 513 and 321 (a real forward each; about a minute on
// one core, hence disabled). Run with --gtest_also_run_disabled_tests.
TEST(Segmenter, DISABLED_FullSizeForwardFlops) {
    auto ref = test::load_reference("segmenter.safetensors");
    Generator gen(3);
    SegmenterOptions v2 = full_v3plus_options();
    v2.arch = SegArch::deeplabv2;
    v2.v2.num_classes = 21;
    for (auto [name, options] :
         {std::make_pair("v3plus_r101", full_v3plus_options()), std::make_pair("v2_r101", v2)}) {
        std::shared_ptr<nn::SegmentationNet> net = nn::build_segmenter(options, gen);
        const std::string key = std::string("flops.") + name;
        for (int64_t s : {513, 321}) {
            const int64_t flops = net->forward_flops(s, s);
            std::printf("%s at %lldx%lld: %lld parameters, %.2f GFLOPs\n", name, (long long)s,
                        (long long)s, (long long)net->parameter_count(), double(flops) / 1e9);
            EXPECT_EQ(flops, stored_count(ref, key + "_" + std::to_string(s)));
        }
        EXPECT_EQ(net->parameter_count(), stored_count(ref, std::string("count.") + name));
    }
}

} // namespace
} // namespace pg
