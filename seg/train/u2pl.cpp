// The U2PL method (shared/specs/u2pl.md): student + EMA teacher, supervised-only warm-up,
// teacher pseudo-labels on the weak unlabeled view, CutMix, the entropy-filtered unsupervised
// loss and the contrastive loss with memory banks (seg/train/u2pl_parts.h, u2pl_contrastive.h).
// Config keys beside the supervised ones (defaults = the paper's, in brackets):
//   dataset.unlabeled: {list: ..., ...}   the unlabeled split (same augmentation as train)
//   net.ema_decay [0.99]   trainer.sup_only_epoch [1]
//   trainer.teacher_bn_from_student [false]: when the teacher becomes the student (first semi
//     step) it also takes the student's BN running statistics (see U2pl::begin_semi_phase)
//   trainer.ema_from_semi_start [false]: the EMA starts at the first semi step instead of after
//     the first semi epoch, through which the original's teacher is the student (U2pl::after_step)
//   trainer.unsupervised: {drop_percent [80], apply_aug [cutmix] | none, loss_weight [1],
//     score_pseudo_labels [false]: read the unlabeled split's labels and log how right the
//     pseudo-labels are (a diagnostic; the labels never reach a loss)}
//   trainer.contrastive: {loss_weight [0.1; U2PL's configs use 1], low_rank [3], high_rank [20],
//     current_class_threshold [0.3], current_class_negative_threshold [1], low_entropy_threshold
//     [20], num_queries [256], num_negatives [50], temperature [0.5], queue_size [30000],
//     queue_size_class0 [50000], negative_high_entropy [true], compat [paper] | code}
//     (no contrastive section: no L_contra)
#include <cmath>

#include "autograd/ops.h"
#include "nn/ema.h"
#include "nn/segmenter.h"
#include "seg/data_config.h"
#include "seg/model_config.h"
#include "seg/train/method.h"
#include "seg/train/u2pl_contrastive.h"
#include "seg/train/u2pl_parts.h"
#include "tensor/error.h"

