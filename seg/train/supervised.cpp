// The supervised method (cross-entropy or OHEM on the labeled batch, plus the aux head's loss)
// and make_method(), the one place where method names are mapped to implementations.
#include "nn/losses.h"
#include "seg/train/method.h"
#include "tensor/error.h"

namespace pg::seg {

bool uses_aux_head(const Config& config) {
    return config.has("net.aux_loss") &&
           config.get_string("net.arch", "deeplabv3plus") == "deeplabv3plus";
}

nn::SegLossConfig criterion_config(const Config& config, bool has_aux) {
    nn::SegLossConfig c;
    std::string type = config.get_string("criterion.type", "ce");
    if (type == "ohem")
        c.type = nn::SegLossType::ohem;
    else
        PG_CHECK(type == "ce", config.source(), ": criterion.type is '", type,
                 "', expected ce or ohem");
    c.ohem_thresh = float(config.get_float("criterion.kwargs.thresh", c.ohem_thresh));
    c.ohem_min_kept = config.get_int("criterion.kwargs.min_kept", c.ohem_min_kept);
    if (has_aux) c.aux_weight = float(config.get_float("net.aux_loss.loss_weight", 0.4));
    return c;
}

// L = CE(upsample(logits), y) [+ aux_weight * CE(upsample(aux), y)].
class Supervised : public Method {
  public:
    explicit Supervised(const MethodContext& ctx) : model_(ctx.model) {
        criterion_ = criterion_config(*ctx.config, uses_aux_head(*ctx.config));
    }
    const char* name() const override { return "supervised"; }

    Tensor loss(const Batch& labeled, int64_t, int64_t, StepLog& log) override {
        nn::SegOutput out = model_->forward(labeled.images);
        std::vector<Tensor> heads{out.logits};
        if (criterion_.aux_weight > 0) heads.push_back(out.aux);
        Tensor total = nn::seg_loss(heads, labeled.labels, criterion_);
        log.losses.emplace_back("sup", total.item());
        return total;
    }
    nn::SegmentationNet& eval_net() override { return *model_; }

  private:
    std::shared_ptr<nn::SegmentationNet> model_;
    nn::SegLossConfig criterion_;
};

std::unique_ptr<Method> make_method(const std::string& name, const MethodContext& context) {
    if (name == "supervised") return std::make_unique<Supervised>(context);
    if (name == "u2pl") return make_u2pl(context);
    throw Error(context.config->source() + ": trainer.method is '" + name +
                "', expected supervised or u2pl");
}

} // namespace pg::seg
