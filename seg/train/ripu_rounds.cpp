// RIPU's acquisition rounds and their files (seg/train/ripu_rounds.h).
#include "seg/train/ripu_rounds.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/node.h"
#include "autograd/reduce.h"
#include "autograd/softmax.h"
#include "nn/losses.h"
#include "seg/data_config.h"
#include "seg/visualize.h"
#include "tensor/collectives.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg::ripu {

namespace fs = std::filesystem;

RipuOptions read_options(const Config& c) {
    RipuOptions o;
    const std::string s = "trainer.ripu.";
    o.selection = parse_selection(c.get_string(s + "selection", "region"),
                                  c.origin(s + "selection") + ": " + s + "selection");
    o.ratio = c.get_float(s + "ratio", o.ratio);
    o.pixels = c.get_int(s + "pixels", o.pixels);
    o.radius_k = c.get_int(s + "radius_k", o.selection == Selection::pixel ? 32 : 1);
    if (c.has(s + "rounds_at")) o.rounds_at = c.get_int_list(s + "rounds_at");
    o.lambda_lc = c.get_float(s + "lambda_lc", o.lambda_lc);
    o.lambda_nl = c.get_float(s + "lambda_nl", o.lambda_nl);
    o.tau = float(c.get_float(s + "tau", o.tau));
    PG_CHECK(o.ratio > 0 && o.ratio <= 1, c.origin(s + "ratio"), ": ", s, "ratio is ", o.ratio,
             ", expected 0..1 (the share of target pixels labelled after the last round)");
    PG_CHECK(o.pixels >= 1 && o.radius_k >= 0, c.origin_of_any({s + "pixels", s + "radius_k"}),
             ": ", s, "pixels must be >= 1 and radius_k >= 0 (got ", o.pixels, " and ", o.radius_k,
             ")");
    PG_CHECK(o.selection == Selection::full || !o.rounds_at.empty(), c.origin(s + "rounds_at"),
             ": ", s, "rounds_at is empty: no round would label anything");
    for (size_t i = 0; i < o.rounds_at.size(); ++i)
        PG_CHECK(o.rounds_at[i] >= 0 && (i == 0 || o.rounds_at[i] > o.rounds_at[i - 1]),
                 c.origin(s + "rounds_at"), ": ", s, "rounds_at must be increasing steps >= 0");
    PG_CHECK(o.lambda_lc >= 0 && o.lambda_nl >= 0 && o.tau > 0 && o.tau < 1,
             c.origin_of_any({s + "lambda_lc", s + "lambda_nl", s + "tau"}), ": ", s,
             "lambda_lc, lambda_nl and tau are ", o.lambda_lc, ", ", o.lambda_nl, " and ", o.tau,
             "; expected lambda_lc, lambda_nl >= 0 and 0 < tau < 1");
    return o;
}

std::string RoundSummary::to_json() const {
    nlohmann::json j{{"round", round},
                     {"step", step},
                     {"images", images},
                     {"picks", picks},
                     {"selected_pixels", selected},
                     {"target_pixels", total},
                     {"labelled_percent", percent()},
                     {"budget_percent", budget_percent},
                     {"picked_error_percent", picked_error_percent()},
                     {"error_percent", error_percent()},
                     {"picked_void_percent", picked_void_percent()}};
    return j.dump(2);
}

std::string round_dir(const std::string& dir, int64_t round) {
    return (fs::path(dir) / ("round_" + std::to_string(round))).string();
}

Acquisition::Acquisition(const Config& config, int num_classes)
    : o_(read_options(config)), num_classes_(num_classes) {
    Config data = config.section("dataset");
    PG_CHECK(data.has("target"), config.origin("dataset.target"),
             ": ripu needs dataset.target (the target domain's training images, with labels for "
             "the oracle)");
    target_ = open_split(data, "target", num_classes, /*labeled=*/true);
    AugmentConfig train = train_augment(data, "target");
    predict_ = resize_only(train.resize_height, train.resize_width, train.interp, train.normalize);
    predict_.keep_label_size = true;
    maps_ = std::make_shared<const std::vector<ActiveMaps>>(size_t(target_.size()));
    for (int64_t i = 0; i < target_.size(); ++i) index_of_id_[target_.id(i)] = i;
}

int64_t Acquisition::index_of(const std::string& id) const {
    auto it = index_of_id_.find(id);
    PG_CHECK(it != index_of_id_.end(), "ripu: '", id, "' is not an image of dataset.target");
    return it->second;
}

double Acquisition::labelled_percent() const {
    std::shared_ptr<const std::vector<ActiveMaps>> all = maps();
    int64_t selected = 0, total = 0;
    for (const ActiveMaps& m : *all) selected += m.selected_count(), total += m.height * m.width;
    return total > 0 ? 100.0 * double(selected) / double(total) : 0.0;
}

