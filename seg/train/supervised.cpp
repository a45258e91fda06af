// The supervised method: cross-entropy or OHEM on the labeled batch, plus the aux head's loss.
// It uses the default step (seg/train/method.cpp) and trains only the model.
#include "nn/losses.h"
#include "seg/train/method.h"

namespace pg::seg {

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

std::unique_ptr<Method> make_supervised(const MethodContext& context) {
    return std::make_unique<Supervised>(context);
}

} // namespace pg::seg
