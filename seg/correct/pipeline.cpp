// The label-noise pipeline's driver (pipeline.h): stage by stage over the weak split, the GAT
// stage in chunks of `batch_graphs` images (one BatchedGAT per chunk, nn/gat_batch.h), so memory
// stays bounded by a chunk and every image gets its own GAT.
#include "seg/correct/pipeline.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "nn/gat_batch.h"
#include "nn/optim.h"
#include "nn/segmenter.h"
#include "seg/config_keys.h"
#include "seg/correct/correct_options.h"
#include "seg/correct/superpixel_graph.h"
#include "seg/data_config.h"
#include "seg/model_config.h"
#include "seg/train/trainer.h"
#include "seg/visualize.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg {

namespace fs = std::filesystem;

namespace {

// One weak image between detection (stage 3) and the GAT (stage 6).
struct WeakImage {
    std::string id, image_path;
    Image image;
    LabelMap truth, cam;
    LabelMap prediction; // the clean model's argmax: the reference a correction must beat
    bool has_truth = false;
    std::vector<uint8_t> clean;
    Superpixels superpixels;
    nn::CsrGraph graph;
    std::vector<float> node_features; // (count, dims)
    std::vector<int32_t> node_labels; // (count,), 255 = unlabelled
};

// The clean model's per-pixel probabilities (H, W, C) and node-feature maps (H, W, D), both
// upsampled bilinearly (align_corners = true, as U2PL upsamples its logits) to the image size.
struct CleanView {
    std::vector<float> probs, features;
    int dims = 0;
};
CleanView clean_view(nn::SegmentationNet& net, const Tensor& x, NodeFeatures which) {
    NoGradGuard no_grad;
    const int64_t H = x.size(1), W = x.size(2);
    nn::SegOutput out = net.forward(x);
    Tensor probs = softmax(resize_bilinear(out.logits, H, W, true)); // (1, H, W, C)
    CleanView v;
    v.probs = probs.to_f32_vector();
    Tensor f;
    if (which == NodeFeatures::probs)
        f = probs;
    else {
        PG_CHECK(out.features.defined(), "correct: the clean network gives no decoder features");
        f = resize_bilinear(out.features, H, W, true);
        if (which == NodeFeatures::both) f = concat({f, probs}, 3);
    }
    v.dims = int(f.size(3));
    v.features = f.to_f32_vector();
    return v;
}

LabelMap cam_label_of(CamNet& cam, const Tensor& x, const TagTable& tags, const std::string& id,
                      float threshold) {
    NoGradGuard no_grad;
    const int64_t H = x.size(1), W = x.size(2);
    Tensor t = tag_tensor(tags, {id}, cam.num_classes(), "the tags").to(x.device());
    std::vector<float> maps = cam.cams(x, t, H, W).to_f32_vector();
    return cam_label(maps, int(H), int(W), cam.num_classes() - 1, threshold);
}

std::vector<uint8_t> clean_mask(const std::vector<float>& losses, const LabelMap& cam,
                                float delta) {
    std::vector<uint8_t> clean(losses.size(), 0);
    for (size_t p = 0; p < losses.size(); p++) clean[p] = cam.values[p] != 255 && losses[p] < delta;
    return clean;
}

TagTable load_tags(const Config& c, const CorrectOptions& o, const Dataset& strong,
                   const Dataset& weak, int C) {
    if (!o.tags.empty()) {
        fs::path p = o.tags;
        if (p.is_relative()) p = fs::path(c.get_string("dataset.root", ".")) / p;
        return read_tags_file(p.string(), C);
    }
    PG_CHECK(weak.labeled(), c.origin_of_any({"correct.tags", "correct.weak_truth"}),
             ": correct.tags is empty, so the tags come from the label "
             "maps, but the weak split has none (correct.weak_truth: false)");
    TagTable tags;
    for (const Dataset* d : {&strong, &weak})
        for (int64_t i = 0; i < d->size(); i++)
            tags[d->id(i)] = tags_from_label(d->load(i).label, C);
    return tags;
}

// An image in both splits would enter the training lists twice, with its true and its corrected
// label.
void check_disjoint(const Dataset& strong, const Dataset& weak, const std::string& source) {
    std::set<std::string> strong_ids;
    for (int64_t i = 0; i < strong.size(); i++) strong_ids.insert(strong.files(i).id);
    for (int64_t i = 0; i < weak.size(); i++)
        PG_CHECK(!strong_ids.count(weak.files(i).id), source, ": image '", weak.files(i).id,
                 "' is in both the strong split (dataset.train) and the weak split "
                 "(dataset.weak); the weak images are the ones without pixel labels");
}

// Stage 1: the CAM classifier, trained on the weak images' tags unless weights are given.
std::shared_ptr<CamNet> cam_stage(const Config& c, const CorrectOptions& o, const Dataset& weak,
                                  const TagTable& tags, const Device& device,
                                  const std::string& out, CorrectResult& r,
                                  const std::function<void(const std::string&)>& log) {
    int C = int(c.get_int("net.num_classes"));
    Generator gen(uint64_t(c.get_int("trainer.seed", 0)) + 101);
    auto cam =
        std::make_shared<CamNet>(backbone_options(c.section("net"), nn::ResNetVariant::C), C, gen);
    Normalize n = normalization(c.section("dataset"));
    if (!o.cam_weights.empty()) {
        nn::load_weights(*cam, o.cam_weights, true, "cam");
        cam->to(device);
    } else {
        if (!o.cam_pretrain.empty()) load_cam_backbone(*cam, o.cam_pretrain);
        train_cam(*cam, weak, tags, n, o.cam, device, log);
        nn::save_weights(*cam, out + "/cam.safetensors", "cam");
    }
    cam->eval();
    r.cam_score = score_tags(*cam, weak, tags, n, o.cam, device);
    char line[160];
    std::snprintf(line, sizeof line, "cam: tags of the %lld weak images: mAP %.2f, F1 %.2f",
                  (long long)r.cam_score.images, r.cam_score.map, r.cam_score.f1);
    log(line);
    return cam;
}

// Stage 2: the clean model, loaded or trained here on the strong split (the config itself).
std::shared_ptr<nn::SegmentationNet> clean_stage(const CorrectArgs& a, const Config& c,
                                                 const CorrectOptions& o, const Device& device,
                                                 const std::string& out) {
    std::string weights = o.clean_weights;
    if (weights.empty()) {
        TrainOptions t;
        t.config = a.config;
        t.overrides = a.overrides;
        t.run_dir = out + "/clean";
        t.device = a.device;
        t.quiet = a.quiet;
        TrainResult tr = train(t);
        PG_CHECK(tr.completed, "correct: the clean model's run ", tr.run_dir, " did not complete");
        weights = tr.run_dir + "/checkpoints/best.safetensors";
    }
    nn::SegmenterOptions so = segmenter_options(c.section("net"));
    Generator gen(0);
    std::shared_ptr<nn::SegmentationNet> net = nn::build_segmenter(so, gen);
    nn::load_weights(*net, weights, true, nn::segmenter_name(so));
    net->to(device);
    net->eval();
    return net;
}

// Stage 3's delta from the strong images: their CAM labels against their truth.
DeltaChoice choose_strong_delta(nn::SegmentationNet& clean, CamNet& cam, const Dataset& strong,
                                const TagTable& tags, const CorrectOptions& o, const Normalize& n,
                                const Device& device, int C) {
    std::vector<DeltaSample> samples;
    for (int64_t i = 0; i < strong.size(); i++) {
        Sample s = strong.load(i);
        Tensor x = image_batch(s.image, n, device);
        LabelMap cl = cam_label_of(cam, x, tags, s.id, o.background_threshold);
        std::vector<float> loss =
            pixel_losses(clean_view(clean, x, NodeFeatures::probs).probs, cl, C);
        for (size_t p = 0; p < loss.size(); p++)
            if (s.label.values[p] != 255)
                samples.push_back({loss[p], cl.values[p] == s.label.values[p]});
    }
    return choose_delta(std::move(samples));
}

LabelMap argmax_map(const std::vector<float>& p, int H, int W, int C) {
    LabelMap l{H, W, std::vector<int32_t>(size_t(H) * size_t(W))};
    for (size_t i = 0; i < l.values.size(); i++) {
        const float* q = p.data() + i * size_t(C);
        l.values[i] = int32_t(std::max_element(q, q + C) - q);
    }
    return l;
}

// Stages 3-5 for one weak image: CAM label, clean pixels, superpixels, pruned graph, node labels.
WeakImage prepare(const Dataset& weak, int64_t i, nn::SegmentationNet& clean, CamNet& cam,
                  const TagTable& tags, const CorrectOptions& o, float delta, const Normalize& n,
                  const Device& device, int C, CorrectResult& r) {
    Sample s = weak.load(i);
    WeakImage w;
    w.id = s.id;
    w.image_path = weak.files(i).image;
    w.image = s.image;
    w.has_truth = weak.labeled();
    w.truth = s.label;
    Tensor x = image_batch(s.image, n, device);
    w.cam = cam_label_of(cam, x, tags, s.id, o.background_threshold);
    CleanView v = clean_view(clean, x, o.features);
    w.clean = clean_mask(pixel_losses(v.probs, w.cam, C), w.cam, delta);
    w.prediction = argmax_map(v.probs, s.image.height, s.image.width, C);
    SlicOptions so = o.slic;
    so.num_segments = segments_for_area(s.image.height, s.image.width, o.pixels_per_superpixel);
    w.superpixels = slic(s.image, so);
    const int count = w.superpixels.count;
    auto adjacent =
        superpixel_adjacency(w.superpixels.labels, s.image.height, s.image.width, count);
    w.node_features = superpixel_means(v.features, v.dims, w.superpixels.labels, count);
    PrunedGraph g = prune_by_similarity(adjacent, w.node_features, v.dims, o.prune_k);
    w.graph = nn::add_self_loops(nn::CsrGraph::from_edges(count, g.src, g.dst, true));
    w.node_labels =
        majority_node_labels(w.superpixels.labels, count, w.cam, w.clean, C, o.min_clean_fraction);
    r.nodes += count;
    r.adjacent_pairs += g.adjacent;
    r.edges += int64_t(g.src.size());
    for (int32_t l : w.node_labels) r.labelled_nodes += l != 255;
    return w;
}

// Stage 6 for a chunk: one GAT per image, trained together; returns each image's node classes.
std::vector<std::vector<int32_t>> gat_stage(const std::vector<WeakImage>& chunk,
                                            const CorrectOptions& o, int C, const Device& device,
                                            uint64_t seed) {
    std::vector<nn::CsrGraph> graphs;
    for (const WeakImage& w : chunk) graphs.push_back(w.graph);
    nn::GraphBatch batch = nn::batch_graphs(graphs);
    const int64_t Vp = batch.nodes_per_graph, G = batch.graphs;
    const int64_t D = int64_t(chunk[0].node_features.size()) / chunk[0].superpixels.count;
    std::vector<float> x(size_t(G * Vp * D), 0.f);
    std::vector<int32_t> y(size_t(G * Vp), 255);
    for (int64_t g = 0; g < G; g++) {
        const WeakImage& w = chunk[size_t(g)];
        std::copy(w.node_features.begin(), w.node_features.end(), x.begin() + g * Vp * D);
        std::copy(w.node_labels.begin(), w.node_labels.end(), y.begin() + g * Vp);
    }
    batch.graph = batch.graph.to(device);
    batch.node_graph = batch.node_graph.to(device);
    Tensor xt = Tensor::from_vector(x, {G * Vp, D}, device);
    Tensor yt = Tensor::from_vector(y, {G * Vp}, device);
    nn::GATOptions go;
    go.in_channels = D;
    go.num_classes = C;
    go.hidden = o.gat_hidden;
    go.heads = o.gat_heads;
    go.dropout = float(o.gat_dropout);
    Generator gen(seed);
    nn::BatchedGAT net(go, G, gen);
    net.to(device);
    net.set_generator(&gen);
    nn::AdamOptions ao;
    ao.lr = o.gat_lr;
    ao.weight_decay = o.gat_weight_decay;
    nn::Adam adam({nn::ParamGroup{net.parameters()}}, ao);
    net.train();
    for (int64_t epoch = 0; epoch < o.gat_epochs; epoch++) {
        adam.zero_grad();
        backward(nn::per_graph_cross_entropy(net.forward(xt, batch), yt, batch));
        adam.set_lr(o.gat_lr);
        adam.step();
    }
    net.eval();
    NoGradGuard no_grad;
    std::vector<int32_t> pred = argmax(net.forward(xt, batch), 1).to_i32_vector();
    std::vector<std::vector<int32_t>> out;
    for (int64_t g = 0; g < G; g++)
        out.emplace_back(pred.begin() + g * Vp,
                         pred.begin() + g * Vp + chunk[size_t(g)].superpixels.count);
    return out;
}

// Stage 7's unary from hard labels: p = confidence on the label, the rest spread evenly; uniform
// where the label is 255.
std::vector<float> label_probs(const LabelMap& l, int C, float confidence) {
    std::vector<float> p(l.values.size() * size_t(C));
    const float rest = (1.f - confidence) / float(std::max(1, C - 1));
    for (size_t i = 0; i < l.values.size(); i++)
        for (int c = 0; c < C; c++)
            p[i * size_t(C) + size_t(c)] = l.values[i] == 255 ? 1.f / float(C)
                                           : l.values[i] == c ? confidence
                                                              : rest;
    return p;
}

} // namespace