std::shared_ptr<const std::vector<ActiveMaps>> Acquisition::maps() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return maps_;
}

void Acquisition::publish(std::vector<ActiveMaps> maps) {
    auto next = std::make_shared<const std::vector<ActiveMaps>>(std::move(maps));
    std::lock_guard<std::mutex> lock(mutex_);
    maps_ = next;
}

LabelMap Acquisition::label_map(int64_t index, int height, int width) const {
    std::shared_ptr<const std::vector<ActiveMaps>> all = maps();
    const ActiveMaps& m = all->at(size_t(index));
    LabelMap l;
    l.height = height, l.width = width;
    l.values.assign(size_t(height) * size_t(width), 255);
    if (m.height == 0) return l;
    PG_CHECK(m.height == height && m.width == width, "ripu: target image '", target_.id(index),
             "' is ", height, "x", width, " but its active-label map is ", m.height, "x", m.width);
    for (size_t i = 0; i < l.values.size(); ++i) l.values[i] = m.labels[i];
    return l;
}

// The prediction at the native size H x W: its argmax (H W, on the host) and, unless the
// selection is random, the score map (H, W) on the CPU, computed on the training device with
// engine ops when that is a GPU, else by the host path of ripu_parts.h.
struct NativePrediction {
    std::vector<int32_t> argmax;
    Tensor score;
};
static NativePrediction predict_native(nn::SegmentationNet& net, const Tensor& image,
                                       const Device& device, int64_t H, int64_t W, Selection s,
                                       int64_t k) {
    Tensor x = image.alias_with_shape({1, image.size(0), image.size(1), 3}).to(device);
    Tensor logits = nn::upsample_logits(net.forward(x).logits, H, W);
    NativePrediction out{argmax(logits, 3).to_i32_vector(), Tensor()};
    if (s == Selection::random) return out;
    Tensor p = softmax(logits);
    p = p.alias_with_shape({H, W, p.size(3)});
    out.score = device.is_cuda() ? acquisition_score_ops(p, s, k).to(Device::cpu())
                                 : acquisition_score(p, s, k);
    return out;
}

// Counts, over the pixels with a true label, the newly selected ones (selected now, not before)
// and all of them, and how many of each the prediction got wrong; and the newly selected pixels
// whose truth is 255 (budget spent on pixels no loss sees).
static void count_errors(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted,
                         const std::vector<uint8_t>& before, const ActiveMaps& after,
                         RoundSummary& s) {
    for (size_t p = 0; p < truth.size(); ++p) {
        if (truth[p] == 255) {
            s.picked_void += after.selected[p] && !before[p];
            continue;
        }
        bool wrong = predicted[p] != truth[p];
        s.known += 1, s.known_wrong += wrong;
        if (after.selected[p] && !before[p]) s.picked_known += 1, s.picked_wrong += wrong;
    }
}

// The counts of every process's images (exact in doubles up to 2^53).
static void sum_over_processes(RoundSummary& s, double& budget_pixels) {
    if (!data_parallel_run()) return;
    int64_t* counts[] = {&s.picks,        &s.selected, &s.total,       &s.picked_known,
                         &s.picked_wrong, &s.known,    &s.known_wrong, &s.picked_void};
    std::vector<double> v;
    for (int64_t* c : counts) v.push_back(double(*c));
    v.push_back(budget_pixels);
    CollectivePurpose purpose("RIPU's round counts");
    collectives().all_reduce_sum(v.data(), int64_t(v.size()));
    for (size_t k = 0; k < std::size(counts); ++k) *counts[k] = int64_t(v[k]);
    budget_pixels = v.back();
}

