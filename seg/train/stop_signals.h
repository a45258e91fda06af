// Ctrl-C and SIGTERM for the training loop: the first SIGINT / SIGTERM asks the loop to stop once
// the step in progress is done (it writes `last`, says how to resume, and the binary exits
// 128 + signal: 130 / 143); a second one ends the process at once (the default action).
#pragma once

#include <memory>

namespace pg::seg {

// Installs the handlers for its lifetime and restores the previous ones. The handler only records
// the signal (tensor/collectives.h's note_stop_signal, which the collectives' watchdog reads too).
class StopSignals {
  public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
    int received() const; // 0, SIGINT or SIGTERM
    // The signal every process acts on: the largest any has received (mpirun forwards a Ctrl-C
    // to all, but each sees it at its own moment, and a process that stopped alone would leave
    // the others waiting in their next all-reduce). Call at the same points on every process.
    int agreed() const;

  private:
    struct Saved;
    std::unique_ptr<Saved> saved_; // the handlers to restore
};

} // namespace pg::seg
