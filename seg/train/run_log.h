// What a training run tells the world while it runs: metrics.jsonl (one JSON object per line,
// "type": "train" rows averaged over the logging window: "loss" and its terms under "losses",
// "loss_<part>" for another part's objective, "lr_<part>" per trained part, the method's extra
// figures; "type": "eval" rows; the format that seg/report.h draws), and the terminal progress
// line (step, epoch, it/s, ETA, losses, lr, memory).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "seg/train/method.h"

namespace pg::seg {

// Appends rows to RUN_DIR/metrics.jsonl, flushed line by line so a crash loses nothing written.
class MetricsLog {
  public:
    // resume_step >= 0: rows of a previous run with step > resume_step (logged after the
    // checkpoint being resumed) are dropped first, so the file reads as one uninterrupted run;
    // with redo_eval also the evaluation row of resume_step (an evaluation to be run again).
    MetricsLog(const std::string& path, int64_t resume_step, bool redo_eval = false);
    void write(const std::string& json_object_line);

  private:
    std::string path_;
    std::ofstream out_;
};

// Sums a window of steps' StepLogs for the averaged "train" row and the progress line.
class StepWindow {
  public:
    void add(const StepLog& log, double total_loss);
    bool empty() const { return steps_ == 0; }
    int64_t steps() const { return steps_; }
    // The window's steps this process ran (not those restored from a state): what its time is of.
    int64_t timed_steps() const { return timed_steps_; }
    double mean_loss() const { return loss_sum_ / double(steps_); }
    // name -> mean over the window, in first-seen order.
    std::vector<std::pair<std::string, double>> mean_losses() const;
    std::vector<std::pair<std::string, double>> mean_part_losses() const;
    std::vector<std::pair<std::string, double>> mean_extra() const;
    void clear();
    // The window in a training state's numbers ("<prefix>steps", "<prefix>loss", one entry per
    // term in first-seen order), so a run resumed mid-window logs the rows an uninterrupted run
    // logs. restore() of a state without them leaves the window empty.
    void save(std::map<std::string, double>& numbers, const std::string& prefix) const;
    void restore(const std::map<std::string, double>& numbers, const std::string& prefix);

  private:
    int64_t steps_ = 0, timed_steps_ = 0;
    double loss_sum_ = 0;
    std::vector<std::pair<std::string, double>> losses_, part_losses_, extra_;
};

struct TrainRow {
    int64_t step = 0, epoch = 0;                     // step: optimizer steps done (1-based)
    std::vector<std::pair<std::string, double>> lrs; // "lr_<part>" -> lr; the model's first
    double it_per_s = 0, mem_mib = 0;
};
std::string train_row_json(const TrainRow& row, const StepWindow& window);

// "step 120/400  ep 3  4.2 it/s  ETA 1m06s  loss 0.712 (sup 0.712)  lr 9.30e-03  mem 512 MiB"
std::string progress_line(const TrainRow& row, int64_t total_steps, const StepWindow& window);
// 75 -> "1m15s", 4000 -> "1h06m"
std::string format_duration(double seconds);

} // namespace pg::seg