namespace pg::seg {

using namespace u2pl;

struct U2plOptions {
    int64_t sup_only_epoch = 1;
    double ema_decay = 0.99;
    double drop_percent = 80, unsup_weight = 1;
    bool cutmix = true, score_pseudo_labels = false, teacher_bn_from_student = false;
    bool ema_from_semi_start = false;
    bool contrastive = false, negative_high_entropy = true;
    double contra_weight = 0.1, low_entropy_threshold = 20;
    int64_t queue_size = 30000, queue_size_class0 = 50000;
    ContrastiveOptions contra;
};

static U2plOptions read_options(const Config& c) {
    U2plOptions o;
    o.sup_only_epoch = c.get_int("trainer.sup_only_epoch", 1);
    o.ema_decay = c.get_float("net.ema_decay", 0.99);
    o.teacher_bn_from_student = c.get_bool("trainer.teacher_bn_from_student", false);
    o.ema_from_semi_start = c.get_bool("trainer.ema_from_semi_start", false);
    o.drop_percent = c.get_float("trainer.unsupervised.drop_percent", 80);
    o.unsup_weight = c.get_float("trainer.unsupervised.loss_weight", 1);
    std::string aug = c.get_string("trainer.unsupervised.apply_aug", "cutmix");
    PG_CHECK(aug == "cutmix" || aug == "none", c.origin("trainer.unsupervised.apply_aug"),
             ": trainer.unsupervised.apply_aug is '", aug, "', expected cutmix or none");
    o.cutmix = aug == "cutmix";
    o.score_pseudo_labels = c.get_bool("trainer.unsupervised.score_pseudo_labels", false);
    PG_CHECK(o.sup_only_epoch >= 0 && o.drop_percent >= 0 && o.drop_percent <= 100,
             c.origin_of_any({"trainer.sup_only_epoch", "trainer.unsupervised.drop_percent"}),
             ": trainer.sup_only_epoch must be >= 0 and trainer.unsupervised.drop_percent in "
             "0..100 (got ",
             o.sup_only_epoch, ", ", o.drop_percent, ")");
    o.contrastive = c.has("trainer.contrastive");
    if (!o.contrastive) return o;
    Config k = c.section("trainer.contrastive");
    ContrastiveOptions& x = o.contra;
    o.contra_weight = k.get_float("loss_weight", 0.1);
    o.low_entropy_threshold = k.get_float("low_entropy_threshold", 20);
    o.negative_high_entropy = k.get_bool("negative_high_entropy", true);
    o.queue_size = k.get_int("queue_size", 30000);
    o.queue_size_class0 = k.get_int("queue_size_class0", 50000);
    x.low_rank = k.get_int("low_rank", 3);
    x.high_rank = k.get_int("high_rank", 20);
    x.anchor_threshold = float(k.get_float("current_class_threshold", 0.3));
    x.negative_threshold = float(k.get_float("current_class_negative_threshold", 1.0));
    x.num_queries = k.get_int("num_queries", 256);
    x.num_negatives = k.get_int("num_negatives", 50);
    x.temperature = float(k.get_float("temperature", 0.5));
    std::string compat = k.get_string("compat", "paper");
    PG_CHECK(compat == "paper" || compat == "code", c.origin("trainer.contrastive.compat"),
             ": trainer.contrastive.compat is '", compat, "', expected paper or code");
    x.compat_code = compat == "code";
    PG_CHECK(x.low_rank >= 1 && x.high_rank > x.low_rank && x.num_queries > 0 &&
                 x.num_negatives > 0 && x.temperature > 0,
             c.origin("trainer.contrastive"),
             ": trainer.contrastive needs 1 <= low_rank < high_rank and positive "
             "num_queries, num_negatives, temperature; got ",
             x.low_rank, ", ", x.high_rank, ", ", x.num_queries, ", ", x.num_negatives, ", ",
             x.temperature);
    return o;
}

// An independent generator per (run seed, purpose, step): nothing to save for an exact resume.
static uint64_t step_seed(uint64_t seed, uint64_t purpose, int64_t step) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + purpose * 0xBF58476D1CE4E5B9ull + uint64_t(step);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

class U2pl : public Method {
  public:
    explicit U2pl(const MethodContext& ctx);
    const char* name() const override { return "u2pl"; }
    // The teacher is carried, not trained: saved and restored with the run, stepped by the EMA.
    std::vector<PartSpec> parts() override { return {PartSpec{"teacher", teacher_.get(), "", {}}}; }
    Tensor loss(const Batch& labeled, int64_t step, int64_t epoch, StepLog& log) override;
    void after_step(int64_t step, int64_t epoch) override;
    // The teacher once the semi-supervised phase has begun (U2PL evaluates model_teacher).
    nn::SegmentationNet& eval_net() override {
        return steps_done_ > warmup_steps_ ? *teacher_ : *student_;
    }
    void save_state(nn::TrainState& state) const override;
    void load_state(const nn::TrainState& state) override;

  private:
    Tensor warmup_loss(const Batch& labeled, StepLog& log);
    Tensor semi_loss(const Batch& labeled, int64_t step, int64_t epoch, StepLog& log);
    void begin_semi_phase();
    Tensor contrastive(const nn::SegOutput& student, const nn::SegOutput& teacher,
                       const Batch& labeled, const Tensor& pseudo, const Tensor& entropy,
                       int64_t epoch, StepLog& log, Generator& gen);
    void log_pseudo_label_score(const Tensor& pseudo, const Tensor& kept, const Tensor& truth,
                                StepLog& log);
    Tensor supervised(const nn::SegOutput& out, const Tensor& labels, int64_t num_labeled);
    void seek_unlabeled(int64_t step);