namespace {

// What every chunk writes and scores.
struct Outputs {
    std::string out;
    Palette palette = voc_palette(), colours;
    LabelQuality cam, detection, gat, crf, prediction;
    // lists/strong_plus_*.txt, written when every label is (a list never names a missing file)
    std::string list_cam, list_gat, list_crf, list_prediction;
    int64_t rows_left = 0;
    explicit Outputs(int C) : cam(C), detection(C), gat(C), crf(C), prediction(C) {}
};

void write_label(Outputs& w, const std::string& stage, const std::string& id, const LabelMap& l,
                 const std::string& image_path, std::string& list) {
    std::string path =
        fs::absolute(w.out + "/labels/" + stage + "/" + safe_id(id) + ".png").string();
    write_palette_png(path, l, w.palette);
    list += fs::absolute(image_path).string() + " " + path + "\n";
}

// Stage 6's corrected labels of one image from its nodes' predictions, and stage 7's in `crf`.
LabelMap gat_and_crf(const WeakImage& im, const std::vector<int32_t>& nodes,
                     const CorrectOptions& o, int C, LabelMap& crf) {
    bool any_label = false;
    for (int32_t l : im.node_labels) any_label |= l != 255;
    // A graph without a labelled node has an untrained GAT: keep the CAM label there.
    LabelMap gat =
        any_label ? corrected_labels(im.superpixels.labels, im.cam, im.clean, nodes) : im.cam;
    crf = gat;
    if (o.crf) {
        std::vector<float> q =
            dense_crf(im.image, label_probs(gat, C, o.label_confidence), C, o.crf_options);
        crf = argmax_map(q, im.image.height, im.image.width, C);
    }
    return gat;
}

// Stages 6-7 for a prepared chunk, then the outputs of its images.
void finish_chunk(std::vector<WeakImage>& chunk, const CorrectOptions& o, int C,
                  const Device& device, uint64_t seed, Outputs& w) {
    std::vector<std::vector<int32_t>> nodes = gat_stage(chunk, o, C, device, seed);
    const int64_t n = int64_t(chunk.size());
    std::vector<LabelMap> gats(chunk.size()), crfs(chunk.size());
    std::vector<std::string> errors(chunk.size());
    // The CRFs are independent host computations, one image per thread.
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t g = 0; g < n; g++) {
        try {
            gats[size_t(g)] =
                gat_and_crf(chunk[size_t(g)], nodes[size_t(g)], o, C, crfs[size_t(g)]);
        } catch (const std::exception& e) { // no exception may leave an OpenMP region
            errors[size_t(g)] = e.what();
        }
    }
    for (const std::string& e : errors) PG_CHECK(e.empty(), e);
    for (size_t g = 0; g < chunk.size(); g++) {
        WeakImage& im = chunk[g];
        const LabelMap &gat = gats[g], &crf = crfs[g];
        write_label(w, "cam", im.id, im.cam, im.image_path, w.list_cam);
        write_label(w, "gat", im.id, gat, im.image_path, w.list_gat);
        write_label(w, "crf", im.id, crf, im.image_path, w.list_crf);
        write_label(w, "prediction", im.id, im.prediction, im.image_path, w.list_prediction);
        LabelMap detected = im.cam;
        for (size_t p = 0; p < detected.values.size(); p++)
            if (!im.clean[p]) detected.values[p] = 255;
        if (im.has_truth) {
            w.cam.add(im.cam, im.truth);
            w.detection.add_where(im.cam, im.truth, im.clean);
            w.gat.add(gat, im.truth);
            w.crf.add(crf, im.truth);
            w.prediction.add(im.prediction, im.truth);
        }
        if (w.rows_left > 0) {
            w.rows_left--;
            std::vector<Image> tiles{im.image, colorize(im.cam, w.colours),
                                     colorize(detected, w.colours), colorize(gat, w.colours),
                                     colorize(crf, w.colours)};
            if (im.has_truth) tiles.push_back(colorize(im.truth, w.colours));
            write_png(w.out + "/rows/" + safe_id(im.id) + ".png", panel_row(tiles));
        }
    }
    chunk.clear();
}

