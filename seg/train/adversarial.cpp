// The AdvSemiSeg method (shared/specs/adversarial.md, Hung et al. BMVC 2018): the segmenter G is
// the generator, a fully-convolutional discriminator D (part "discriminator") tells one-hot ground
// truth from predicted probability maps pixel by pixel. The method owns its step: three backward
// passes (unlabeled, labeled, D), one G step and one D step (seg/train/adversarial_step.h); this
// file reads the options and draws the step's unlabeled and ground-truth batches.
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

#include "nn/discriminator.h"
#include "seg/data_config.h"
#include "seg/train/adversarial_step.h"
#include "seg/train/method.h"
#include "tensor/error.h"

namespace pg::seg {

using adversarial::StepBatches;
using adversarial::StepConstants;

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
             c.origin("trainer.adversarial"),
             ": trainer.adversarial needs lambdas, semi_start, semi_start_adv >= 0 and "
             "ndf >= 1; got lambda_adv ",
             o.lambda_adv, ", lambda_semi_adv ", o.lambda_semi_adv, ", lambda_semi ", o.lambda_semi,
             ", semi_start ", o.semi_start, ", semi_start_adv ", o.semi_start_adv, ", ndf ", o.ndf);
    PG_CHECK(o.mask_threshold >= 0 && o.mask_threshold <= 1,
             c.origin("trainer.adversarial.mask_threshold"),
             ": trainer.adversarial.mask_threshold is ", o.mask_threshold, ", expected 0..1");
    PG_CHECK(c.has("trainer.discriminator.optimizer"), c.origin("trainer.discriminator.optimizer"),
             ": adversarial needs trainer.discriminator.optimizer (the paper's: {type: Adam, "
             "kwargs: {lr: 1.0e-4, betas: [0.9, 0.99]}})");
    return o;
}

class Adversarial : public Method {
  public:
    explicit Adversarial(const MethodContext& ctx);
    const char* name() const override { return "adversarial"; }
    std::vector<PartSpec> parts() override {
        return {PartSpec{"discriminator",
                         d_.get(),
                         "trainer.discriminator",
                         {nn::ParamGroup{d_->parameters(), 1.0, -1.0}}}};
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
    void seek(int64_t step);

    const Config& config_;
    AdversarialOptions o_;
    std::shared_ptr<nn::SegmentationNet> model_;
    std::unique_ptr<nn::FCDiscriminator> d_;
    std::unique_ptr<Loader> unlabeled_, ground_truth_;
    nn::SegLossConfig criterion_;
    Device device_;
};

Adversarial::Adversarial(const MethodContext& ctx)
    : config_(*ctx.config), o_(read_options(*ctx.config)), model_(ctx.model), device_(ctx.device) {
    criterion_ = criterion_config(config_, /*has_aux=*/false);
    int classes = int(model_->num_classes());
    Generator init(ctx.seed + 3);
    d_ = std::make_unique<nn::FCDiscriminator>(
        nn::FCDiscriminatorOptions{classes, o_.ndf, o_.d_stride}, init);
    d_->to(device_);

    Config data = config_.section("dataset");
    // D's ground-truth batches: a second sampler over the labeled split, as the original's
    // trainloader_gt; its epochs line up with the labeled loader's.
    LoaderConfig gt = train_loader_config(data, ctx.seed + 2);
    gt.infinite = true;
    gt.samples_per_epoch = ctx.steps_per_epoch * global_batch_of(gt);
    ground_truth_ = std::make_unique<Loader>(open_split(data, "train", classes),
                                             train_augment(data, "train"), gt);
    if (!unlabeled_pass(0) && !unlabeled_pass(ctx.total_steps)) return;
    PG_CHECK(data.has("unlabeled") || data.has("partial"),
             config_.origin_of_any({"dataset.unlabeled", "dataset.partial"}),
             ": adversarial with lambda_semi or lambda_semi_adv > 0 needs dataset.unlabeled or "
             "dataset.partial (or set both to 0: the + L_adv row of the paper's ablation)");
    LoaderConfig lc = train_loader_config(data, ctx.seed + 1);
    lc.infinite = true;
    lc.samples_per_epoch = ctx.steps_per_epoch * global_batch_of(lc);
    unlabeled_ = std::make_unique<Loader>(
        open_split(data, "unlabeled", classes, o_.score_semi_targets), train_augment(data), lc);
}

// Unlabeled batches are drawn from semi_start_adv on, ground-truth batches every step.
void Adversarial::seek(int64_t step) {
    ground_truth_->seek_batches(step);
    if (!unlabeled_) return;
    unlabeled_->seek_batches(std::max<int64_t>(0, step - o_.semi_start_adv));
}

double Adversarial::step(const Batch& labeled, int64_t step, int64_t, const PartOptimizers& opt,
                         StepLog& log) {
    StepBatches b;
    b.labeled_images = labeled.images;
    b.labels = labeled.labels;
    if (unlabeled_pass(step)) {
        Batch ub;
        unlabeled_->next(ub);
        b.unlabeled_images = ub.images.to(device_);
        if (ub.labels.defined()) b.unlabeled_labels = ub.labels.to(device_);
        b.semi = step >= o_.semi_start;
    }
    Batch gt;
    ground_truth_->next(gt);
    b.ground_truth = gt.labels.to(device_);
    StepConstants k{o_.lambda_adv, o_.lambda_semi_adv, o_.lambda_semi, o_.mask_threshold};
    return adversarial::step(*model_, *d_, criterion_, k, b, opt["model"], opt["discriminator"],
                             step, log);
}

std::unique_ptr<Method> make_adversarial(const MethodContext& context) {
    return std::make_unique<Adversarial>(context);
}

} // namespace pg::seg
