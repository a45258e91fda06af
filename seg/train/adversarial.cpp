// The AdvSemiSeg method (shared/specs/adversarial.md, Hung et al. BMVC 2018): the segmenter G is
// the generator, a fully-convolutional discriminator D (part "discriminator") tells one-hot ground
// truth from predicted probability maps pixel by pixel. The method owns its step: three backward
// passes (unlabeled, labeled, D), one G step and one D step.
// Config keys beside the supervised ones (defaults = the paper's, in brackets):
//   dataset.unlabeled: {list: ...}   the unlabeled split (same augmentation as train), or
//   dataset.partial: {fraction or count, seed}: the rest of a seeded shuffle (seg/data_config.h)
//   trainer.adversarial: {lambda_adv [0.01], lambda_semi_adv [0.001], lambda_semi [0.1],
//     mask_threshold [0.2] (T_semi), semi_start [5000], semi_start_adv [0], ndf [64],
//     d_stride [32]: D's output stride (nn/discriminator.h), score_semi_targets [false]: read
//     the unlabeled split's labels and log how right the self-training targets are (a
//     diagnostic; the labels never reach a loss)}
//   trainer.discriminator: {optimizer: {type: Adam, kwargs: {lr: 1.0e-4, betas: [0.9, 0.99]}},
//     lr_scheduler: {mode: poly, kwargs: {power: 0.9}}}   (required: D's optimizer, parts.h)
#include <algorithm>

#include "autograd/elementwise.h"
#include "autograd/engine.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "autograd/reduce.h"
#include "autograd/softmax.h"
#include "nn/losses.h"
#include "seg/data_config.h"
#include "seg/train/adversarial_parts.h"
#include "seg/train/method.h"
#include "tensor/error.h"

namespace pg::seg {

using namespace adversarial;

struct AdversarialOptions {
    double lambda_adv = 0.01, lambda_semi_adv = 0.001, lambda_semi = 0.1;
    float mask_threshold = 0.2f;
    int64_t semi_start = 5000, semi_start_adv = 0, ndf = 64, d_stride = 32;
    bool score_semi_targets = false;
};

static AdversarialOptions read_options(const Config& c) {
    AdversarialOptions o;
    std::string s = "trainer.adversarial.";
    o.lambda_adv = c.get_float(s + "lambda_adv", o.lambda_adv);
    o.lambda_semi_adv = c.get_float(s + "lambda_semi_adv", o.lambda_semi_adv);
    o.lambda_semi = c.get_float(s + "lambda_semi", o.lambda_semi);
    o.mask_threshold = float(c.get_float(s + "mask_threshold", o.mask_threshold));
    o.semi_start = c.get_int(s + "semi_start", o.semi_start);
    o.semi_start_adv = c.get_int(s + "semi_start_adv", o.semi_start_adv);
    o.ndf = c.get_int(s + "ndf", o.ndf);
    o.d_stride = c.get_int(s + "d_stride", o.d_stride);
    o.score_semi_targets = c.get_bool(s + "score_semi_targets", false);
    PG_CHECK(o.lambda_adv >= 0 && o.lambda_semi_adv >= 0 && o.lambda_semi >= 0 &&
                 o.semi_start >= 0 && o.semi_start_adv >= 0 && o.ndf >= 1,
             c.source(),
             ": trainer.adversarial needs lambdas, semi_start, semi_start_adv >= 0 and "
             "ndf >= 1");
    PG_CHECK(o.mask_threshold >= 0 && o.mask_threshold <= 1, c.source(),
             ": trainer.adversarial.mask_threshold is ", o.mask_threshold, ", expected 0..1");
    PG_CHECK(c.has("trainer.discriminator.optimizer"), c.source(),
             ": adversarial needs trainer.discriminator.optimizer (the paper's: {type: Adam, "
             "kwargs: {lr: 1.0e-4, betas: [0.9, 0.99]}})");
    return o;
}

static void set_trainable(const std::vector<Tensor>& params, bool on) {
    for (Tensor t : params) t.set_requires_grad(on);
}

class Adversarial : public Method {
  public:
    explicit Adversarial(const MethodContext& ctx);
    const char* name() const override { return "adversarial"; }
    std::vector<PartSpec> parts() override {
        return {PartSpec{"discriminator",
                         d_.get(),
                         "trainer.discriminator",
                         {nn::ParamGroup{d_params_, 1.0, -1.0}}}};
    }
    Tensor loss(const Batch&, int64_t, int64_t, StepLog&) override {
        throw Error("adversarial: the method owns its step; loss() is not used");
    }
    double step(const Batch& labeled, int64_t step, int64_t epoch, const PartOptimizers& optimizers,
                StepLog& log) override;
    nn::SegmentationNet& eval_net() override { return *model_; }
    void load_state(const nn::TrainState& state) override { seek(state.step); }

