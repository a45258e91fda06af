// The run report (seg/report.h): reads the run directory into curves and tables, then writes the
// page top to bottom: header facts, notes (missing files, skipped lines), training and
// validation charts, small charts of the other numeric fields, the per-class IoU table, the
// sample overlays and the config. Everything read from disk is escaped before it enters the page.
#include "seg/report.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "seg/svg_chart.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg {

namespace fs = std::filesystem;
// Ordered: loss terms and eval fields appear in the order the run wrote them.
using json = nlohmann::ordered_json;

namespace {

constexpr int kMaxOverlays = 24;                 // images embedded; the rest are counted
constexpr uintmax_t kMaxOverlayBytes = 8u << 20; // a larger PNG is listed, not embedded
constexpr int kOverlayDisplayWidth = 960;        // small rows are scaled up towards this

// The whole file, or false when it is missing or unreadable.
bool read_file(const fs::path& path, std::string* bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream out;
    out << in.rdbuf();
    *bytes = out.str();
    return true;
}

// JSON has no NaN or infinity, but Python writes NaN/Infinity/-Infinity and printf nan/inf.
// Outside strings such a word (and its minus sign) becomes null, so the line still parses and
// the value is skipped like any null.
std::string nan_to_null(const std::string& line) {
    std::string out;
    bool in_string = false;
    for (size_t i = 0; i < line.size(); i++) {
        char c = line[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < line.size())
                out += line[++i];
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        if (!std::isalpha(static_cast<unsigned char>(c))) {
            out += c;
            continue;
        }
        size_t end = i;
        while (end < line.size() && std::isalpha(static_cast<unsigned char>(line[end]))) end++;
        std::string word = line.substr(i, end - i), lower = word;
        for (char& l : lower) l = char(std::tolower(static_cast<unsigned char>(l)));
        if (lower == "nan" || lower == "inf" || lower == "infinity") {
            if (!out.empty() && out.back() == '-') out.pop_back();
            word = "null";
        }
        out += word;
        i = end - 1;
    }
    return out;
}

// A number, or NaN for null (present but not plottable); false for anything else.
bool numeric(const json& j, double* value) {
    if (j.is_number()) return *value = j.get<double>(), true;
    if (j.is_null()) return *value = NAN, true;
    return false;
}

// obj[key] when it is a number, else NaN.
double number_at(const json& obj, const char* key) {
    return obj.is_object() && obj.contains(key) && obj[key].is_number() ? obj[key].get<double>()
                                                                        : NAN;
}

// What eval.json holds: training writes the best checkpoint's evaluation ("checkpoint": "best").
std::string eval_title(const json& eval) {
    if (eval.value("checkpoint", json()) != "best") return "eval.json";
    const double step = number_at(eval, "step");
    return std::isnan(step) ? "best checkpoint's eval"
                            : "best checkpoint's eval, step " + std::to_string(int64_t(step));
}

// Curves by name, in the order the names first appear.
struct Curves {
    std::vector<ChartSeries> series;
    void add(const std::string& name, double x, double y) {
        auto it = std::find_if(series.begin(), series.end(),
                               [&](const ChartSeries& s) { return s.name == name; });
        if (it == series.end()) it = series.insert(series.end(), ChartSeries{name, {}, {}});
        it->x.push_back(x);
        it->y.push_back(y);
    }
};

// Everything metrics.jsonl says.
struct MetricLog {
    bool present = false;
    int train_rows = 0, eval_rows = 0, skipped = 0, other_rows = 0;
    Curves losses, lr, val, extra; // extra: one small chart per series
    double last_step = NAN, last_epoch = NAN, best_miou = NAN, best_step = NAN;
    double last_miou = NAN, last_eval_step = NAN; // the last validation's
    double first_step = NAN, max_step = NAN;      // the x range every chart shares
    json last_iou;                                // the last validation's per-class IoU
    std::string modified;
};

void add_train_row(const json& row, double step, MetricLog& log) {
    static const char* const known[] = {"type", "step", "epoch", "loss", "losses", "lr"};
    double v = NAN;
    const json* losses =
        row.contains("losses") && row["losses"].is_object() ? &row["losses"] : nullptr;
    if (losses)
        for (const auto& [name, value] : losses->items())
            if (numeric(value, &v)) log.losses.add(name, step, v);
    // The total is its own curve when there is no breakdown or the breakdown has several terms.
    if (row.contains("loss") && numeric(row["loss"], &v) && (!losses || losses->size() > 1))
        log.losses.add(losses ? "total" : "loss", step, v);
    if (row.contains("lr") && numeric(row["lr"], &v)) log.lr.add("lr", step, v); // older runs
    for (const auto& [name, value] : row.items()) {
        if (std::find(std::begin(known), std::end(known), name) != std::end(known)) continue;
        // "lr_<part>": one curve per trained part on the learning-rate chart.
        if (name.rfind("lr_", 0) == 0 && numeric(value, &v)) {
            log.lr.add(name.substr(3), step, v);
            continue;
        }
        if (numeric(value, &v)) log.extra.add(name, step, v);
    }
    log.train_rows++;
}

void add_eval_row(const json& row, double step, MetricLog& log) {
    static const char* const known[] = {"type", "step", "epoch", "miou", "pixel_accuracy", "iou"};
    double v = NAN;
    if (row.contains("miou") && numeric(row["miou"], &v)) {
        log.val.add("mIoU", step, 100 * v);
        if (std::isfinite(v) && !(v <= log.best_miou)) log.best_miou = v, log.best_step = step;
        log.last_miou = v;
        log.last_eval_step = step;
    }
    if (row.contains("pixel_accuracy") && numeric(row["pixel_accuracy"], &v))
        log.val.add("pixel accuracy", step, 100 * v);
    if (row.contains("iou") && row["iou"].is_array()) log.last_iou = row["iou"];
    for (const auto& [name, value] : row.items()) {
        if (std::find(std::begin(known), std::end(known), name) != std::end(known)) continue;
        if (numeric(value, &v)) log.extra.add("val " + name, step, v);
    }
    log.eval_rows++;
}

// Local time of the file's last write: the date of the last metric.
std::string modified_time(const fs::path& path) {
    std::error_code ec;
    fs::file_time_type written = fs::last_write_time(path, ec);
    if (ec) return "";
    // C++17 has no clock_cast: carry the file's age over to the system clock.
    auto age = fs::file_time_type::clock::now() - written;
    auto when = std::chrono::system_clock::now() -
                std::chrono::duration_cast<std::chrono::system_clock::duration>(age);
    std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm local{};
    localtime_r(&t, &local);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &local);
    return buf;
}

