// The `correct` config section -> CorrectOptions (keys in correct_options.h).
#include "seg/correct/correct_options.h"

#include "tensor/error.h"

namespace pg::seg {

static void read_cam(const Config& c, CorrectOptions& o) {
    o.cam_weights = c.get_string("correct.cam.weights", "");
    o.cam_pretrain = c.get_string("correct.cam.pretrain", "");
    o.cam.iterations = c.get_int("correct.cam.iterations", 600);
    o.cam.batch_size = c.get_int("correct.cam.batch_size", 16);
    o.cam.lr = c.get_float("correct.cam.lr", 0.01);
    o.cam.flip = c.get_bool("correct.cam.flip", true);
    o.cam.seed = uint64_t(c.get_int("trainer.seed", 0));
    o.cam.workers = int(c.get_int("dataset.workers", 2));
    if (c.has("correct.cam.size")) {
        std::vector<int64_t> s = c.get_int_list("correct.cam.size");
        PG_CHECK(s.size() == 2 && s[0] >= 0 && s[1] >= 0 && (s[0] == 0) == (s[1] == 0),
                 c.origin("correct.cam.size"),
                 ": correct.cam.size must be [height, width], both > 0, or [0, 0] to keep the "
                 "images' size; got ",
                 s.size(), " values",
                 s.size() == 2 ? " (" + std::to_string(s[0]) + ", " + std::to_string(s[1]) + ")"
                               : std::string());
        o.cam.height = s[0];
        o.cam.width = s[1];
    }
    o.background_threshold = float(c.get_float("correct.cam.background_threshold", 0.15));
    PG_CHECK(o.background_threshold >= 0 && o.background_threshold <= 1,
             c.origin("correct.cam.background_threshold"), ": correct.cam.background_threshold ",
             o.background_threshold, " must be in [0, 1] (CAMs are max-normalised)");
}

static void read_graph(const Config& c, CorrectOptions& o) {
    o.pixels_per_superpixel = c.get_float("correct.slic.pixels_per_superpixel", 187.5);
    PG_CHECK(o.pixels_per_superpixel >= 1, c.origin("correct.slic.pixels_per_superpixel"),
             ": correct.slic.pixels_per_superpixel ", o.pixels_per_superpixel,
             " must be at least 1");
    o.slic.compactness = float(c.get_float("correct.slic.compactness", 10));
    o.slic.iterations = int(c.get_int("correct.slic.iterations", 10));
    o.slic.min_size_factor = float(c.get_float("correct.slic.min_size_factor", 0.25));
    PG_CHECK(o.slic.compactness > 0 && o.slic.iterations >= 1 && o.slic.min_size_factor >= 0 &&
                 o.slic.min_size_factor < 1,
             c.origin_of_any({"correct.slic"}),
             ": correct.slic needs compactness > 0, iterations >= 1 and min_size_factor "
             "in [0, 1); got ",
             o.slic.compactness, ", ", o.slic.iterations, ", ", o.slic.min_size_factor);
    o.prune_k = float(c.get_float("correct.graph.prune_k", 0));
    std::string f = c.get_string("correct.graph.features", "probs");
    PG_CHECK(f == "decoder" || f == "probs" || f == "both", c.origin("correct.graph.features"),
             ": correct.graph.features is '", f, "', expected decoder, probs or both");
    o.features = f == "decoder" ? NodeFeatures::decoder
                 : f == "probs" ? NodeFeatures::probs
                                : NodeFeatures::both;
    o.min_clean_fraction = float(c.get_float("correct.nodes.min_clean_fraction", 0.5));
    PG_CHECK(o.min_clean_fraction >= 0 && o.min_clean_fraction <= 1,
             c.origin("correct.nodes.min_clean_fraction"), ": correct.nodes.min_clean_fraction ",
             o.min_clean_fraction, " must be in [0, 1] (a share of a superpixel's pixels)");
    o.gat_hidden = c.get_int("correct.gat.hidden", 8);
    o.gat_heads = c.get_int("correct.gat.heads", 8);
    o.gat_dropout = c.get_float("correct.gat.dropout", 0.6);
    o.gat_lr = c.get_float("correct.gat.lr", 0.005);
    o.gat_weight_decay = c.get_float("correct.gat.weight_decay", 0.0005);
    o.gat_epochs = c.get_int("correct.gat.epochs", 200);
    o.batch_graphs = c.get_int("correct.gat.batch_graphs", 64);
    PG_CHECK(o.gat_epochs >= 0 && o.batch_graphs >= 1,
             c.origin_of_any({"correct.gat.epochs", "correct.gat.batch_graphs"}),
             ": correct.gat.epochs ", o.gat_epochs, " and batch_graphs ", o.batch_graphs,
             " must be >= 0 and >= 1");
}

static void read_crf(const Config& c, CorrectOptions& o) {
    o.crf = c.get_bool("correct.crf.enabled", true);
    o.label_confidence = float(c.get_float("correct.crf.label_confidence", 0.7));
    PG_CHECK(o.label_confidence > 0 && o.label_confidence < 1,
             c.origin("correct.crf.label_confidence"), ": correct.crf.label_confidence ",
             o.label_confidence, " must be in (0, 1)");
    DenseCrfOptions& k = o.crf_options;
    k.iterations = int(c.get_int("correct.crf.iterations", k.iterations));
    k.gaussian_sxy = float(c.get_float("correct.crf.gaussian_sxy", k.gaussian_sxy));
    k.gaussian_weight = float(c.get_float("correct.crf.gaussian_weight", k.gaussian_weight));
    k.bilateral_sxy = float(c.get_float("correct.crf.bilateral_sxy", k.bilateral_sxy));
    k.bilateral_srgb = float(c.get_float("correct.crf.bilateral_srgb", k.bilateral_srgb));
    k.bilateral_weight = float(c.get_float("correct.crf.bilateral_weight", k.bilateral_weight));
}

CorrectOptions correct_options(const Config& c) {
    CorrectOptions o;
    o.out = c.get_string("correct.out", "");
    o.tags = c.get_string("correct.tags", "");
    o.weak_truth = c.get_bool("correct.weak_truth", true);
    o.clean_weights = c.get_string("correct.clean_weights", "");
    std::string delta =
        c.has("correct.detection.delta") ? c.get_string("correct.detection.delta", "auto") : "auto";
    o.auto_delta = delta == "auto";
    if (!o.auto_delta) {
        o.delta = float(c.get_float("correct.detection.delta"));
        PG_CHECK(o.delta > 0, c.origin("correct.detection.delta"), ": correct.detection.delta ",
                 o.delta, " must be auto or a positive loss");
    }
    read_cam(c, o);
    read_graph(c, o);
    read_crf(c, o);
    o.rows = c.get_int("correct.rows", 8);
    return o;
}

} // namespace pg::seg