  private:
    bool unlabeled_pass(int64_t step) const {
        return (o_.lambda_semi > 0 || o_.lambda_semi_adv > 0) && step >= o_.semi_start_adv;
    }
    Tensor unlabeled_backward(int64_t step, int64_t h, int64_t w, StepLog& log, double& total);
    Tensor labeled_backward(const Batch& labeled, int64_t step, StepLog& log, double& total);
    void discriminator_backward(const Tensor& fake, const Tensor& fake_valid, StepLog& log);
    void seek(int64_t step);

    const Config& config_;
    AdversarialOptions o_;
    std::shared_ptr<nn::SegmentationNet> model_;
    std::unique_ptr<nn::FCDiscriminator> d_;
    std::vector<Tensor> d_params_;
    std::unique_ptr<Loader> unlabeled_, ground_truth_;
    nn::SegLossConfig criterion_;
    Device device_;
    int64_t num_classes_ = 0;
};

Adversarial::Adversarial(const MethodContext& ctx)
    : config_(*ctx.config), o_(read_options(*ctx.config)), model_(ctx.model), device_(ctx.device) {
    criterion_ = criterion_config(config_, /*has_aux=*/false);
    num_classes_ = model_->num_classes();
    Generator init(ctx.seed + 3);
    d_ = std::make_unique<nn::FCDiscriminator>(
        nn::FCDiscriminatorOptions{num_classes_, o_.ndf, o_.d_stride}, init);
    d_->to(device_);
    d_params_ = d_->parameters();

    Config data = config_.section("dataset");
    int classes = int(num_classes_);
    // D's ground-truth batches: a second sampler over the labeled split, as the original's
    // trainloader_gt; its epochs line up with the labeled loader's.
    LoaderConfig gt = train_loader_config(data, ctx.seed + 2);
    gt.infinite = true;
    gt.samples_per_epoch = ctx.steps_per_epoch * gt.batch_size;
    ground_truth_ = std::make_unique<Loader>(open_split(data, "train", classes),
                                             train_augment(data, "train"), gt);
    if (!unlabeled_pass(0) && !unlabeled_pass(ctx.total_steps)) return;
    PG_CHECK(data.has("unlabeled") || data.has("partial"), config_.source(),
             ": adversarial with lambda_semi or lambda_semi_adv > 0 needs dataset.unlabeled or "
             "dataset.partial (or set both to 0: the + L_adv row of the paper's ablation)");
    LoaderConfig lc = train_loader_config(data, ctx.seed + 1);
    lc.infinite = true;
    lc.samples_per_epoch = ctx.steps_per_epoch * lc.batch_size;
    unlabeled_ = std::make_unique<Loader>(
        open_split(data, "unlabeled", classes, o_.score_semi_targets), train_augment(data), lc);
}

// Unlabeled batches are drawn from semi_start_adv on, ground-truth batches every step.
void Adversarial::seek(int64_t step) {
    ground_truth_->seek_batches(step);
    if (!unlabeled_) return;
    unlabeled_->seek_batches(std::max<int64_t>(0, step - o_.semi_start_adv));
}

// Diagnostics from the unlabeled split's hidden labels, over the pixels that have one (padding
// is 255): how many of the self-training targets are right, and how right the argmax is overall.
static void score_targets(const Tensor& logits, const Tensor& targets, const Tensor& labels,
                          StepLog& log) {
    NoGradGuard no_grad;
    Tensor truth = cast(labels, DType::f32);
    Tensor known = ne(truth, 255.f);
    auto count = [](const Tensor& mask) { return sum(cast(mask, DType::f32)).item(); };
    Tensor picked = logical_and(ne(cast(targets, DType::f32), 255.f), known);
    Tensor right = logical_and(eq(cast(targets, DType::f32), truth), picked);
    double picked_n = count(picked), known_n = count(known);
    log.extra.emplace_back("semi_target_accuracy", picked_n > 0 ? count(right) / picked_n : 0.0);
    Tensor argmax_right = logical_and(eq(cast(argmax(logits, 3), DType::f32), truth), known);
    log.extra.emplace_back("unlabeled_pixel_accuracy",
                           known_n > 0 ? count(argmax_right) / known_n : 0.0);
}

// 1. Unlabeled, D frozen: L_semi_adv = lambda_semi_adv BCE(D(softmax(P_u)), 1) and, from
// semi_start, L_semi = lambda_semi CE(P_u, argmax P_u where sigmoid(D) >= T). Returns P_u detached.
Tensor Adversarial::unlabeled_backward(int64_t step, int64_t h, int64_t w, StepLog& log,
                                       double& total) {
    Batch ub;
    unlabeled_->next(ub);
    Tensor images = ub.images.to(device_);
    PG_CHECK(images.size(1) == h && images.size(2) == w, "adversarial: labeled crops are ", h, "x",
             w, ", unlabeled ", images.size(1), "x", images.size(2), ": give both a fixed crop");
    Tensor pred = nn::upsample_logits(model_->forward(images).logits, h, w);
    Tensor d_out = discriminator_logits(*d_, softmax(pred));
    Tensor semi_adv = mul(nn::bce_with_constant_target(d_out, 1.f), float(o_.lambda_semi_adv));
    Tensor loss = semi_adv;
    double semi = 0, fraction = 0;
    if (step >= o_.semi_start && o_.lambda_semi > 0) {
        int64_t kept = 0;
        Tensor target = semi_targets(pred, d_out, o_.mask_threshold, kept);
        fraction = double(kept) / double(target.numel());
        // An empty mask adds nothing (the original then skips the unlabeled backward entirely,
        // L_semi_adv included; here L_semi_adv still trains G).
        if (kept > 0) {
            Tensor l_semi = mul(cross_entropy(pred, target), float(o_.lambda_semi));
            semi = l_semi.item();
            loss = add(loss, l_semi);
        }
        if (ub.labels.defined()) score_targets(pred, target, ub.labels.to(device_), log);
    }
    total += finite_loss_value(loss, step);
    backward(loss); // frees this pass's graph before the labeled pass builds its own
    log.losses.emplace_back("semi_adv", semi_adv.item());
    log.losses.emplace_back("semi", semi);
    log.extra.emplace_back("semi_mask_fraction", fraction);
    log.extra.emplace_back("d_confidence_unlabeled", mean(sigmoid(d_out.detach())).item());
    return pred.detach();
}

// 2. Labeled, D frozen: L_seg + lambda_adv BCE(D(softmax(P_l)), 1) over pixels not labeled 255.
Tensor Adversarial::labeled_backward(const Batch& labeled, int64_t step, StepLog& log,
                                     double& total) {
    int64_t h = labeled.images.size(1), w = labeled.images.size(2);
    Tensor pred = nn::upsample_logits(model_->forward(labeled.images).logits, h, w);
    Tensor seg = nn::seg_loss({pred}, labeled.labels, criterion_);
    Tensor d_out = discriminator_logits(*d_, softmax(pred));
    Tensor adv = mul(nn::bce_with_constant_target(d_out, 1.f, labeled_pixels(labeled.labels)),
                     float(o_.lambda_adv));
    Tensor loss = add(seg, adv);
    total += finite_loss_value(loss, step);
    backward(loss);
    log.losses.insert(log.losses.begin(), {{"seg", seg.item()}, {"adv", adv.item()}});
    log.extra.emplace_back("d_confidence_labeled", mean(sigmoid(d_out.detach())).item());
    return pred.detach();
}

// 3. D on the detached predictions (target 0) and on the one-hot ground truth of its own labeled
// batch (target 1, all-zero maps at 255), each x 1/2.
void Adversarial::discriminator_backward(const Tensor& fake, const Tensor& fake_valid,
                                         StepLog& log) {
    Tensor d_fake = discriminator_logits(*d_, softmax(fake));
    Tensor loss_fake = mul(nn::bce_with_constant_target(d_fake, 0.f, fake_valid), 0.5f);
    backward(loss_fake);
    Batch gt;
    ground_truth_->next(gt);
    Tensor labels = gt.labels.to(device_);
    Tensor d_real = discriminator_logits(*d_, ground_truth_maps(labels, num_classes_));
    Tensor loss_real = mul(nn::bce_with_constant_target(d_real, 1.f, labeled_pixels(labels)), 0.5f);
    backward(loss_real);
    double f = loss_fake.item(), r = loss_real.item();
    log.part_losses.emplace_back("discriminator", f + r);
    log.extra.emplace_back("d_fake", f);
    log.extra.emplace_back("d_real", r);
    log.extra.emplace_back("d_confidence_ground_truth", mean(sigmoid(d_real.detach())).item());
}

double Adversarial::step(const Batch& labeled, int64_t step, int64_t, const PartOptimizers& opt,
                         StepLog& log) {
    nn::Optimizer& g = opt["model"];
    nn::Optimizer& d = opt["discriminator"];
    g.zero_grad();
    d.zero_grad();
    int64_t h = labeled.images.size(1), w = labeled.images.size(2);
    double total = 0;
    // D frozen for G's terms: no gradient reaches its parameters, G's flows through its input.
    set_trainable(d_params_, false);
    Tensor fake_u = unlabeled_pass(step) ? unlabeled_backward(step, h, w, log, total) : Tensor();
    Tensor fake_l = labeled_backward(labeled, step, log, total);
    set_trainable(d_params_, true);
    Tensor fake = fake_l, valid = labeled_pixels(labeled.labels);
    if (fake_u.defined()) { // the original's D_remain: the unlabeled predictions are fakes too
        fake = concat({fake_l, fake_u}, 0);
        valid = concat({valid, Tensor::ones({fake_u.size(0), h, w}, DType::u8, device_)}, 0);
    }
    discriminator_backward(fake, valid, log);
    g.step();
    d.step();
    return total;
}

std::unique_ptr<Method> make_adversarial(const MethodContext& context) {
    return std::make_unique<Adversarial>(context);
}

} // namespace pg::seg
