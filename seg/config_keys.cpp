// The table of known run-config keys and the checks of seg/config_keys.h.
#include "seg/config_keys.h"

#include <algorithm>

#include "tensor/error.h"

namespace pg::seg {

const std::vector<std::string>& dataset_splits() {
    static const std::vector<std::string> splits{"train",  "val",    "test", "unlabeled",
                                                 "source", "target", "weak"};
    return splits;
}

// Keys a split may set for itself or, for all splits at once, at the dataset level.
static const char* kSplitOrDataset[] = {"type",
                                        "root",
                                        "list",
                                        "label_dir",
                                        "images_dir",
                                        "labels_dir",
                                        "image_ext",
                                        "label_ext",
                                        "train_ids",
                                        "strict_labels",
                                        "resize_mismatched_labels",
                                        "synthia_classes"};
// Keys of one split only (augmentation and evaluation settings).
static const char* kSplitOnly[] = {"split",      "flip",      "rand_resize",  "resize_mode",
                                   "scale_step", "crop.size", "crop.type",    "pad",
                                   "label_pad",  "mode",      "stride",       "batch_size",
                                   "resize",     "interp",    "native_labels"};
static const char* kCommon[] = {"criterion.type",
                                "criterion.kwargs.thresh",
                                "criterion.kwargs.min_kept",
                                "dataset.batch_size",
                                "dataset.global_batch_size",
                                "dataset.workers",
                                "dataset.ignore_label",
                                "dataset.mean",
                                "dataset.std",
                                "dataset.bgr",
                                "dataset.value_scale",
                                "dataset.class_names",
                                "dataset.partial.fraction",
                                "dataset.partial.count",
                                "dataset.partial.seed",
                                "net.arch",
                                "net.ndf",
                                "net.stride",
                                "net.num_classes",
                                "net.aspp_rates",
                                "net.legacy_two_branch",
                                "net.aux_loss",
                                "net.aux_loss.loss_weight",
                                "net.sync_bn",
                                "net.backbone.variant",
                                "net.backbone.depth",
                                "net.backbone.blocks",
                                "net.backbone.width",
                                "net.backbone.bn",
                                "net.backbone.zero_init_residual",
                                "net.decoder.inner_planes",
                                "net.decoder.dilations",
                                "net.decoder.use_rep",
                                "net.decoder.rep_planes",
                                "net.decoder.head_planes",
                                "net.decoder.low_planes",
                                "net.decoder.dropout",
                                "saver.snapshot_dir",
                                "saver.save_every",
                                "saver.pretrain",
                                "saver.pretrain_prefix",
                                "trainer.method",
                                "trainer.seed",
                                "trainer.device",
                                "trainer.epochs",
                                "trainer.iterations",
                                "trainer.epoch_samples",
                                "trainer.log_every",
                                "trainer.eval_on",
                                "trainer.eval_every",
                                "trainer.eval_interval",
                                "trainer.eval_limit",
                                "trainer.eval_at_start",
                                "trainer.overlays",
                                "trainer.head_lr_mult",
                                "trainer.optimizer.type",
                                "trainer.optimizer.kwargs",
                                "trainer.optimizer.kwargs.lr",
                                "trainer.optimizer.kwargs.momentum",
                                "trainer.optimizer.kwargs.weight_decay",
                                "trainer.optimizer.kwargs.nesterov",
                                "trainer.optimizer.kwargs.betas",
                                "trainer.optimizer.kwargs.eps",
                                "trainer.lr_scheduler.mode",
                                "trainer.lr_scheduler.kwargs.power",
                                "trainer.lr_scheduler.kwargs.max_iter"};
static const char* kU2pl[] = {"net.ema_decay",
                              "trainer.sup_only_epoch",
                              "trainer.teacher_bn_from_student",
                              "trainer.ema_from_semi_start",
                              "trainer.unsupervised.drop_percent",
                              "trainer.unsupervised.loss_weight",
                              "trainer.unsupervised.apply_aug",
                              "trainer.unsupervised.score_pseudo_labels",
                              "trainer.contrastive",
                              "trainer.contrastive.loss_weight",
                              "trainer.contrastive.low_entropy_threshold",
                              "trainer.contrastive.negative_high_entropy",
                              "trainer.contrastive.queue_size",
                              "trainer.contrastive.queue_size_class0",
                              "trainer.contrastive.low_rank",
                              "trainer.contrastive.high_rank",
                              "trainer.contrastive.current_class_threshold",
                              "trainer.contrastive.current_class_negative_threshold",
                              "trainer.contrastive.num_queries",
                              "trainer.contrastive.num_negatives",
                              "trainer.contrastive.temperature",
                              "trainer.contrastive.compat"};

static const char* kAdversarial[] = {"trainer.adversarial.lambda_adv",
                                     "trainer.adversarial.lambda_semi_adv",
                                     "trainer.adversarial.lambda_semi",
                                     "trainer.adversarial.mask_threshold",
                                     "trainer.adversarial.semi_start",
                                     "trainer.adversarial.semi_start_adv",
                                     "trainer.adversarial.ndf",
                                     "trainer.adversarial.d_stride",
                                     "trainer.adversarial.score_semi_targets",
                                     "trainer.discriminator.optimizer",
                                     "trainer.discriminator.optimizer.type",
                                     "trainer.discriminator.optimizer.kwargs",
                                     "trainer.discriminator.optimizer.kwargs.lr",
                                     "trainer.discriminator.optimizer.kwargs.momentum",
                                     "trainer.discriminator.optimizer.kwargs.weight_decay",
                                     "trainer.discriminator.optimizer.kwargs.nesterov",
                                     "trainer.discriminator.optimizer.kwargs.betas",
                                     "trainer.discriminator.optimizer.kwargs.eps",
                                     "trainer.discriminator.lr_scheduler.mode",
                                     "trainer.discriminator.lr_scheduler.kwargs.power",
                                     "trainer.discriminator.lr_scheduler.kwargs.max_iter"};

static const char* kRipu[] = {"trainer.ripu.selection", "trainer.ripu.ratio",
                              "trainer.ripu.pixels",    "trainer.ripu.radius_k",
                              "trainer.ripu.rounds_at", "trainer.ripu.lambda_lc",
                              "trainer.ripu.lambda_nl", "trainer.ripu.tau"};

// The label-noise pipeline (`pixelgrad correct`; seg/correct/correct_options.h), any method.
static const char* kCorrect[] = {"correct.out",
                                 "correct.tags",
                                 "correct.weak_truth",
                                 "correct.clean_weights",
                                 "correct.cam.weights",
                                 "correct.cam.pretrain",
                                 "correct.cam.iterations",
                                 "correct.cam.batch_size",
                                 "correct.cam.lr",
                                 "correct.cam.size",
                                 "correct.cam.flip",
                                 "correct.cam.background_threshold",
                                 "correct.detection.delta",
                                 "correct.slic.pixels_per_superpixel",
                                 "correct.slic.compactness",
                                 "correct.slic.iterations",
                                 "correct.slic.min_size_factor",
                                 "correct.graph.prune_k",
                                 "correct.graph.features",
                                 "correct.nodes.min_clean_fraction",
                                 "correct.gat.hidden",
                                 "correct.gat.heads",
                                 "correct.gat.dropout",
                                 "correct.gat.lr",
                                 "correct.gat.weight_decay",
                                 "correct.gat.epochs",
                                 "correct.gat.batch_graphs",
                                 "correct.crf.enabled",
                                 "correct.crf.iterations",
                                 "correct.crf.label_confidence",
                                 "correct.crf.gaussian_sxy",
                                 "correct.crf.gaussian_weight",
                                 "correct.crf.bilateral_sxy",
                                 "correct.crf.bilateral_srgb",
                                 "correct.crf.bilateral_weight",
                                 "correct.rows"};

const std::vector<ConfigKey>& config_keys() {
    static const std::vector<ConfigKey> keys = [] {
        std::vector<ConfigKey> k;
        for (const char* key : kSplitOrDataset) {
            k.push_back({std::string("dataset.") + key, ""});
            k.push_back({std::string("dataset.<split>.") + key, ""});
        }
        for (const char* key : kSplitOnly) k.push_back({std::string("dataset.<split>.") + key, ""});
        for (const char* key : kCommon) k.push_back({key, ""});
        for (const char* key : kU2pl) k.push_back({key, "u2pl"});
        for (const char* key : kAdversarial) k.push_back({key, "adversarial"});
        for (const char* key : kRipu) k.push_back({key, "ripu"});
        for (const char* key : kCorrect) k.push_back({key, ""});
        return k;
    }();
    return keys;
}

static std::vector<std::string> split_dots(const std::string& key) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t dot = key.find('.', start);
        parts.push_back(key.substr(start, dot - start));
        if (dot == std::string::npos) return parts;
        start = dot + 1;
    }
}