    const Config& config_;
    U2plOptions o_;
    std::shared_ptr<nn::SegmentationNet> student_, teacher_;
    std::vector<Tensor> student_params_, teacher_params_;
    Generator teacher_dropout_;
    std::unique_ptr<Loader> unlabeled_;
    MemoryBank bank_;
    nn::SegLossConfig criterion_;
    Device device_;
    uint64_t seed_ = 0;
    int64_t steps_per_epoch_ = 0, warmup_steps_ = 0, steps_done_ = 0;
    double epochs_ = 1;
};

U2pl::U2pl(const MethodContext& ctx)
    : config_(*ctx.config), o_(read_options(*ctx.config)), student_(ctx.model), device_(ctx.device),
      seed_(ctx.seed), steps_per_epoch_(ctx.steps_per_epoch) {
    criterion_ = criterion_config(config_, uses_aux_head(config_));
    epochs_ = double(ctx.total_steps) / double(ctx.steps_per_epoch);
    warmup_steps_ = o_.sup_only_epoch * ctx.steps_per_epoch;
    // The teacher: the same network, never trained; it starts as a copy of the student (whose
    // pretrained backbone it shares, as U2PL's teacher loads the same weights).
    Generator init(ctx.seed + 1);
    teacher_ = nn::build_segmenter(segmenter_options(config_.section("net")), init);
    teacher_->to(device_);
    teacher_->load_state_dict(student_->state_dict(), /*strict=*/true);
    teacher_->set_generator(&teacher_dropout_);
    for (Tensor t : teacher_->parameters()) t.set_requires_grad(false);
    student_params_ = student_->parameters();
    teacher_params_ = teacher_->parameters();

    Config data = config_.section("dataset");
    PG_CHECK(data.has("unlabeled"), config_.origin("dataset.unlabeled"),
             ": u2pl needs dataset.unlabeled (e.g. {list: splits/92/unlabeled.txt})");
    int classes = int(student_->num_classes());
    LoaderConfig lc = train_loader_config(data, ctx.seed + 1);
    lc.infinite = true;
    // One unlabeled batch per step: its epochs line up with the labeled loader's.
    lc.samples_per_epoch = ctx.steps_per_epoch * global_batch_of(lc); // of all ranks
    unlabeled_ =
        std::make_unique<Loader>(open_split(data, "unlabeled", classes, o_.score_pseudo_labels),
                                 train_augment(data, "train"), lc);
    if (o_.contrastive) {
        std::vector<int64_t> caps(size_t(classes), o_.queue_size);
        caps[0] = o_.queue_size_class0;
        int64_t rep_planes = segmenter_options(config_.section("net")).v3plus.decoder.rep_planes;
        bank_ = MemoryBank(caps, rep_planes, device_);
    }
}

void U2pl::seek_unlabeled(int64_t step) {
    int64_t k = std::max<int64_t>(0, step - warmup_steps_); // unlabeled batches consumed
    unlabeled_->seek_batches(k);
}

Tensor U2pl::loss(const Batch& labeled, int64_t step, int64_t epoch, StepLog& log) {
    if (epoch < o_.sup_only_epoch) return warmup_loss(labeled, log);
    return semi_loss(labeled, step, epoch, log);
}

Tensor U2pl::supervised(const nn::SegOutput& out, const Tensor& labels, int64_t num_labeled) {
    std::vector<Tensor> heads{narrow(out.logits, 0, 0, num_labeled)};
    if (criterion_.aux_weight > 0) heads.push_back(narrow(out.aux, 0, 0, num_labeled));
    return nn::seg_loss(heads, labels, criterion_);
}

// Warm-up: L_sup only; the teacher's train-mode forward on the labeled batch warms its BN.
Tensor U2pl::warmup_loss(const Batch& labeled, StepLog& log) {
    Tensor sup =
        supervised(student_->forward(labeled.images), labeled.labels, labeled.images.size(0));
    {
        NoGradGuard no_grad;
        teacher_->train();
        teacher_->forward(labeled.images);
    }
    log.losses = {{"sup", sup.item()}, {"unsup", 0.0}, {"contra", 0.0}};
    return sup;
}

Tensor U2pl::semi_loss(const Batch& labeled, int64_t step, int64_t epoch, StepLog& log) {
    if (step == warmup_steps_) begin_semi_phase();
    Generator gen(step_seed(seed_, 1, step));
    teacher_dropout_ = Generator(step_seed(seed_, 2, step));
    Batch ub;
    unlabeled_->next(ub);
    Tensor images_u = ub.images.to(device_);
    int64_t L = labeled.images.size(0), U = images_u.size(0);
    int64_t H = images_u.size(1), W = images_u.size(2);
    PG_CHECK(labeled.images.size(1) == H && labeled.images.size(2) == W, "u2pl: labeled crops are ",
             labeled.images.size(1), "x", labeled.images.size(2), ", unlabeled ", H, "x", W,
             ": give both a fixed crop size");

    // 1. Pseudo-labels and confidences from the eval-mode teacher on the weak view.
    Tensor pseudo, confidence;
    {
        NoGradGuard no_grad;
        nn::EvalModeGuard eval(*teacher_);
        Tensor prob = softmax(nn::upsample_logits(teacher_->forward(images_u).logits, H, W));
        pseudo = argmax(prob, 3);
        confidence = max(prob, 3);
    }
    Tensor truth = ub.labels.defined() ? ub.labels.to(device_) : Tensor(); // diagnostic only
    bool mixed = o_.cutmix && gen.uniform() < 0.5f;
    if (mixed) {
        std::vector<CutMixBox> boxes;
        for (int64_t i = 0; i < U; i++) boxes.push_back(sample_cutmix_box(H, W, gen));
        images_u = cutmix(images_u, boxes);
        pseudo = cutmix(pseudo, boxes);
        confidence = cutmix(confidence, boxes);
        if (truth.defined()) truth = cutmix(truth, boxes);
    }
    // 2-3. Student on [labeled ; mixed unlabeled], L_sup on the labeled part.
    Tensor images = concat({labeled.images, images_u}, 0);
    nn::SegOutput out = student_->forward(images);
    Tensor sup = supervised(out, labeled.labels, L);
    // 4. The train-mode teacher on the same batch (updates its BN statistics).
    nn::SegOutput t;
    Tensor entropy;
    {
        NoGradGuard no_grad;
        teacher_->train();
        t = teacher_->forward(images);
        Tensor prob_u = softmax(nn::upsample_logits(narrow(t.logits, 0, L, U), H, W));
        entropy = pg::entropy(prob_u); // (U, H, W)
    }
    // 5. L_unsup on the reliable pseudo-labels, reweighted by N / N_kept.
    double alpha = unreliable_percent(100.0 - o_.drop_percent, epoch, epochs_);
    EntropySplit split = drop_high_entropy(entropy, pseudo, alpha);
    Tensor unsup = mul(unsup_loss(narrow(out.logits, 0, L, U), split), float(o_.unsup_weight));
    Tensor total = add(sup, unsup);
    Tensor contra;
    if (o_.contrastive) {
        contra = contrastive(out, t, labeled, pseudo, entropy, epoch, log, gen);
        total = add(total, contra);
    }
    log.losses = {{"sup", sup.item()},
                  {"unsup", unsup.item()},
                  {"contra", contra.defined() ? contra.item() : 0.0}};
    log.extra.insert(
        log.extra.begin(),
        {{"drop_percent", alpha},
         {"entropy_threshold", split.threshold},
         {"reliable_fraction", double(split.kept) / double(std::max<int64_t>(1, split.valid))},
         {"confidence", mean(confidence).item()},
         {"cutmix", mixed ? 1.0 : 0.0}});
    if (truth.defined()) log_pseudo_label_score(pseudo, split.target, truth, log);
    return total;
}

// How right the pseudo-labels are, against the unlabeled images' hidden labels.
void U2pl::log_pseudo_label_score(const Tensor& pseudo, const Tensor& kept, const Tensor& truth,
                                  StepLog& log) {
    PseudoLabelScore s = score_pseudo_labels(pseudo, kept, truth, student_->num_classes());
    log.extra.emplace_back("pseudo_accuracy", s.accuracy);
    log.extra.emplace_back("reliable_accuracy", s.reliable_accuracy);
    for (size_t c = 0; c < s.precision.size(); c++) {
        log.extra.emplace_back("reliable_precision_" + std::to_string(c), s.precision[c]);
        log.extra.emplace_back("reliable_share_" + std::to_string(c), s.kept_share[c]);
    }
}

// BN running statistics (running_mean, running_var) in module order.
static std::vector<Tensor> running_stats(const nn::Module& m) {
    std::vector<Tensor> stats;
    for (const nn::NamedTensor& b : m.named_buffers())
        if (b.name.find("running_") != std::string::npos) stats.push_back(b.tensor);
    return stats;
}

// The first semi step: the teacher becomes the student (the original aliases their parameters
// through the first semi epoch; after_step keeps them equal from here on).
// U2PL's teacher keeps its own BN running statistics, gathered in the warm-up by train-mode
// forwards of its initial weights. With an ImageNet backbone shared by student and teacher they
// are close to the student's; with a network trained from scratch (the synthetic configs) they
// describe another network, and the eval-mode teacher's first pseudo-labels are confident garbage
// (measured: 41% pixel accuracy at 0.92 mean confidence vs 76% for the student) that the student,
// which the teacher equals in this epoch, then learns. teacher_bn_from_student copies them once.
void U2pl::begin_semi_phase() {
    nn::copy_params(teacher_params_, student_params_);
    if (o_.teacher_bn_from_student)
        nn::copy_params(running_stats(*teacher_), running_stats(*student_));
}

// 6. L_contra at the representation's resolution.
Tensor U2pl::contrastive(const nn::SegOutput& student, const nn::SegOutput& teacher,
                         const Batch& labeled, const Tensor& pseudo, const Tensor& entropy,
                         int64_t epoch, StepLog& log, Generator& gen) {
    PG_CHECK(student.rep.defined(), config_.source(),
             ": trainer.contrastive needs the representation head (net.decoder.use_rep: true)");
    ContrastiveInputs in;
    int64_t h = student.rep.size(1), w = student.rep.size(2);
    in.rep = student.rep;
    in.rep_teacher = teacher.rep;
    in.num_labeled = labeled.images.size(0);
    {
        NoGradGuard no_grad;
        in.prob_teacher = softmax(teacher.logits);
        in.labels = concat({resize_nearest(labeled.labels, h, w), resize_nearest(pseudo, h, w)}, 0);
        // reliable: entropy <= percentile alpha_t; unreliable: >= percentile 100 - alpha_t.
        double alpha = unreliable_percent(o_.low_entropy_threshold, epoch, epochs_);
        float low = valid_percentile(entropy, pseudo, alpha);
        float high = valid_percentile(entropy, pseudo, 100.0 - alpha);
        Tensor valid = ne(cast(pseudo, DType::f32), 255.f);
        Tensor reliable = logical_and(le(entropy, low), valid);
        Tensor unreliable =
            o_.negative_high_entropy ? logical_and(ge(entropy, high), valid) : valid;
        in.reliable = resize_nearest(reliable, h, w);
        in.unreliable = resize_nearest(unreliable, h, w);
        log.extra.emplace_back("contra_low_threshold", low);
        log.extra.emplace_back("contra_high_threshold", high);
    }
    ContrastiveResult r = contrastive_loss(in, bank_, o_.contra, gen);
    log.extra.emplace_back("valid_classes", double(r.valid_classes));
    log.extra.emplace_back("negatives_pushed", double(r.negatives));
    for (int64_t c = 0; c < bank_.num_classes(); c++)
        log.extra.emplace_back("bank_" + std::to_string(c), double(bank_.size(c)));
    return mul(r.loss, float(o_.contra_weight));
}

// 8. EMA: teacher <- d teacher + (1 - d) student, d = min(1 - 1 / (k + 1), ema_decay). In the first
// semi epoch the original's teacher aliases the student, so it equals the student after the step.
void U2pl::after_step(int64_t step, int64_t epoch) {
    steps_done_ = step + 1;
    if (epoch < o_.sup_only_epoch) return;
    if (epoch == o_.sup_only_epoch && !o_.ema_from_semi_start) {
        nn::copy_params(teacher_params_, student_params_);
        return;
    }
    nn::ema_update(teacher_params_, student_params_,
                   nn::ema_decay(step - warmup_steps_, o_.ema_decay));
}

void U2pl::save_state(nn::TrainState& state) const {
    if (o_.contrastive) bank_.save(state.extra_tensors, "u2pl.bank.");
}

void U2pl::load_state(const nn::TrainState& state) {
    if (o_.contrastive) bank_.load(state.extra_tensors, "u2pl.bank.");
    steps_done_ = state.step;
    seek_unlabeled(state.step);
}

std::unique_ptr<Method> make_u2pl(const MethodContext& context) {
    return std::make_unique<U2pl>(context);
}

} // namespace pg::seg