MetricLog read_metrics(const fs::path& path) {
    MetricLog log;
    std::ifstream in(path, std::ios::binary);
    if (!in) return log;
    log.present = true;
    log.modified = modified_time(path);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        json row = json::parse(nan_to_null(line), nullptr, /*allow_exceptions=*/false);
        double step = number_at(row, "step");
        if (!row.is_object() || !row.contains("type") || !row["type"].is_string() ||
            std::isnan(step)) {
            log.skipped++; // not JSON (a line cut off mid-write), or no type or step
            continue;
        }
        std::string type = row["type"].get<std::string>();
        if (type == "train")
            add_train_row(row, step, log);
        else if (type == "eval")
            add_eval_row(row, step, log);
        else
            log.other_rows++;
        if (type != "train" && type != "eval") continue;
        log.last_step = step;
        if (!(step >= log.first_step)) log.first_step = step;
        if (!(step <= log.max_step)) log.max_step = step;
        if (!std::isnan(number_at(row, "epoch"))) log.last_epoch = number_at(row, "epoch");
    }
    return log;
}

std::string percent(double fraction) {
    if (!std::isfinite(fraction)) return "n/a";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f %%", 100 * fraction);
    return buf;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", v);
    return buf;
}

// A scalar JSON value as page text ("sliding", 0.5, true).
std::string scalar_text(const json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_number()) return number(j.get<double>());
    return j.dump();
}

