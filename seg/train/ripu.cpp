// The RIPU method (shared/specs/ripu.md, Xie et al. CVPR 2022): active domain adaptation. The
// trainer's labeled batches come from the source domain (dataset.source); the method draws one
// target batch per step whose labels are the pixels acquired so far (255 elsewhere), and before
// the steps in trainer.ripu.rounds_at it runs an acquisition round (seg/train/ripu_rounds.h).
// Per step: L = CE(source) + lambda_lc L_lc(source) + CE(target, acquired; skipped while the
// batch has none) + lambda_nl L_nl(target), backpropagated domain by domain (one graph at a
// time), one optimizer step. The maps of the last round live in RUN_DIR/ripu/round_<r>/ and the
// state file counts the rounds done, so a resumed run reloads exactly what it had.
#include "autograd/elementwise.h"
#include "autograd/engine.h"
#include "autograd/layout.h"
#include "autograd/reduce.h"
#include "nn/data_parallel.h"
#include "nn/losses.h"
#include "seg/data_config.h"
#include "seg/train/method.h"
#include "seg/train/ripu_rounds.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::seg {

using ripu::Acquisition;
using ripu::RoundSummary;
using ripu::Selection;

class Ripu : public Method {
  public:
    explicit Ripu(const MethodContext& ctx);
    const char* name() const override { return "ripu"; }
    Tensor loss(const Batch&, int64_t, int64_t, StepLog&) override {
        throw Error("ripu: the method owns its step; loss() is not used");
    }
    double step(const Batch& source, int64_t step, int64_t epoch, const PartOptimizers& optimizers,
                StepLog& log) override;
    nn::SegmentationNet& eval_net() override { return *model_; }
    void save_state(nn::TrainState& state) const override {
        state.numbers["ripu.rounds_done"] = double(rounds_done_);
    }
    void load_state(const nn::TrainState& state) override;

  private:
    void run_round(int64_t step, StepLog& log);
    double source_backward(const Batch& source, int64_t step, StepLog& log);
    double target_backward(const Batch& target, int64_t step, StepLog& log);

    std::shared_ptr<nn::SegmentationNet> model_;
    Device device_;
    uint64_t seed_;
    std::string dir_; // RUN_DIR/ripu
    bool quiet_;
    std::unique_ptr<Acquisition> acquisition_;
    std::unique_ptr<Loader> target_;
    nn::SegLossConfig criterion_;
    int64_t rounds_done_ = 0;
    double labelled_percent_ = 0;
};

Ripu::Ripu(const MethodContext& ctx)
    : model_(ctx.model), device_(ctx.device), seed_(ctx.seed), dir_(ctx.method_dir),
      quiet_(ctx.quiet) {
    const Config& c = *ctx.config;
    criterion_ = criterion_config(c, /*has_aux=*/false);
    Config data = c.section("dataset");
    PG_CHECK(data.has("source"), c.origin("dataset.source"),
             ": ripu trains on dataset.source (the labelled source domain) and dataset.target");
    acquisition_ = std::make_unique<Acquisition>(c, int(model_->num_classes()));
    if (acquisition_->options().selection == Selection::full) acquisition_->label_everything();
    labelled_percent_ = acquisition_->labelled_percent();
    // The target stream: images resized as configured, labels = the acquired map (native size,
    // resized nearest with the image). Reads the current maps under their lock, so it may run on
    // the loader's workers while a round builds the next set.
    AugmentConfig augment_config = train_augment(data, "target");
    Acquisition* acq = acquisition_.get();
    SampleTransform transform = [acq, augment_config](const Sample& s, Generator& gen) {
        Sample labelled = s;
        labelled.label = acq->label_map(acq->index_of(s.id), s.image.height, s.image.width);
        return augment(labelled, augment_config, gen);
    };
    LoaderConfig lc = train_loader_config(data, ctx.seed + 1);
    lc.infinite = true;
    // The loader is given the labelled split so that it batches labels; the transform replaces
    // each true label map by the acquired one before anything else sees it.
    target_ = std::make_unique<Loader>(acq->target(), transform, lc);
}

void Ripu::load_state(const nn::TrainState& state) {
    rounds_done_ = int64_t(state.numbers.at("ripu.rounds_done"));
    if (rounds_done_ > 0) acquisition_->load_round(dir_, rounds_done_);
    labelled_percent_ = acquisition_->labelled_percent();
    target_->seek_batches(state.step);
}