RoundSummary Acquisition::run_round(nn::SegmentationNet& net, const Device& device, int64_t round,
                                    int64_t step, uint64_t seed) {
    PG_CHECK(o_.selection != Selection::full, "ripu: selection full has no rounds");
    nn::EvalModeGuard eval_mode(net);
    NoGradGuard no_grad;
    std::vector<ActiveMaps> next = *maps();
    RoundSummary s;
    s.round = round, s.step = step, s.images = target_.size();
    const bool pixel = o_.selection == Selection::pixel;
    const int64_t k = o_.radius_k, label_radius = pixel ? 0 : k, block_radius = pixel ? k : 2 * k;
    double budget_pixels = 0;
    // Data parallel: this process takes images rank, rank + W, ...; the others' maps arrive
    // through the round's files (Ripu::run_round), the counts through all_reduce_sum below.
    const int64_t rank = collectives().rank(), world = collectives().world_size();
    for (int64_t i = rank; i < target_.size(); i += world) {
        Generator unused(0);
        TensorSample t = augment(target_.load(i), predict_, unused);
        const int64_t H = t.label.size(0), W = t.label.size(1);
        ActiveMaps& m = next[size_t(i)];
        if (m.height == 0) m = ActiveMaps::empty(H, W);
        PG_CHECK(m.height == H && m.width == W, "ripu: target image '", target_.id(i), "' is ", H,
                 "x", W, " but its active-label map is ", m.height, "x", m.width);
        NativePrediction pred = predict_native(net, t.image, device, H, W, o_.selection, k);
        Tensor score = pred.score;
        if (o_.selection == Selection::random) {
            Generator gen(seed + uint64_t(round) * 0x9E3779B97F4A7C15ULL + uint64_t(i));
            score = random_score(H, W, gen);
        }
        int64_t th = predict_.resize_height > 0 ? predict_.resize_height : H;
        int64_t tw = predict_.resize_width > 0 ? predict_.resize_width : W;
        int64_t count = pixel ? pixels_per_round(H, W, th, tw, o_.pixels, rounds())
                              : regions_per_round(H, W, o_.ratio, rounds(), k);
        std::vector<int32_t> truth = t.label.to_i32_vector();
        std::vector<uint8_t> before = m.selected;
        std::vector<int64_t> picks =
            greedy_select(score, count, label_radius, block_radius, truth, m);
        count_errors(truth, pred.argmax, before, m, s);
        double side = double(2 * label_radius + 1);
        budget_pixels += double(count) * side * side * double(round);
        s.picks += int64_t(picks.size());
        s.selected += m.selected_count();
        s.total += H * W;
    }
    sum_over_processes(s, budget_pixels);
    s.budget_percent = s.total > 0 ? 100.0 * budget_pixels / double(s.total) : 0;
    publish(std::move(next));
    return s;
}

void Acquisition::label_everything() {
    std::vector<ActiveMaps> all(size_t(target_.size()));
    for (int64_t i = 0; i < target_.size(); ++i) {
        Sample sample = target_.load(i);
        ActiveMaps& m = all[size_t(i)];
        m = ActiveMaps::empty(sample.label.height, sample.label.width);
        for (size_t p = 0; p < m.labels.size(); ++p) {
            m.labels[p] = uint8_t(sample.label.values[p]);
            m.selected[p] = m.active[p] = 1;
        }
    }
    publish(std::move(all));
}

// ---- files ----

static Image binary_image(const std::vector<uint8_t>& bits, int64_t H, int64_t W) {
    Image im;
    im.height = int(H), im.width = int(W), im.channels = 1;
    im.pixels.resize(bits.size());
    for (size_t i = 0; i < bits.size(); ++i) im.pixels[i] = bits[i] ? 255 : 0;
    return im;
}

void Acquisition::save_round(const std::string& dir, const RoundSummary& summary) const {
    std::string root = round_dir(dir, summary.round);
    for (const char* sub : {"masks", "active", "selected"})
        fs::create_directories(fs::path(root) / sub);
    std::shared_ptr<const std::vector<ActiveMaps>> all = maps();
    Palette palette = voc_palette(); // 256 entries: 255 (not labelled) has a colour too
    // Each process writes the images its run_round took; rank 0 the summary.
    const int64_t rank = collectives().rank(), world = collectives().world_size();
    for (int64_t i = rank; i < target_.size(); i += world) {
        const ActiveMaps& m = (*all)[size_t(i)];
        if (m.height == 0) continue;
        std::string name = safe_id(target_.id(i)) + ".png";
        LabelMap l;
        l.height = int(m.height), l.width = int(m.width);
        l.values.assign(m.labels.begin(), m.labels.end());
        write_palette_png((fs::path(root) / "masks" / name).string(), l, palette);
        write_png((fs::path(root) / "active" / name).string(),
                  binary_image(m.active, m.height, m.width));
        write_png((fs::path(root) / "selected" / name).string(),
                  binary_image(m.selected, m.height, m.width));
    }
    if (world > 1) collectives().barrier(); // the others' masks first
    if (rank == 0)
        write_file_atomic((fs::path(root) / "summary.json").string(), "ripu",
                          summary.to_json() + "\n");
}

// A 0 / 255 map written by save_round -> 0 / 1.
static std::vector<uint8_t> read_binary(const std::string& path, int64_t H, int64_t W) {
    PG_CHECK(fs::exists(path), "ripu: ", path, " is missing (the run's acquisition round files)");
    Image im = read_image(path);
    PG_CHECK(im.height == H && im.width == W, "ripu: ", path, " is ", im.height, "x", im.width,
             ", expected ", H, "x", W, " like its mask");
    std::vector<uint8_t> bits(size_t(H * W));
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = im.pixels[i * 3] > 127;
    return bits;
}

