// MetricsLog, StepWindow and the progress line (seg/train/run_log.h).
#include "seg/train/run_log.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg {

namespace fs = std::filesystem;

// Keeps the lines of `path` whose "step" is <= max_step, but for an evaluation at max_step when
// drop_eval_at_max (unparsable lines are dropped too: they can only be the torn last line of a
// killed run), rewritten through a temporary file.
static void truncate_after(const std::string& path, int64_t max_step, bool drop_eval_at_max) {
    std::ifstream in(path);
    if (!in) return;
    std::string line, kept;
    while (std::getline(in, line)) {
        nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) continue;
        const int64_t step = j["step"].get<int64_t>();
        if (step < max_step ||
            (step == max_step && !(drop_eval_at_max && j.value("type", "") == "eval")))
            kept += line + "\n";
    }
    in.close();
    write_file_atomic(path, "metrics", kept);
}

MetricsLog::MetricsLog(const std::string& path, int64_t resume_step, bool redo_eval) : path_(path) {
    if (resume_step >= 0) truncate_after(path, resume_step, redo_eval);
    out_.open(path, resume_step >= 0 ? std::ios::app : std::ios::trunc);
    PG_CHECK(out_.good(), "metrics: cannot write ", path);
}

void MetricsLog::write(const std::string& json_object_line) {
    out_ << json_object_line << "\n";
    out_.flush();
    PG_CHECK(out_.good(), "metrics: writing ", path_, " failed (disk full?)");
}

static void accumulate(std::vector<std::pair<std::string, double>>& sums,
                       const std::vector<std::pair<std::string, double>>& values) {
    for (const auto& [name, value] : values) {
        auto it =
            std::find_if(sums.begin(), sums.end(), [&](const auto& p) { return p.first == name; });
        if (it == sums.end())
            sums.emplace_back(name, value);
        else
            it->second += value;
    }
}

void StepWindow::add(const StepLog& log, double total_loss) {
    ++steps_;
    ++timed_steps_;
    loss_sum_ += total_loss;
    accumulate(losses_, log.losses);
    accumulate(part_losses_, log.part_losses);
    accumulate(extra_, log.extra);
}

static std::vector<std::pair<std::string, double>>
divided(std::vector<std::pair<std::string, double>> sums, int64_t n) {
    for (auto& p : sums) p.second /= double(n);
    return sums;
}

std::vector<std::pair<std::string, double>> StepWindow::mean_losses() const {
    return divided(losses_, steps_);
}
std::vector<std::pair<std::string, double>> StepWindow::mean_part_losses() const {
    return divided(part_losses_, steps_);
}
std::vector<std::pair<std::string, double>> StepWindow::mean_extra() const {
    return divided(extra_, steps_);
}

void StepWindow::clear() { *this = StepWindow(); }

// Term i is stored as "<prefix><kind>.<iii>.<name>": the zero-padded index keeps the order in
// the (sorted) map of numbers.
static void save_terms(const std::vector<std::pair<std::string, double>>& terms,
                       std::map<std::string, double>& numbers, const std::string& prefix) {
    char index[32];
    for (size_t i = 0; i < terms.size(); i++) {
        std::snprintf(index, sizeof index, "%03zu.", i);
        numbers[prefix + index + terms[i].first] = terms[i].second;
    }
}

static std::vector<std::pair<std::string, double>>
restore_terms(const std::map<std::string, double>& numbers, const std::string& prefix) {
    std::vector<std::pair<std::string, double>> terms;
    for (auto it = numbers.lower_bound(prefix); it != numbers.end(); ++it) {
        if (it->first.compare(0, prefix.size(), prefix) != 0) break;
        terms.emplace_back(it->first.substr(prefix.size() + 4), it->second); // after "iii."
    }
    return terms;
}

void StepWindow::save(std::map<std::string, double>& numbers, const std::string& prefix) const {
    numbers[prefix + "steps"] = double(steps_);
    numbers[prefix + "loss"] = loss_sum_;
    save_terms(losses_, numbers, prefix + "losses.");
    save_terms(part_losses_, numbers, prefix + "part_losses.");
    save_terms(extra_, numbers, prefix + "extra.");
}

void StepWindow::restore(const std::map<std::string, double>& numbers, const std::string& prefix) {
    clear();
    auto steps = numbers.find(prefix + "steps");
    if (steps == numbers.end()) return;
    steps_ = int64_t(steps->second);
    loss_sum_ = numbers.at(prefix + "loss");
    losses_ = restore_terms(numbers, prefix + "losses.");
    part_losses_ = restore_terms(numbers, prefix + "part_losses.");
    extra_ = restore_terms(numbers, prefix + "extra.");
}

// NaN / inf are not JSON: written as null.
static nlohmann::json number(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

std::string train_row_json(const TrainRow& row, const StepWindow& window) {
    nlohmann::json j;
    j["type"] = "train";
    j["step"] = row.step;
    j["epoch"] = row.epoch;
    for (const auto& [name, v] : row.lrs) j[name] = v;
    j["loss"] = number(window.mean_loss());
    j["losses"] = nlohmann::json::object();
    for (const auto& [name, v] : window.mean_losses()) j["losses"][name] = number(v);
    for (const auto& [part, v] : window.mean_part_losses()) j["loss_" + part] = number(v);
    for (const auto& [name, v] : window.mean_extra()) j[name] = number(v);
    j["it_per_s"] = row.it_per_s;
    j["mem_mb"] = row.mem_mib;
    return j.dump();
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    int64_t s = int64_t(std::llround(seconds));
    char buf[32];
    if (s < 60)
        std::snprintf(buf, sizeof buf, "%llds", (long long)s);
    else if (s < 3600)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600),
                      (long long)(s / 60 % 60));
    return buf;
}

std::string progress_line(const TrainRow& row, int64_t total_steps, const StepWindow& window) {
    char buf[256];
    double eta = row.it_per_s > 0 ? double(total_steps - row.step) / row.it_per_s : NAN;
    std::snprintf(buf, sizeof buf, "step %lld/%lld  ep %lld  %.2f it/s  ETA %s  loss %.4f",
                  (long long)row.step, (long long)total_steps, (long long)row.epoch, row.it_per_s,
                  format_duration(eta).c_str(), window.mean_loss());
    std::string line = buf;
    std::vector<std::pair<std::string, double>> terms = window.mean_losses();
    if (terms.size() > 1 || (terms.size() == 1 && terms[0].first != "loss")) {
        line += " (";
        for (size_t i = 0; i < terms.size(); ++i) {
            std::snprintf(buf, sizeof buf, "%s%s %.4f", i ? ", " : "", terms[i].first.c_str(),
                          terms[i].second);
            line += buf;
        }
        line += ")";
    }
    for (const auto& [part, v] : window.mean_part_losses()) {
        std::snprintf(buf, sizeof buf, "  %s loss %.4f", part.c_str(), v);
        line += buf;
    }
    std::snprintf(buf, sizeof buf, "  lr %.2e  mem %.0f MiB",
                  row.lrs.empty() ? 0.0 : row.lrs[0].second, row.mem_mib);
    return line + buf;
}

} // namespace pg::seg
