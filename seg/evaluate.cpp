// evaluate / eval_json / iou_table (seg/evaluate.h).
#include "seg/evaluate.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>

#include "autograd/node.h"
#include "nn/losses.h"
#include "seg/inference.h"
#include "tensor/error.h"

namespace pg::seg {

ConfusionMatrix evaluate(nn::SegmentationNet& net, const Dataset& data,
                         const AugmentConfig& transform, const EvalOptions& options,
                         const Device& device, int64_t limit,
                         const std::function<void(const EvalProgress&)>& progress) {
    PG_CHECK(data.labeled(), "evaluate: dataset '", data.name(), "' has no labels");
    PG_CHECK(data.size() > 0, "evaluate: dataset '", data.name(), "' is empty");
    Dataset images = data;
    if (limit > 0 && limit < data.size()) {
        std::vector<int64_t> head(static_cast<size_t>(limit));
        std::iota(head.begin(), head.end(), int64_t(0));
        images = data.subset(head);
    }
    LoaderConfig lc;
    lc.batch_size = options.batch_size;
    lc.shuffle = false;
    lc.workers = 1;
    Loader loader(images, transform, lc);

    nn::EvalModeGuard eval_mode(net);
    NoGradGuard no_grad;
    ConfusionMatrix cm(int(net.num_classes()));
    EvalProgress p{0, images.size()};
    Batch batch;
    while (loader.next(batch)) {
        Tensor x = batch.images.to(device);
        Tensor logits = predict_logits(net, x, options);
        check_finite_logits(logits, "evaluate: images " + std::to_string(p.done + 1) + ".." +
                                        std::to_string(p.done + x.size(0)) + " (" +
                                        batch.ids.front() + "...)");
        // Native-size labels (dataset.val.native_labels): logits upsampled to them first.
        if (batch.labels.size(1) != logits.size(1) || batch.labels.size(2) != logits.size(2))
            logits = nn::upsample_logits(logits, batch.labels.size(1), batch.labels.size(2));
        cm.add(predict_labels(logits), batch.labels);
        p.done += x.size(0);
        if (progress) progress(p);
    }
    return cm;
}

std::string eval_json(const ConfusionMatrix& cm, const std::vector<std::string>& class_names,
                      const EvalOptions& options, int64_t images,
                      const std::string& extra_json_object) {
    nlohmann::json j = nlohmann::json::parse(cm.to_json(class_names));
    j["mode"] = eval_mode_name(options.mode);
    if (options.mode != EvalMode::whole) j["crop"] = options.crop;
    if (options.mode == EvalMode::sliding) j["stride"] = options.stride;
    j["flip"] = options.flip;
    j["images"] = images;
    nlohmann::json extra = nlohmann::json::parse(extra_json_object);
    for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
    return j.dump(2);
}

std::string iou_table(const ConfusionMatrix& cm, const std::vector<std::string>& class_names) {
    std::string out;
    char line[160];
    std::vector<double> iou = cm.iou();
    for (size_t c = 0; c < iou.size(); ++c) {
        std::string name = c < class_names.size() ? class_names[c] : "class_" + std::to_string(c);
        if (std::isnan(iou[c]))
            std::snprintf(line, sizeof line, "  %-16s      -\n", name.c_str());
        else
            std::snprintf(line, sizeof line, "  %-16s %6.2f\n", name.c_str(), 100 * iou[c]);
        out += line;
    }
    std::snprintf(line, sizeof line, "  %-16s %6.2f   (pixel accuracy %.2f)\n", "mIoU",
                  100 * cm.mean_iou(), 100 * cm.pixel_accuracy());
    return out + line;
}

} // namespace pg::seg