void Ripu::run_round(int64_t step, StepLog& log) {
    RoundSummary s = acquisition_->run_round(*model_, device_, rounds_done_ + 1, step, seed_);
    acquisition_->save_round(dir_, s);
    // Several processes: each wrote its share of the maps; every one then reads them all. A
    // process that misses some does not see the others' files.
    if (data_parallel_run()) {
        collectives().barrier(); // rank 0's summary.json, written after every share
        acquisition_->load_round(
            dir_, s.round,
            "under mpirun the run directory must be on a filesystem every process sees");
    }
    if (collectives().rank() == 0) acquisition_->write_overlays(dir_, s.round, 6);
    ++rounds_done_;
    labelled_percent_ = s.percent();
    if (!quiet_)
        std::printf("ripu round %lld before step %lld: %lld %s picked, %.3f%% of the target pixels "
                    "labelled (budget %.3f%%); the model was wrong on %.1f%% of the new pixels, "
                    "%.1f%% of all -> %s\n",
                    (long long)s.round, (long long)step + 1, (long long)s.picks,
                    acquisition_->options().selection == Selection::pixel ? "pixels" : "regions",
                    s.percent(), s.budget_percent, s.picked_error_percent(), s.error_percent(),
                    ripu::round_dir(dir_, s.round).c_str());
    log.extra.emplace_back("round", double(s.round));
    log.extra.emplace_back("picked_error_percent", s.picked_error_percent());
    // Batches built ahead of this round carry the old masks: build them again.
    target_->seek_batches(step);
}

// CE(source) + lambda_lc L_lc(source), at the label size.
double Ripu::source_backward(const Batch& source, int64_t step, StepLog& log) {
    const ripu::RipuOptions& o = acquisition_->options();
    Tensor logits = nn::upsample_logits(model_->forward(source.images).logits,
                                        source.labels.size(1), source.labels.size(2));
    Tensor ce = nn::seg_loss({logits}, source.labels, criterion_);
    Tensor lc = ripu::local_consistency_loss(logits, source.labels);
    Tensor loss = add(ce, mul(lc, float(o.lambda_lc)));
    double value = finite_loss_value(loss, step);
    log.losses.emplace_back("source", ce.item());
    log.losses.emplace_back("lc", o.lambda_lc * lc.item());
    backward_share(loss);
    return value;
}

// CE(target, acquired pixels) when the batch has any + lambda_nl L_nl(target).
double Ripu::target_backward(const Batch& target, int64_t step, StepLog& log) {
    const ripu::RipuOptions& o = acquisition_->options();
    Tensor labels = target.labels.to(device_);
    Tensor logits = nn::upsample_logits(model_->forward(target.images.to(device_)).logits,
                                        labels.size(1), labels.size(2));
    Tensor loss = mul(ripu::negative_learning_loss(logits, o.tau), float(o.lambda_nl));
    log.losses.emplace_back("nl", loss.item());
    const bool labelled = nn::labelled_pixel_count(labels).item() > 0;
    // Several processes: every one adds the term (the mean over the acquired pixels of all of
    // them, one all-reduce), also one whose share has none.
    if (labelled || data_parallel_run()) {
        Tensor ce = nn::cross_entropy_over_global_batch(logits, labels);
        if (labelled) log.losses.emplace_back("target", ce.item());
        loss = add(loss, ce);
    }
    double value = finite_loss_value(loss, step);
    backward_share(loss);
    return value;
}

double Ripu::step(const Batch& source, int64_t step, int64_t, const PartOptimizers& opt,
                  StepLog& log) {
    const std::vector<int64_t>& at = acquisition_->options().rounds_at;
    if (acquisition_->options().selection != Selection::full)
        while (rounds_done_ < int64_t(at.size()) && step >= at[size_t(rounds_done_)])
            run_round(step, log);
    Batch target;
    target_->next(target);
    nn::Optimizer& optimizer = opt["model"];
    optimizer.zero_grad();
    double total = source_backward(source, step, log);
    optimizer.average_during_next_backward(); // the step's last pass
    total += target_backward(target, step, log);
    optimizer.step();
    log.extra.emplace_back("labelled_percent", labelled_percent_);
    return total;
}

std::unique_ptr<Method> make_ripu(const MethodContext& context) {
    return std::make_unique<Ripu>(context);
}

} // namespace pg::seg
