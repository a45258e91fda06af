// U2PL's DeepLabV3+ decoder, ASPP and aux head against PyTorch (tools/dump_deeplab_v3plus.py ->
// tests/data/deeplab_v3plus.safetensors): state_dict keys and order, eval outputs, one training
// step (loss, every gradient, BN buffers, SGD), shapes, FLOPs by hand and the full-size
// parameter count. The tiny configuration gives every width a different value, so a swapped
// concatenation or a width in the wrong place shows.
#include <set>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/deeplab_v3plus.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"
#include "tests/nn/net_reference.h"

namespace pg {
namespace {

using test::with_prefix;

using nn::AuxHead;
using nn::AuxHeadOptions;
using nn::DeepLabV3PlusDecoder;
using nn::DeepLabV3PlusOptions;
using test::all_close;

// The dump's tiny configuration (tools/dump_deeplab_v3plus.py).
constexpr int64_t kClasses = 4, kIn = 12, kLowIn = 8, kLow = 6, kInner = 4, kHead = 8, kRep = 5;
constexpr int64_t kAuxIn = 10, kAuxHidden = 6, kCrop = 65;

DeepLabV3PlusOptions tiny_options(std::vector<int64_t> dilations = {2, 3, 5}) {
    DeepLabV3PlusOptions o;
    o.num_classes = kClasses;
    o.in_planes = kIn;
    o.low_in_planes = kLowIn;
    o.low_planes = kLow;
    o.inner_planes = kInner;
    o.head_planes = kHead;
    o.rep_planes = kRep;
    o.dilations = dilations;
    o.dropout = 0.f; // reference comparisons need deterministic training forwards
    return o;
}

AuxHeadOptions tiny_aux_options() {
    AuxHeadOptions o;
    o.num_classes = kClasses;
    o.in_planes = kAuxIn;
    o.inner_planes = kAuxHidden;
    o.dropout = 0.f;
    return o;
}

// U2PL's ModelBuilder without its encoder, so the keys read `decoder.*` and `auxor.aux.*`.
class Heads : public nn::Module {
  public:
    Heads(const DeepLabV3PlusOptions& dec, const AuxHeadOptions& aux, Generator& gen)
        : Module("ModelBuilder") {
        decoder = register_module("decoder", std::make_shared<DeepLabV3PlusDecoder>(dec, gen));
        auxor = register_module("auxor", std::make_shared<AuxHead>(aux, gen));
    }
    std::shared_ptr<DeepLabV3PlusDecoder> decoder;
    std::shared_ptr<AuxHead> auxor;
};

// A tiny head loaded with the dumped weights (strict: every key and shape must match).
std::unique_ptr<Heads> loaded_heads(const std::map<std::string, Tensor>& ref,
                                    std::vector<int64_t> dilations = {2, 3, 5}) {
    Generator gen(1);
    auto heads = std::make_unique<Heads>(tiny_options(dilations), tiny_aux_options(), gen);
    heads->load_state_dict(with_prefix(ref, "w."), /*strict=*/true);
    return heads;
}

// named_parameters() of the PyTorch module, in its order (printed by the dump script).
const std::vector<std::string> kTorchParameterOrder = {
    "decoder.low_conv.0.weight",
    "decoder.low_conv.0.bias",
    "decoder.low_conv.1.weight",
    "decoder.low_conv.1.bias",
    "decoder.aspp.conv1.1.weight",
    "decoder.aspp.conv1.2.weight",
    "decoder.aspp.conv1.2.bias",
    "decoder.aspp.conv2.0.weight",
    "decoder.aspp.conv2.1.weight",
    "decoder.aspp.conv2.1.bias",
    "decoder.aspp.conv3.0.weight",
    "decoder.aspp.conv3.1.weight",
    "decoder.aspp.conv3.1.bias",
    "decoder.aspp.conv4.0.weight",
    "decoder.aspp.conv4.1.weight",
    "decoder.aspp.conv4.1.bias",
    "decoder.aspp.conv5.0.weight",
    "decoder.aspp.conv5.1.weight",
    "decoder.aspp.conv5.1.bias",
    "decoder.head.0.weight",
    "decoder.head.1.weight",
    "decoder.head.1.bias",
    "decoder.classifier.0.weight",
    "decoder.classifier.0.bias",
    "decoder.classifier.1.weight",
    "decoder.classifier.1.bias",
    "decoder.classifier.4.weight",
    "decoder.classifier.4.bias",
    "decoder.classifier.5.weight",
    "decoder.classifier.5.bias",
    "decoder.classifier.8.weight",
    "decoder.classifier.8.bias",
    "decoder.representation.0.weight",
    "decoder.representation.0.bias",
    "decoder.representation.1.weight",
    "decoder.representation.1.bias",
    "decoder.representation.4.weight",
    "decoder.representation.4.bias",
    "decoder.representation.5.weight",
    "decoder.representation.5.bias",
    "decoder.representation.8.weight",
    "decoder.representation.8.bias",
    "auxor.aux.0.weight",
    "auxor.aux.0.bias",
    "auxor.aux.1.weight",
    "auxor.aux.1.bias",
    "auxor.aux.4.weight",
    "auxor.aux.4.bias",
};

// ---- names ----

TEST(DeepLabV3Plus, ParameterNamesAndOrderMatchPyTorch) {
    Generator gen(3);
    Heads heads(tiny_options(), tiny_aux_options(), gen);
    std::vector<std::string> names;
    for (const auto& p : heads.named_parameters()) names.push_back(p.name);
    EXPECT_EQ(names, kTorchParameterOrder);
    // The full state_dict (buffers included) has exactly the dumped keys.
    std::set<std::string> ours, torch;
    for (const auto& [k, v] : heads.state_dict()) ours.insert(k);
    for (const auto& [k, v] : with_prefix(test::load_reference("deeplab_v3plus.safetensors"), "w."))
        torch.insert(k);
    EXPECT_EQ(ours, torch);
    EXPECT_TRUE(ours.count("decoder.aspp.conv1.2.running_mean"));
    EXPECT_TRUE(ours.count("decoder.low_conv.1.num_batches_tracked"));
}

// ---- eval ----

// f32, a few hundred terms per output (observed |diff| ~1e-6): |diff| <= 1e-5 + 1e-4 |ref|.
TEST(DeepLabV3Plus, EvalOutputsMatchPyTorch) {
    auto ref = test::load_reference("deeplab_v3plus.safetensors");
    auto heads = loaded_heads(ref);
    heads->eval();
    NoGradGuard no_grad;
    nn::DeepLabV3PlusOutput out = heads->decoder->forward(ref.at("x1"), ref.at("x4"));
    EXPECT_TRUE(all_close(out.logits, ref.at("eval_logits"), 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(out.rep, ref.at("eval_rep"), 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(heads->auxor->forward(ref.at("x3")), ref.at("eval_aux"), 1e-5f, 1e-4f));
}

// U2PL's dilations (12, 24, 36) on a 9 x 9 map: most taps fall into the zero padding.
TEST(DeepLabV3Plus, EvalWithU2plDilationsMatchesPyTorch) {
    auto ref = test::load_reference("deeplab_v3plus.safetensors");
    auto heads = loaded_heads(ref, {12, 24, 36});
    heads->eval();
    NoGradGuard no_grad;
    Tensor logits = heads->decoder->forward(ref.at("x1"), ref.at("x4")).logits;
    EXPECT_TRUE(all_close(logits, ref.at("eval_logits_d12"), 1e-5f, 1e-4f));
}

// ---- one training step (dropout p = 0) ----

// loss = CE(up(logits), y) + 0.4 CE(up(aux), y) + 0.05 mean(rep^2), up = bilinear with
// align_corners to the 65 x 65 crop, y with ignored (255) pixels, as the dump script.
Tensor train_loss(Heads& heads, const std::map<std::string, Tensor>& ref,
                  nn::DeepLabV3PlusOutput* decoder_out) {
    nn::DeepLabV3PlusOutput& out = *decoder_out;
    out = heads.decoder->forward(ref.at("x1"), ref.at("x4"));
    Tensor aux = heads.auxor->forward(ref.at("x3"));
    const Tensor& y = ref.at("labels"); // (N, 65, 65) u8
    Tensor ce = cross_entropy(resize_bilinear(out.logits, kCrop, kCrop, true), y);
    Tensor ce_aux = cross_entropy(resize_bilinear(aux, kCrop, kCrop, true), y);
    return ce + ce_aux * 0.4f + mean(out.rep * out.rep) * 0.05f;
}

// Gradients: sums over 2 x 17 x 17 pixels through batch-statistics BN; |diff| <= 1e-6 + 1e-3 |ref|
// (the biases of convs followed by BN have true gradient 0: both sides give ~1e-9 noise).
TEST(DeepLabV3Plus, TrainStepMatchesPyTorch) {
    auto ref = test::load_reference("deeplab_v3plus.safetensors");
    auto heads = loaded_heads(ref);
    heads->train();
    nn::DeepLabV3PlusOutput out;
    Tensor loss = train_loss(*heads, ref, &out);
    EXPECT_TRUE(all_close(loss, ref.at("train_loss"), 1e-5f, 1e-5f));
    EXPECT_TRUE(all_close(out.logits, ref.at("train_logits"), 1e-5f, 1e-4f));
    EXPECT_TRUE(all_close(out.rep, ref.at("train_rep"), 1e-5f, 1e-4f));
    backward(loss);

    // Every parameter's gradient, compared in PyTorch's layout.
    for (const nn::NamedTensor& p : heads->named_parameters()) {
        SCOPED_TRACE(p.name);
        ASSERT_TRUE(p.tensor.grad().defined());
        Tensor g = nn::to_torch_layout(p.tensor.grad(), p.layout);
        EXPECT_TRUE(all_close(g, ref.at("g." + p.name), 1e-6f, 1e-3f));
    }
    // Running statistics after one batch (momentum 0.1, unbiased variance) and the counters.
    std::map<std::string, Tensor> state = heads->state_dict();
    for (const nn::NamedTensor& b : heads->named_buffers()) {
        SCOPED_TRACE(b.name);
        EXPECT_TRUE(all_close(cast(state.at(b.name), DType::f32),
                              cast(ref.at("b." + b.name), DType::f32), 1e-5f, 1e-4f));
    }
    // First SGD step with momentum 0.9 and weight decay 1e-4: the momentum buffer starts as the
    // decayed gradient, so p <- p - lr (g + wd p).
    {
        NoGradGuard no_grad;
        for (Tensor& p : heads->parameters()) copy_(p, p - (p.grad() + p * 1e-4f) * 0.01f);
    }
    state = heads->state_dict();
    for (const nn::NamedTensor& p : heads->named_parameters()) {
        SCOPED_TRACE(p.name);
        EXPECT_TRUE(all_close(state.at(p.name), ref.at("s." + p.name), 1e-6f, 1e-5f));
    }
}

// ---- shapes, options, errors ----

TEST(DeepLabV3Plus, ShapesAtEvenSizesAndWithoutRepresentation) {
    Generator gen(5);
    DeepLabV3PlusDecoder dec(tiny_options(), gen);
    dec.eval();
    NoGradGuard no_grad;
    Tensor x1 = test::random_tensor({1, 16, 20, kLowIn}, gen);
    Tensor x4 = test::random_tensor({1, 8, 10, kIn}, gen);
    nn::DeepLabV3PlusOutput out = dec.forward(x1, x4);
    EXPECT_EQ(out.logits.shape(), Shape({1, 16, 20, kClasses}));
    EXPECT_EQ(out.rep.shape(), Shape({1, 16, 20, kRep}));
    EXPECT_EQ(dec.aspp->forward(x4).shape(), Shape({1, 8, 10, 5 * kInner}));

    DeepLabV3PlusOptions o = tiny_options();
    o.use_rep = false;
    DeepLabV3PlusDecoder plain(o, gen);
    plain.eval();
    out = plain.forward(x1, x4);
    EXPECT_EQ(out.logits.shape(), Shape({1, 16, 20, kClasses}));
    EXPECT_FALSE(out.rep.defined());
    for (const auto& [k, v] : plain.state_dict())
        EXPECT_EQ(k.find("representation"), std::string::npos) << k;
}

TEST(DeepLabV3Plus, RejectsWrongFeaturesAndOptions) {
    Generator gen(6);
    DeepLabV3PlusDecoder dec(tiny_options(), gen);
    AuxHead aux(tiny_aux_options(), gen);
    Tensor x1 = Tensor::zeros({2, 17, 17, kLowIn}), x4 = Tensor::zeros({2, 9, 9, kIn});
    EXPECT_THROW(dec.forward(x4, x4), Error);                               // layer1 channels
    EXPECT_THROW(dec.forward(x1, x1), Error);                               // layer4 channels
    EXPECT_THROW(dec.forward(x1, Tensor::zeros({1, 9, 9, kIn})), Error);    // batch mismatch
    EXPECT_THROW(aux.forward(x4), Error);                                   // layer3 channels
    EXPECT_THROW(DeepLabV3PlusDecoder(tiny_options({12, 24}), gen), Error); // 3 dilations
    // Training BN on the image-pool branch needs more than one image (as in PyTorch).
    dec.train();
    EXPECT_THROW(dec.forward(Tensor::zeros({1, 17, 17, kLowIn}), Tensor::zeros({1, 9, 9, kIn})),
                 Error);
}

// Dropout2d (p = 0.1) in training draws from the network's generator: same seed, same output,
// which differs from the same weights without dropout; without a generator it is an error.
TEST(DeepLabV3Plus, DropoutDrawsFromTheGenerator) {
    Generator init(7);
    DeepLabV3PlusOptions o = tiny_options();
    o.dropout = 0.1f;
    DeepLabV3PlusDecoder dec(o, init);
    Tensor x1 = test::random_tensor({2, 17, 17, kLowIn}, init);
    Tensor x4 = test::random_tensor({2, 9, 9, kIn}, init);
    NoGradGuard no_grad;
    EXPECT_THROW(dec.forward(x1, x4), Error);
    Generator g1(11), g2(11);
    dec.set_generator(&g1);
    Tensor a = dec.forward(x1, x4).logits;
    dec.set_generator(&g2);
    Tensor b = dec.forward(x1, x4).logits;
    EXPECT_TRUE(test::all_equal(a, b));
    o.dropout = 0.f;
    DeepLabV3PlusDecoder plain(o, init);
    plain.load_state_dict(dec.state_dict());
    EXPECT_FALSE(all_close(plain.forward(x1, x4).logits, a, 1e-3f, 1e-3f));
}

// ---- FLOPs and parameter counts ----

TEST(DeepLabV3Plus, FlopsMatchHandCount) {
    Generator gen(8);
    Heads heads(tiny_options(), tiny_aux_options(), gen);
    const int64_t h1 = 17, w1 = 13, h4 = 9, w4 = 7, p1 = h1 * w1, p4 = h4 * w4;
    // 2 x MACs per conv: pixels x taps x input channels x output channels.
    int64_t aspp = 2 * kIn * kInner * (1 + p4 + 3 * p4 * 9); // pool 1x1 at 1 pixel, 1x1, 3 x 3x3
    int64_t head = 2 * p4 * 9 * 5 * kInner * kHead;
    int64_t low = 2 * p1 * kLowIn * kLow;
    int64_t trunk = 2 * p1 * (9 * (kLow + kHead) * kHead + 9 * kHead * kHead);
    int64_t cls = trunk + 2 * p1 * kHead * kClasses, rep = trunk + 2 * p1 * kHead * kRep;
    EXPECT_EQ(heads.decoder->aspp->forward_flops(h4, w4), aspp);
    EXPECT_EQ(heads.decoder->forward_flops(h1, w1, h4, w4), aspp + head + low + cls + rep);
    EXPECT_EQ(heads.auxor->forward_flops(h4, w4),
              2 * p4 * (9 * kAuxIn * kAuxHidden + kAuxHidden * kClasses));
    EXPECT_TRUE(heads.is_training()); // counting ran in eval mode and restored the mode
}

// The full-size head (ResNet-101 widths, 21 classes) has PyTorch's parameter count, and its FLOPs
// follow the same hand formula at U2PL's widths (small maps keep the forward cheap).
TEST(DeepLabV3Plus, FullSizeParameterCountAndFlops) {
    auto ref = test::load_reference("deeplab_v3plus.safetensors");
    auto torch_count = [&](const char* key) { return int64_t(ref.at(key).to_i32_vector().at(0)); };
    Generator gen(9);
    DeepLabV3PlusOptions o; // U2PL's defaults
    o.num_classes = 21;
    DeepLabV3PlusDecoder full(o, gen);
    EXPECT_EQ(full.parameter_count(), torch_count("full_decoder_params")); // 21,836,053
    const int64_t p1 = 9 * 9, p4 = 5 * 5, c = 256;
    int64_t trunk = 2 * p1 * (9 * 2 * c * c + 9 * c * c);
    EXPECT_EQ(full.forward_flops(9, 9, 5, 5), 2 * 2048 * c * (1 + p4 + 27 * p4) +
                                                  2 * p4 * 9 * 5 * c * c + 2 * p1 * c * c + trunk +
                                                  2 * p1 * c * 21 + trunk + 2 * p1 * c * c);
    o.use_rep = false;
    EXPECT_EQ(DeepLabV3PlusDecoder(o, gen).parameter_count(),
              torch_count("full_decoder_norep_params"));
    AuxHeadOptions a; // in 1024, inner 256
    a.num_classes = 21;
    EXPECT_EQ(AuxHead(a, gen).parameter_count(), torch_count("full_aux_params"));
}

} // namespace
} // namespace pg