void write_strong_lists(const Dataset& strong, Outputs& w) {
    for (int64_t i = 0; i < strong.size(); i++) {
        std::string line = fs::absolute(strong.files(i).image).string() + " " +
                           fs::absolute(strong.files(i).label).string() + "\n";
        w.list_cam += line;
        w.list_gat += line;
        w.list_crf += line;
        w.list_prediction += line;
    }
}

void write_quality(const CorrectResult& r, const std::string& out) {
    nlohmann::json j;
    j["weak_images"] = r.weak_images;
    j["cam_tags"] = {{"map", r.cam_score.map}, {"f1", r.cam_score.f1}};
    j["delta"] = {{"value", r.delta.delta},
                  {"split_accuracy", 100.0 * r.delta.accuracy},
                  {"strong_pixels", r.delta.samples}};
    j["graph"] = {{"nodes", r.nodes},
                  {"labelled_nodes", r.labelled_nodes},
                  {"adjacent_pairs", r.adjacent_pairs},
                  {"kept_edges", r.edges}};
    j["gat_seconds"] = r.gat_seconds;
    std::string md = "| stage | pixel accuracy | mIoU | labelled pixels |\n|---|---:|---:|---:|\n";
    for (const StageQuality& q : r.quality) {
        j["stages"].push_back({{"stage", q.stage},
                               {"accuracy", q.accuracy},
                               {"miou", q.miou},
                               {"coverage", q.coverage}});
        char line[160];
        std::snprintf(line, sizeof line, "| %s | %.2f | %.2f | %.1f%% |\n", q.stage.c_str(),
                      q.accuracy, q.miou, q.coverage);
        md += line;
    }
    write_file_atomic(out + "/quality.md", "correct", md);
    write_file_atomic(out + "/quality.json", "correct", j.dump(2) + "\n");
}

