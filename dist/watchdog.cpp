// The hang watchdog of the collectives (dist/watchdog.h).
#include "dist/watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::dist {

double collective_timeout_s() {
    const char* v = std::getenv("PG_COLLECTIVE_TIMEOUT");
    if (v == nullptr) return 1800.0;
    char* end = nullptr;
    const double seconds = std::strtod(v, &end);
    PG_CHECK(end != v && *end == '\0' && seconds > 0, "PG_COLLECTIVE_TIMEOUT is '", v,
             "'; expected a positive number of seconds");
    return seconds;
}

Watchdog::Watchdog(int rank, int world, Probe probe, double timeout_s,
                   std::function<void(const std::string&)> end)
    : rank_(rank), world_(world), probe_(std::move(probe)), timeout_s_(timeout_s),
      end_(std::move(end)) {
    thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

std::string Watchdog::line(const char* name, double waited) const {
    char text[400];
    if (const int signal = stop_signal_noted(); signal != 0)
        std::snprintf(text, sizeof(text),
                      "pixelgrad: rank %d of %d, told to stop (signal %d), has waited %.0f s in %s "
                      "for processes that have ended or hang; ending\n",
                      rank_, world_, signal, waited, name);
    else
        std::snprintf(text, sizeof(text),
                      "pixelgrad: error (rank %d of %d): %s has waited %.0f s for the other "
                      "processes (PG_COLLECTIVE_TIMEOUT %g s): one of them hangs; ending the "
                      "run\n",
                      rank_, world_, name, waited, timeout_s_);
    return text;
}

// The wait is counted in ticks of at most 1 s: time this process spent stopped (SIGSTOP, a
// debugger) is not time spent waiting for the others, and a hung process that is resumed (mpirun
// sends SIGCONT as it ends the run) must not blame them for its own stop.
void Watchdog::watch() {
    using Clock = std::chrono::steady_clock;
    std::unique_lock<std::mutex> lock(mutex_);
    Clock::time_point last = Clock::now();
    CollectiveWait watched;
    double waited = 0;
    while (!stopping_) {
        wake_.wait_for(lock, std::chrono::milliseconds(200));
        const Clock::time_point now = Clock::now();
        const double tick = std::chrono::duration<double>(now - last).count();
        last = now;
        const CollectiveWait wait = probe_();
        if (wait.name == nullptr) {
            watched = CollectiveWait();
            continue;
        }
        if (watched.name == nullptr || wait.id != watched.id) { // a new wait starts at 0
            watched = wait;
            waited = 0;
        }
        waited += std::min(tick, 1.0);
        if (waited < timeout_s_) continue;
        const std::string text = line(wait.name, waited);
        if (end_) {
            end_(text);
            return; // once
        }
        std::fputs(text.c_str(), stderr);
        std::fflush(stderr);
        std::_Exit(1); // mpirun then ends every other process
    }
}

MarkedWait::InFlight::InFlight(MarkedWait& w, const char* name) : wait(w) {
    std::lock_guard<std::mutex> lock(wait.mutex_);
    wait.current_ = CollectiveWait{name, ++wait.waits_};
}

MarkedWait::InFlight::~InFlight() {
    std::lock_guard<std::mutex> lock(wait.mutex_);
    wait.current_ = CollectiveWait();
}

CollectiveWait MarkedWait::now() {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
}

} // namespace pg::dist