static bool is_split(const std::string& name) {
    const std::vector<std::string>& s = dataset_splits();
    return std::find(s.begin(), s.end(), name) != s.end();
}

static bool matches(const std::string& pattern, const std::string& key) {
    std::vector<std::string> p = split_dots(pattern), k = split_dots(key);
    if (p.size() != k.size()) return false;
    for (size_t i = 0; i < p.size(); i++)
        if (p[i] != k[i] && !(p[i] == "<split>" && is_split(k[i]))) return false;
    return true;
}

const ConfigKey* find_config_key(const std::string& key) {
    for (const ConfigKey& entry : config_keys())
        if (matches(entry.pattern, key)) return &entry;
    return nullptr;
}

static size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); j++) row[j] = j;
    for (size_t i = 1; i <= a.size(); i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); j++) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

std::string nearest_config_key(const std::string& key) {
    // A pattern's <split> takes the key's own third component when that is a split name, so
    // "dataset.train.crop.sise" is compared with "dataset.train.crop.size".
    std::vector<std::string> k = split_dots(key);
    std::string split = k.size() > 2 && k[0] == "dataset" ? k[1] : "train";
    std::string best;
    size_t best_distance = SIZE_MAX;
    for (const ConfigKey& entry : config_keys()) {
        std::string candidate = entry.pattern;
        size_t at = candidate.find("<split>");
        if (at != std::string::npos) candidate.replace(at, 7, split);
        size_t d = edit_distance(key, candidate);
        if (d < best_distance) best_distance = d, best = candidate;
    }
    return best;
}