// OUT/report.html: the quality table and the rows (image | CAM label | after detection, noisy
// pixels white | after GAT | after CRF | truth), one picture per weak image shown.
void write_report(const CorrectResult& r, const std::string& out) {
    std::vector<std::string> rows;
    for (const auto& e : fs::directory_iterator(out + "/rows")) rows.push_back(e.path().filename());
    std::sort(rows.begin(), rows.end());
    std::ostringstream html;
    html << "<!doctype html><meta charset=utf-8><title>pixelgrad correct</title>\n"
         << "<h1>Label-noise correction: " << r.weak_images << " weak images</h1>\n"
         << "<table border=1 cellpadding=4><tr><th>stage<th>pixel accuracy<th>mIoU<th>labelled\n";
    for (const StageQuality& q : r.quality) {
        char line[200];
        std::snprintf(line, sizeof line, "<tr><td>%s<td>%.2f<td>%.2f<td>%.1f%%\n", q.stage.c_str(),
                      q.accuracy, q.miou, q.coverage);
        html << line;
    }
    html << "</table>\n<p>image | CAM label | after detection (noisy pixels white) | after GAT | "
            "after CRF | truth</p>\n";
    for (const std::string& f : rows)
        html << "<p>" << f.substr(0, f.size() - 4) << "<br><img src=\"rows/" << f
             << "\" style=\"image-rendering: pixelated; height: 160px\"></p>\n";
    write_file_atomic(out + "/report.html", "correct", html.str());
}