// How many images round `root` labelled, from its summary.json.
static int64_t images_of_round(const std::string& root, const std::string& if_incomplete) {
    const std::string path = (fs::path(root) / "summary.json").string();
    std::ifstream in(path);
    PG_CHECK(in.good(), "ripu: ", path, " is missing (a round writes it last): ", if_incomplete);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    PG_CHECK(j.is_object() && j.contains("images") && j["images"].is_number_integer() &&
                 j["images"].get<int64_t>() >= 0,
             "ripu: ", path, " is not a round summary (no \"images\" count)");
    return j["images"].get<int64_t>();
}

void Acquisition::load_round(const std::string& dir, int64_t round,
                             const std::string& if_incomplete) {
    std::string root = round_dir(dir, round);
    PG_CHECK(fs::is_directory(root), "ripu: ", root, " is missing or not a folder (round ", round,
             " must have been selected into it)");
    // Every image the round labelled must come back: one left out would silently lose its labels.
    const int64_t labelled = images_of_round(root, if_incomplete);
    int64_t found = 0;
    std::string first_missing;
    std::vector<ActiveMaps> all(size_t(target_.size()));
    for (int64_t i = 0; i < target_.size(); ++i) {
        std::string name = safe_id(target_.id(i)) + ".png";
        std::string mask = (fs::path(root) / "masks" / name).string();
        if (!fs::exists(mask)) {
            if (first_missing.empty()) first_missing = mask;
            continue;
        }
        found++;
        LabelMap l = read_label_png(mask);
        ActiveMaps& m = all[size_t(i)];
        m = ActiveMaps::empty(l.height, l.width);
        for (size_t p = 0; p < m.labels.size(); ++p) {
            PG_CHECK(l.values[p] == 255 || (l.values[p] >= 0 && l.values[p] < num_classes_),
                     "ripu: ", mask, " holds ", l.values[p], ", expected a class (0..",
                     num_classes_ - 1, ") or 255");
            m.labels[p] = uint8_t(l.values[p]);
        }
        m.active = read_binary((fs::path(root) / "active" / name).string(), l.height, l.width);
        m.selected = read_binary((fs::path(root) / "selected" / name).string(), l.height, l.width);
    }
    PG_CHECK(found == labelled, "ripu: ", root, " holds the masks of ", found, " of the ", labelled,
             " images its summary.json says round ", round, " labelled",
             first_missing.empty() ? std::string() : " (" + first_missing + " is missing)",
             ": the round's files are incomplete (or dataset.target is not the list it labelled); ",
             if_incomplete);
    publish(std::move(all));
}

void Acquisition::write_overlays(const std::string& dir, int64_t round, int count) const {
    fs::path out = fs::path(round_dir(dir, round)) / "overlays";
    fs::create_directories(out);
    std::shared_ptr<const std::vector<ActiveMaps>> all = maps();
    Palette palette = palette_for(num_classes_);
    for (int64_t i = 0; i < std::min<int64_t>(count, target_.size()); ++i) {
        const ActiveMaps& m = (*all)[size_t(i)];
        Image image = target_.load(i).image;
        if (m.height != image.height || m.width != image.width) continue;
        // image | the labelled pixels in their class colour over the image dimmed to 35%.
        Image right = image;
        for (size_t p = 0; p < m.labels.size(); ++p)
            for (int c = 0; c < 3; ++c) {
                uint8_t& v = right.pixels[p * 3 + size_t(c)];
                bool shown = m.selected[p] && m.labels[p] != 255;
                v = shown ? palette[m.labels[p]][size_t(c)] : uint8_t(0.35f * float(v));
            }
        Image row;
        row.height = image.height, row.width = 2 * image.width + kSeparatorWidth, row.channels = 3;
        row.pixels.assign(size_t(row.height) * size_t(row.width) * 3, kSeparatorColour[0]);
        for (int y = 0; y < image.height; ++y)
            for (int x = 0; x < image.width; ++x)
                for (int c = 0; c < 3; ++c) {
                    size_t src = (size_t(y) * size_t(image.width) + size_t(x)) * 3 + size_t(c);
                    row.pixels[(size_t(y) * size_t(row.width) + size_t(x)) * 3 + size_t(c)] =
                        image.pixels[src];
                    row.pixels[(size_t(y) * size_t(row.width) +
                                size_t(x + image.width + kSeparatorWidth)) *
                                   3 +
                               size_t(c)] = right.pixels[src];
                }
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "%03lld_", (long long)i);
        write_png((out / (prefix + safe_id(target_.id(i)) + ".png")).string(), row);
    }
}

} // namespace pg::seg::ripu