// Calls f(dotted key) for every leaf under `node` (a scalar, a list, or an empty map).
static void for_each_leaf(const Config& config, const std::string& prefix,
                          const std::function<void(const std::string&)>& f) {
    for (const std::string& name : config.keys()) {
        std::string key = prefix.empty() ? name : prefix + "." + name;
        if (config.is_section(name) && !config.section(name).keys().empty())
            for_each_leaf(config.section(name), key, f);
        else
            f(key);
    }
}

static std::string known_splits() {
    std::string s;
    for (const std::string& name : dataset_splits()) s += (s.empty() ? "" : ", ") + name;
    return s;
}

// A key the code may read: a declared key, or a section above one ("dataset", "dataset.val").
static bool known_key_or_section(const std::string& key) {
    if (find_config_key(key)) return true;
    std::vector<std::string> k = split_dots(key);
    for (const ConfigKey& entry : config_keys()) {
        std::vector<std::string> p = split_dots(entry.pattern);
        if (p.size() <= k.size()) continue;
        bool prefix = true;
        for (size_t i = 0; i < k.size() && prefix; i++)
            prefix = p[i] == k[i] || (p[i] == "<split>" && is_split(k[i]));
        if (prefix) return true;
    }
    return false;
}

void check_config_keys(Config& config) {
    std::string method = config.get_string("trainer.method", "supervised");
    for_each_leaf(config, "", [&](const std::string& key) {
        const ConfigKey* entry = find_config_key(key);
        if (entry == nullptr) {
            // A value where a section belongs (trainer.optimizer: 5, dataset.target: x).
            if (known_key_or_section(key))
                throw Error(config.origin(key) + ": '" + key +
                            "' is a section, not a value (it holds keys such as '" +
                            nearest_config_key(key + ".") + "')");
            std::vector<std::string> k = split_dots(key);
            if (k.size() > 2 && k[0] == "dataset" && !is_split(k[1]) &&
                find_config_key("dataset.train." + key.substr(9 + k[1].size())))
                throw Error(config.origin(key) + ": dataset." + k[1] + " is not a dataset split (" +
                            known_splits() + ")");
            throw Error(config.origin(key) + ": unknown key '" + key + "' (did you mean '" +
                        nearest_config_key(key) + "'?)");
        }
        PG_CHECK(entry->method.empty() || entry->method == method, config.origin(key), ": key '",
                 key, "' is read only by trainer.method ", entry->method,
                 ", and this run's method is ", method,
                 " (remove the key, or set trainer.method: ", entry->method, ")");
    });
    config.guard_keys(known_key_or_section);
}

} // namespace pg::seg
