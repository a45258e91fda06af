// ConfusionMatrix (seg/metrics.h).
#include "seg/metrics.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "tensor/error.h"

namespace pg::seg {

ConfusionMatrix::ConfusionMatrix(int num_classes, int ignore_index)
    : classes_(num_classes), ignore_(ignore_index), counts_(size_t(num_classes) * num_classes, 0) {
    PG_CHECK(num_classes >= 1, "ConfusionMatrix: num_classes must be >= 1, got ", num_classes);
}

void ConfusionMatrix::add(const Tensor& prediction, const Tensor& truth) {
    PG_CHECK(prediction.shape() == truth.shape(), "ConfusionMatrix::add: prediction ",
             shape_str(prediction.shape()), " and truth ", shape_str(truth.shape()),
             " differ in shape");
    add(prediction.to(Device::cpu()).to_i32_vector(), truth.to(Device::cpu()).to_i32_vector());
}

void ConfusionMatrix::add(const std::vector<int32_t>& prediction,
                          const std::vector<int32_t>& truth) {
    PG_CHECK(prediction.size() == truth.size(), "ConfusionMatrix::add: ", prediction.size(),
             " predictions for ", truth.size(), " labels");
    for (size_t i = 0; i < truth.size(); i++) {
        int32_t t = truth[i], p = prediction[i];
        if (t == ignore_) continue;
        PG_CHECK(t >= 0 && t < classes_, "ConfusionMatrix::add: label ", t, " at pixel ", i,
                 " is outside [0, ", classes_, ") and is not the ignore label ", ignore_);
        PG_CHECK(p >= 0 && p < classes_, "ConfusionMatrix::add: prediction ", p, " at pixel ", i,
                 " is outside [0, ", classes_, ")");
        counts_[size_t(t) * classes_ + p]++;
    }
}

std::vector<double> ConfusionMatrix::iou() const {
    std::vector<double> out(static_cast<size_t>(classes_));
    for (int c = 0; c < classes_; c++) {
        int64_t tp = count(c, c), truth = 0, predicted = 0;
        for (int k = 0; k < classes_; k++) {
            truth += count(c, k);
            predicted += count(k, c);
        }
        int64_t uni = truth + predicted - tp;
        out[size_t(c)] =
            uni == 0 ? std::numeric_limits<double>::quiet_NaN() : double(tp) / double(uni);
    }
    return out;
}

double ConfusionMatrix::mean_iou() const {
    double sum = 0;
    int n = 0;
    for (double v : iou())
        if (!std::isnan(v)) {
            sum += v;
            n++;
        }
    return n == 0 ? 0.0 : sum / n;
}

int64_t ConfusionMatrix::total() const {
    return std::accumulate(counts_.begin(), counts_.end(), int64_t(0));
}

double ConfusionMatrix::pixel_accuracy() const {
    int64_t correct = 0;
    for (int t = 0; t < classes_; t++) correct += count(t, t);
    const int64_t all = total();
    return all == 0 ? 0.0 : double(correct) / double(all);
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
    PG_CHECK(other.classes_ == classes_, "ConfusionMatrix::merge: ", other.classes_,
             " classes into ", classes_);
    for (size_t i = 0; i < counts_.size(); i++) counts_[i] += other.counts_[i];
}

std::string ConfusionMatrix::to_json(const std::vector<std::string>& class_names) const {
    nlohmann::json j;
    j["miou"] = mean_iou();
    j["pixel_accuracy"] = pixel_accuracy();
    j["iou"] = nlohmann::json::array();
    for (double v : iou()) j["iou"].push_back(std::isnan(v) ? nlohmann::json() : nlohmann::json(v));
    if (!class_names.empty()) j["class_names"] = class_names;
    return j.dump();
}

} // namespace pg::seg
