// The CAM classifier, its training loop and its tag score (cam_stage.h).
#include "seg/correct/cam_stage.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "seg/data/loader.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace pg::seg {

CamNet::CamNet(const nn::ResNetOptions& backbone_options, int num_classes, Generator& gen)
    : Module("CamNet"), num_classes_(num_classes) {
    PG_CHECK(num_classes >= 2, "CamNet: ", num_classes, " classes; tags need background + 1");
    backbone = register_module("backbone", std::make_shared<nn::ResNet>(backbone_options, gen));
    // The head scores the K = C - 1 foreground classes (background has no tag).
    head = std::make_shared<nn::CamHead>(backbone->stage_channels().back(), num_classes - 1, gen);
    register_module("classifier", head->classifier);
}

Tensor CamNet::logits(const Tensor& images) {
    return head->forward(backbone->forward(images).layer4);
}

Tensor CamNet::cams(const Tensor& images, const Tensor& tags, int64_t out_h, int64_t out_w) {
    return head->cams(backbone->forward(images).layer4, tags, out_h, out_w);
}

Tensor tag_tensor(const TagTable& tags, const std::vector<std::string>& ids, int num_classes,
                  const std::string& source) {
    const int64_t K = num_classes - 1;
    std::vector<float> t(ids.size() * size_t(K), 0.f);
    for (size_t i = 0; i < ids.size(); i++) {
        auto it = tags.find(ids[i]);
        PG_CHECK(it != tags.end(), "correct: image ", ids[i], " has no tags in ", source);
        for (int c : it->second) t[i * size_t(K) + size_t(c - 1)] = 1.f;
    }
    return Tensor::from_vector(t, {int64_t(ids.size()), K});
}

void load_cam_backbone(CamNet& net, const std::string& path) {
    std::map<std::string, Tensor> loaded;
    for (auto& [key, t] : load_safetensors(path)) loaded["backbone." + key] = t;
    nn::check_finite_weights(loaded, path, /*allow=*/false);
    nn::LoadReport report = net.load_state_dict(loaded, /*strict=*/false);
    const size_t used = loaded.size() - report.unexpected.size() - report.mismatched.size();
    PG_CHECK(used > 0, "correct: correct.cam.pretrain ", path,
             " matched no tensor of the CAM backbone (expected an ImageNet ResNet's conv1.weight, "
             "layer1.0.conv1.weight, ...)");
}

static AugmentConfig cam_augment(const Normalize& n, const CamTrainOptions& o, bool train) {
    AugmentConfig a = resize_only(o.height, o.width, Interp::bilinear, n);
    a.flip_prob = train && o.flip ? 0.5f : 0.f;
    return a;
}

void train_cam(CamNet& net, const Dataset& images, const TagTable& tags, const Normalize& n,
               const CamTrainOptions& o, const Device& device,
               const std::function<void(const std::string&)>& log) {
    PG_CHECK(o.iterations > 0 && o.batch_size > 0, "correct: cam iterations ", o.iterations,
             " and batch_size ", o.batch_size, " must be positive");
    LoaderConfig lc;
    lc.batch_size = o.batch_size;
    lc.shuffle = true;
    lc.drop_last = images.size() > o.batch_size;
    lc.workers = o.workers;
    lc.seed = o.seed;
    lc.infinite = true;
    Loader loader(images.without_labels(), cam_augment(n, o, true), lc);
    nn::SGDOptions so;
    so.lr = o.lr;
    so.momentum = o.momentum;
    so.weight_decay = o.weight_decay;
    nn::SGD sgd({nn::ParamGroup{net.backbone->trainable_parameters()},
                 nn::ParamGroup{net.head->trainable_parameters(), o.head_lr_mult}},
                so);
    net.to(device);
    net.train();
    double window = 0;
    int64_t in_window = 0;
    for (int64_t step = 0; step < o.iterations; step++) {
        Batch batch;
        loader.next(batch);
        Tensor target = tag_tensor(tags, batch.ids, net.num_classes(), "the tags").to(device);
        Tensor loss = nn::multilabel_bce_loss(net.logits(batch.images.to(device)), target);
        sgd.zero_grad();
        backward(loss);
        sgd.set_lr(nn::poly_lr(o.lr, step, o.iterations));
        sgd.step();
        window += loss.item();
        in_window++;
        if ((step + 1) % o.log_every == 0 || step + 1 == o.iterations) {
            char line[160];
            std::snprintf(line, sizeof line, "cam: step %lld/%lld  bce %.4f  lr %.5f",
                          (long long)(step + 1), (long long)o.iterations, window / in_window,
                          sgd.lr(0));
            log(line);
            window = 0;
            in_window = 0;
        }
    }
    net.eval();
}

// Average precision of one class: scores sorted descending, the mean of the precision at each
// positive (ties broken by order, as sklearn's average_precision_score without interpolation).
static double average_precision(std::vector<std::pair<float, bool>> s) {
    std::sort(s.begin(), s.end(), [](auto& a, auto& b) { return a.first > b.first; });
    double hits = 0, sum = 0;
    for (size_t i = 0; i < s.size(); i++)
        if (s[i].second) sum += ++hits / double(i + 1);
    return hits > 0 ? sum / hits : -1.0;
}

TagScore score_tags(CamNet& net, const Dataset& images, const TagTable& tags, const Normalize& n,
                    const CamTrainOptions& o, const Device& device) {
    LoaderConfig lc;
    lc.batch_size = o.batch_size;
    lc.shuffle = false;
    lc.workers = o.workers;
    Loader loader(images.without_labels(), cam_augment(n, o, false), lc);
    const int64_t K = net.num_classes() - 1;
    std::vector<std::vector<std::pair<float, bool>>> per_class(static_cast<size_t>(K));
    int64_t tp = 0, fp = 0, fn = 0;
    TagScore score;
    net.eval();
    NoGradGuard no_grad;
    Batch batch;
    while (loader.next(batch)) {
        std::vector<float> p = sigmoid(net.logits(batch.images.to(device))).to_f32_vector();
        std::vector<float> t =
            tag_tensor(tags, batch.ids, net.num_classes(), "the tags").to_f32_vector();
        for (size_t i = 0; i < t.size(); i++) {
            bool positive = t[i] > 0.5f, predicted = p[i] > 0.5f;
            per_class[i % size_t(K)].push_back({p[i], positive});
            tp += positive && predicted;
            fp += !positive && predicted;
            fn += positive && !predicted;
        }
        score.images += int64_t(batch.ids.size());
    }
    double sum = 0;
    int counted = 0;
    for (auto& c : per_class) {
        double ap = average_precision(c);
        if (ap >= 0) sum += ap, counted++;
    }
    score.map = counted ? 100.0 * sum / counted : 0.0;
    score.f1 = tp ? 100.0 * 2.0 * double(tp) / double(2 * tp + fp + fn) : 0.0;
    return score;
}

} // namespace pg::seg