const char* const kStyle = R"(<style>
body{font-family:sans-serif;max-width:1000px;margin:24px auto;padding:0 16px;color:#222}
h1{margin:0 0 8px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table.facts td{padding:2px 16px 2px 0}table.facts td:first-child{color:#666}
ul.notes{background:#fff8e1;border:1px solid #f0d98c;padding:8px 12px 8px 32px}
svg.chart{max-width:100%;height:auto;display:block;margin:8px 0}
.warn{color:#b00020}
div.small{display:flex;flex-wrap:wrap;gap:8px}
table.iou{border-collapse:collapse}table.iou th,table.iou td{padding:3px 12px;border-bottom:1px solid #eee;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.absent{color:#999}
div.bar{width:220px;height:10px;background:#eee}div.bar span{display:block;height:10px;background:#4e79a7}
figure{margin:12px 0}figure img{image-rendering:pixelated;max-width:100%;border:1px solid #ccc}
figcaption{color:#555;font-size:13px}pre{background:#f6f6f6;padding:12px;overflow:auto;font-size:12px}
footer{margin-top:32px;color:#888;font-size:12px}
</style>
)";

void write_header(std::ostringstream& out, const std::string& name, const MetricLog& log,
                  const json& eval) {
    out << "<h1>" << html_escape(name) << "</h1>\n<table class=\"facts\">\n";
    auto fact = [&](const std::string& key, const std::string& value) {
        out << "<tr><td>" << key << "</td><td>" << value << "</td></tr>\n";
    };
    if (!log.modified.empty()) fact("last metric", html_escape(log.modified));
    if (std::isfinite(log.last_step)) {
        std::string s = "step " + number(log.last_step);
        if (std::isfinite(log.last_epoch)) s += ", epoch " + number(log.last_epoch);
        fact("progress", s);
    }
    if (log.present)
        fact("rows", std::to_string(log.train_rows) + " train, " + std::to_string(log.eval_rows) +
                         " validation");
    if (std::isfinite(log.best_miou))
        fact("best val mIoU",
             "<b>" + percent(log.best_miou) + "</b> at step " + number(log.best_step));
    if (!std::isnan(log.last_eval_step) && log.last_eval_step != log.best_step)
        fact("last val mIoU", percent(log.last_miou) + " at step " + number(log.last_eval_step));
    if (eval.is_object()) {
        std::string s = "mIoU <b>" + percent(number_at(eval, "miou")) + "</b>";
        if (!std::isnan(number_at(eval, "pixel_accuracy")))
            s += ", pixel accuracy " + percent(number_at(eval, "pixel_accuracy"));
        fact(eval_title(eval), s);
        for (const auto& [key, value] : eval.items())
            if (key != "miou" && key != "pixel_accuracy" && !value.is_structured())
                fact(html_escape(key), html_escape(scalar_text(value)));
    }
    out << "</table>\n";
}

// AdvSemiSeg's D loss (the mean of BCE on fakes and on ground truth) in a balanced game sits near
// 0.2-0.5 (ln 2 = 0.69 is a D that guesses); far below, D wins and G's adversarial gradient
// vanishes; far above, D has lost. Its chart shades the band; this line says how long the run
// stayed outside it, in the second half of the logged steps (after D's start-up).
const double kDLossHealthy[2] = {0.2, 0.5};

std::string discriminator_verdict(const ChartSeries& s) {
    size_t from = s.y.size() / 2, below = 0, above = 0, n = 0;
    for (size_t i = from; i < s.y.size(); i++) {
        if (!std::isfinite(s.y[i])) continue;
        n++;
        below += s.y[i] < kDLossHealthy[0];
        above += s.y[i] > kDLossHealthy[1];
    }
    if (n == 0) return "";
    char line[320];
    if (below + above == 0) {
        std::snprintf(line, sizeof line,
                      "<p>D loss inside its healthy band (%.1f-%.1f) over the second half of the "
                      "run.</p>\n",
                      kDLossHealthy[0], kDLossHealthy[1]);
    } else {
        std::snprintf(line, sizeof line,
                      "<p class=\"warn\"><b>D loss outside its healthy band (%.1f-%.1f)</b> at "
                      "%.0f%% of the logged steps of the second half: %.0f%% below (D wins, G's "
                      "adversarial gradient fades), %.0f%% above (D has lost).</p>\n",
                      kDLossHealthy[0], kDLossHealthy[1], 100.0 * double(below + above) / double(n),
                      100.0 * double(below) / double(n), 100.0 * double(above) / double(n));
    }
    return line;
}

// A chart over the run's whole step range, so that the charts of a page line up.
ChartSpec run_chart(const MetricLog& log, const std::string& title, const std::string& y_label,
                    const std::vector<ChartSeries>& series) {
    ChartSpec spec{title, "step", y_label, series};
    spec.x_min = log.first_step, spec.x_max = log.max_step;
    return spec;
}

void write_charts(std::ostringstream& out, const MetricLog& log) {
    if (!log.losses.series.empty() || !log.lr.series.empty()) out << "<h2>Training</h2>\n";
    if (!log.losses.series.empty())
        out << line_chart(run_chart(log, "Training loss", "loss", log.losses.series)) << "\n";
    if (!log.lr.series.empty())
        out << line_chart(run_chart(log, "Learning rate", "lr", log.lr.series)) << "\n";
    if (!log.val.series.empty()) {
        ChartSpec spec = run_chart(log, "Validation", "%", log.val.series);
        spec.y_min = 0;
        out << "<h2>Validation</h2>\n" << line_chart(spec) << "\n";
    }
    if (log.extra.series.empty()) return;
    out << "<h2>Other metrics</h2>\n";
    for (const ChartSeries& s : log.extra.series)
        if (s.name == "loss_discriminator") out << discriminator_verdict(s);
    out << "<div class=\"small\">\n";
    for (const ChartSeries& s : log.extra.series) {
        ChartSpec spec = run_chart(log, s.name, "", {s});
        spec.width = 480, spec.height = 220;
        if (s.name == "loss_discriminator")
            spec.band_low = kDLossHealthy[0], spec.band_high = kDLossHealthy[1];
        out << line_chart(spec) << "\n";
    }
    out << "</div>\n";
}

// class | IoU % | bar, one row per class; null (absent from truth and prediction) shows as such.
void write_iou_table(std::ostringstream& out, const json& iou, const json& names, double miou) {
    out << "<table class=\"iou\">\n<tr><th>#</th><th>class</th><th>IoU</th><th></th></tr>\n";
    for (size_t c = 0; c < iou.size(); c++) {
        std::string name = "class " + std::to_string(c);
        if (names.is_array() && c < names.size() && names[c].is_string())
            name = names[c].get<std::string>();
        out << "<tr><td class=\"num\">" << c << "</td><td>" << html_escape(name) << "</td>";
        if (!iou[c].is_number()) {
            out << "<td class=\"absent\">absent</td><td></td></tr>\n";
            continue;
        }
        double v = std::clamp(iou[c].get<double>(), 0.0, 1.0);
        char width[32];
        std::snprintf(width, sizeof(width), "%.1f%%", 100 * v);
        out << "<td class=\"num\">" << percent(iou[c].get<double>())
            << "</td><td><div class=\"bar\"><span style=\"width:" << width
            << "\"></span></div></td></tr>\n";
    }
    if (std::isfinite(miou))
        out << "<tr><td></td><td><b>mean</b></td><td class=\"num\"><b>" << percent(miou)
            << "</b></td><td></td></tr>\n";
    out << "</table>\n";
}

// Width of a PNG from its IHDR chunk (bytes 16..19, big-endian); 0 when not a PNG.
int png_width(const std::string& bytes) {
    static const char signature[] = "\x89PNG\r\n\x1a\n";
    if (bytes.size() < 24 || bytes.compare(0, 8, signature, 8) != 0) return 0;
    auto b = [&](int i) { return uint32_t(static_cast<unsigned char>(bytes[i])); };
    return int(b(16) << 24 | b(17) << 16 | b(18) << 8 | b(19));
}

// The PNGs of `dir` (named `label` in notes) under `heading` with `caption`.
void write_overlays(std::ostringstream& out, const fs::path& dir, const std::string& label,
                    const std::string& heading, const std::string& caption,
                    std::vector<std::string>& notes) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.is_regular_file(ec) && entry.path().extension() == ".png")
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        notes.push_back(label + " holds no PNG files");
        return;
    }
    out << "<h2>" << html_escape(heading) << "</h2>\n<p>" << html_escape(caption) << "</p>\n";
    for (size_t i = 0; i < files.size() && i < size_t(kMaxOverlays); i++) {
        std::string name = files[i].filename().string(), bytes;
        if (fs::file_size(files[i], ec) > kMaxOverlayBytes || !read_file(files[i], &bytes) ||
            png_width(bytes) <= 0) {
            notes.push_back(label + name + " is not a readable PNG of at most 8 MB");
            continue;
        }
        int width = png_width(bytes);
        int shown = width * std::clamp(kOverlayDisplayWidth / width, 1, 4);
        out << "<figure><img width=\"" << shown << "\" alt=\"" << html_escape(name)
            << "\" src=\"data:image/png;base64," << base64_encode(bytes) << "\"><figcaption>"
            << html_escape(name) << "</figcaption></figure>\n";
    }
    if (files.size() > size_t(kMaxOverlays))
        out << "<p>" << files.size() - kMaxOverlays << " more overlays not shown.</p>\n";
}

// RIPU's acquisition rounds: ripu/round_<r>/overlays with the round's summary.json, in round order.
void write_rounds(std::ostringstream& out, const fs::path& ripu, std::vector<std::string>& notes) {
    for (int r = 1; r < 1000; ++r) {
        fs::path round = ripu / ("round_" + std::to_string(r));
        if (!fs::is_directory(round)) return;
        std::string text, caption = "image | the labelled pixels in their class colours";
        json s =
            read_file(round / "summary.json", &text) ? json::parse(text, nullptr, false) : json();
        if (s.is_object())
            caption += " (" + number(number_at(s, "labelled_percent")) +
                       "% of the target pixels "
                       "labelled, budget " +
                       number(number_at(s, "budget_percent")) + "%)";
        std::string label = "ripu/round_" + std::to_string(r) + "/overlays/";
        if (fs::is_directory(round / "overlays"))
            write_overlays(out, round / "overlays", label, "Acquisition round " + std::to_string(r),
                           caption, notes);
    }
}

// The run's name: the directory's own name, also for "runs/a/" and ".".
std::string run_name(const std::string& run_dir) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(run_dir), ec);
    if (ec) p = fs::path(run_dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    return p.filename().string();
}

} // namespace

std::string base64_encode(const std::string& bytes) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    // Each 3 bytes (24 bits) -> 4 characters of 6 bits; a short tail is padded with '='.
    for (size_t i = 0; i < bytes.size(); i += 3) {
        size_t n = std::min<size_t>(3, bytes.size() - i);
        uint32_t v = 0;
        for (size_t k = 0; k < 3; k++)
            v = v << 8 | (k < n ? uint32_t(static_cast<unsigned char>(bytes[i + k])) : 0u);
        for (size_t k = 0; k < 4; k++) out += k <= n ? table[(v >> (18 - 6 * k)) & 63] : '=';
    }
    return out;
}

std::string render_report(const std::string& run_dir, std::vector<std::string>* notes_out) {
    const fs::path dir(run_dir);
    PG_CHECK(fs::is_directory(dir), "report: run directory '", run_dir,
             "' does not exist or is not a directory");
    std::vector<std::string> notes;
    MetricLog log = read_metrics(dir / "metrics.jsonl");
    if (!log.present)
        notes.push_back("metrics.jsonl is missing: no curves");
    else if (log.train_rows + log.eval_rows == 0)
        notes.push_back("metrics.jsonl has no rows");
    if (log.skipped > 0)
        notes.push_back(std::to_string(log.skipped) +
                        " malformed line(s) of metrics.jsonl skipped (not JSON, or no type/step)");
    if (log.other_rows > 0)
        notes.push_back(std::to_string(log.other_rows) + " row(s) of another type ignored");

    json eval;
    std::string text;
    if (!read_file(dir / "eval.json", &text)) {
        notes.push_back("eval.json is missing: no evaluation of the best checkpoint yet");
    } else {
        eval = json::parse(nan_to_null(text), nullptr, false);
        if (!eval.is_object()) notes.push_back("eval.json is not a JSON object: ignored");
        if (!eval.is_object()) eval = json();
    }
    std::string config;
    bool has_config = read_file(dir / "config.yaml", &config);
    if (!has_config) notes.push_back("config.yaml is missing");

    std::ostringstream body;
    write_charts(body, log);
    if (eval.contains("iou") && eval["iou"].is_array()) {
        body << "<h2>Per-class IoU (" << eval_title(eval) << ")</h2>\n";
        write_iou_table(body, eval["iou"], eval.value("class_names", json()),
                        number_at(eval, "miou"));
    } else if (log.last_iou.is_array()) {
        body << "<h2>Per-class IoU (last validation)</h2>\n";
        write_iou_table(body, log.last_iou, json(), NAN);
    }
    if (fs::is_directory(dir / "overlays"))
        write_overlays(body, dir / "overlays", "overlays/", "Samples", "image | truth | prediction",
                       notes);
    else
        notes.push_back("overlays/ is missing: no sample images");
    write_rounds(body, dir / "ripu", notes);
    if (has_config)
        body << "<h2>Config</h2>\n<details><summary>config.yaml</summary><pre>"
             << html_escape(config) << "</pre></details>\n";

    std::string name = run_name(run_dir);
    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
         << html_escape(name) << " - pixelgrad report</title>\n"
         << kStyle << "</head>\n<body>\n";
    write_header(page, name, log, eval);
    if (!notes.empty()) {
        page << "<ul class=\"notes\">\n";
        for (const std::string& n : notes) page << "<li>" << html_escape(n) << "</li>\n";
        page << "</ul>\n";
    }
    page << body.str() << "<footer>pixelgrad report</footer>\n</body>\n</html>\n";
    if (notes_out) *notes_out = notes;
    return page.str();
}

std::vector<std::string> write_report(const std::string& run_dir) {
    std::vector<std::string> notes;
    std::string html = render_report(run_dir, &notes);
    write_file_atomic((fs::path(run_dir) / "report.html").string(), "report", html);
    return notes;
}

} // namespace pg::seg