StageQuality quality_of(const std::string& stage, const LabelQuality& q) {
    return {stage, q.pixel_accuracy(), q.miou(), q.coverage()};
}

} // namespace

CorrectResult run_correct(const CorrectArgs& a) {
    Config c = Config::load(a.config, a.overrides);
    check_config_keys(c);
    CorrectOptions o = correct_options(c);
    CorrectResult r;
    r.out = a.out.empty() ? o.out : a.out;
    PG_CHECK(!r.out.empty(), "correct: no --out and ", c.source(), " has no correct.out");
    PG_CHECK(a.force || !fs::exists(r.out), "correct: ", r.out,
             " already exists; pass --force to replace it");
    fs::remove_all(r.out);
    for (const char* d :
         {"labels/cam", "labels/gat", "labels/crf", "labels/prediction", "lists", "rows"})
        fs::create_directories(fs::path(r.out) / d);
    auto log = [&](const std::string& line) {
        if (!a.quiet) std::fprintf(stderr, "%s\n", line.c_str());
    };
    const Device device =
        parse_device(a.device.empty() ? c.get_string("trainer.device", "cpu") : a.device);
    const int C = int(c.get_int("net.num_classes"));
    const Config data = c.section("dataset");
    PG_CHECK(data.is_section("weak"), c.origin("dataset.weak"),
             ": correct needs dataset.weak, the weakly labelled images (their list; "
             "configs/synth/gat_64.yaml shows one)");
    Dataset strong = open_split(data, "train", C);
    Dataset weak = open_split(data, "weak", C, o.weak_truth);
    check_disjoint(strong, weak, c.origin_of_any({"dataset.weak", "dataset.train"}));
    TagTable tags = load_tags(c, o, strong, weak, C);
    Normalize n = normalization(data);

    std::shared_ptr<CamNet> cam = cam_stage(c, o, weak, tags, device, r.out, r, log);
    std::shared_ptr<nn::SegmentationNet> clean = clean_stage(a, c, o, device, r.out);
    r.delta = o.auto_delta ? choose_strong_delta(*clean, *cam, strong, tags, o, n, device, C)
                           : DeltaChoice{o.delta, 0.0, 0};
    char line[200];
    std::snprintf(line, sizeof line,
                  "detection: delta %.4f (split accuracy %.2f%% on %lld strong pixels)",
                  r.delta.delta, 100.0 * r.delta.accuracy, (long long)r.delta.samples);
    log(line);

    Outputs w(C);
    w.out = r.out;
    w.colours = palette_for(C);
    w.rows_left = o.rows;
    write_strong_lists(strong, w);
    const uint64_t seed = uint64_t(c.get_int("trainer.seed", 0));
    std::vector<WeakImage> chunk;
    for (int64_t i = 0; i < weak.size(); i++) {
        chunk.push_back(prepare(weak, i, *clean, *cam, tags, o, r.delta.delta, n, device, C, r));
        if (int64_t(chunk.size()) == o.batch_graphs || i + 1 == weak.size()) {
            auto t0 = std::chrono::steady_clock::now();
            finish_chunk(chunk, o, C, device, seed + uint64_t(i), w);
            r.gat_seconds +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::snprintf(line, sizeof line, "correct: %lld/%lld weak images", (long long)(i + 1),
                          (long long)weak.size());
            log(line);
        }
    }
    r.weak_images = weak.size();
    if (o.weak_truth)
        r.quality = {quality_of("cam", w.cam), quality_of("detection (clean pixels)", w.detection),
                     quality_of("gat", w.gat), quality_of("crf", w.crf),
                     quality_of("clean model's prediction", w.prediction)};
    write_file_atomic(r.out + "/lists/strong_plus_cam.txt", "correct", w.list_cam);
    write_file_atomic(r.out + "/lists/strong_plus_gat.txt", "correct", w.list_gat);
    write_file_atomic(r.out + "/lists/strong_plus_crf.txt", "correct", w.list_crf);
    write_file_atomic(r.out + "/lists/strong_plus_prediction.txt", "correct", w.list_prediction);
    write_quality(r, r.out);
    write_report(r, r.out);
    return r;
}

} // namespace pg::seg
