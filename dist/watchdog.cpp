// The hang watchdog of the collectives (dist/watchdog.h): one thread asks the probe, another counts
// how long the same wait has lasted and ends the process past the timeout.
#include "dist/watchdog.h"

#include <algorithm>
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
    : rank_(rank), world_(world), timeout_s_(timeout_s), end_(std::move(end)),
      shared_(std::make_shared<Shared>()) {
    shared_->probe = std::move(probe);
    asker_ = std::thread([shared = shared_] { ask(shared); });
    watcher_ = std::thread([this] { watch(); });
}

// The probe's thread gets 1 s to come back; one stuck in the driver is left behind.
Watchdog::~Watchdog() {
    std::unique_lock<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
    shared_->wake.notify_all();
    const bool back =
        shared_->wake.wait_for(lock, std::chrono::seconds(1), [this] { return !shared_->asking; });
    lock.unlock();
    watcher_.join();
    if (back)
        asker_.join();
    else
        asker_.detach();
}

// The probe runs without the lock, which the counting thread keeps taking.
void Watchdog::ask(const std::shared_ptr<Shared>& shared) {
    Shared& s = *shared;
    std::unique_lock<std::mutex> lock(s.mutex);
    while (!s.stopping) {
        s.asking = true;
        s.asked_at = Clock::now();
        lock.unlock();
        const CollectiveWait answer = s.probe();
        lock.lock();
        s.answer = answer;
        s.asking = false;
        s.wake.notify_all(); // the destructor may wait for this
        s.wake.wait_for(lock, std::chrono::milliseconds(200), [&] { return s.stopping; });
    }
}

// The probe's last answer; a probe that has not come back for over a second (a driver call that
// hangs behind the collective) counts as the wait it last reported, or as a wait of its own.
CollectiveWait Watchdog::current(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    CollectiveWait wait = shared_->answer;
    if (shared_->asking && now - shared_->asked_at > std::chrono::seconds(1) &&
        wait.name == nullptr)
        wait = CollectiveWait{"a query of the collectives' progress (the driver does not answer)",
                              ~uint64_t(0)};
    return wait;
}

std::string Watchdog::line(const CollectiveWait& wait, double waited) const {
    char text[512];
    if (wait.failure != nullptr)
        std::snprintf(text, sizeof(text),
                      "pixelgrad: error (rank %d of %d): %s reports: %s; ending the run\n", rank_,
                      world_, wait.name ? wait.name : "the collectives' library", wait.failure);
    else if (const int signal = stop_signal_noted(); signal != 0)
        std::snprintf(text, sizeof(text),
                      "pixelgrad: rank %d of %d, told to stop (signal %d), has waited %.0f s in "
                      "%s%s%s%s for processes that have ended or hang; ending\n",
                      rank_, world_, signal, waited, wait.name, wait.purpose ? " (" : "",
                      wait.purpose ? wait.purpose : "", wait.purpose ? ")" : "");
    else
        std::snprintf(text, sizeof(text),
                      "pixelgrad: error (rank %d of %d): %s%s%s%s has waited %.0f s for the other "
                      "processes (PG_COLLECTIVE_TIMEOUT %g s): one of them hangs; ending the "
                      "run\n",
                      rank_, world_, wait.name, wait.purpose ? " (" : "",
                      wait.purpose ? wait.purpose : "", wait.purpose ? ")" : "", waited,
                      timeout_s_);
    return text;
}

void Watchdog::end(const std::string& text) {
    if (end_) return end_(text);
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
    std::_Exit(1); // mpirun then ends every other process
}

// The wait is counted in ticks of at most 1 s: time this process spent stopped (SIGSTOP, a
// debugger) is not time spent waiting for the others, and a hung process that is resumed (mpirun
// sends SIGCONT as it ends the run) must not blame them for its own stop.
void Watchdog::watch() {
    Clock::time_point last = Clock::now();
    CollectiveWait watched;
    double waited = 0;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(shared_->mutex);
            if (shared_->wake.wait_for(lock, std::chrono::milliseconds(200),
                                       [this] { return shared_->stopping; }))
                return;
        }
        const Clock::time_point now = Clock::now();
        const double tick = std::chrono::duration<double>(now - last).count();
        last = now;
        const CollectiveWait wait = current(now);
        if (wait.failure != nullptr) return end(line(wait, 0));
        if (wait.name == nullptr) {
            watched = CollectiveWait();
            continue;
        }
        if (watched.name == nullptr || wait.id != watched.id) { // a new wait starts at 0
            watched = wait;
            waited = 0;
        }
        waited += std::min(tick, 1.0);
        if (waited >= timeout_s_) return end(line(wait, waited)); // once
    }
}

MarkedWait::InFlight::InFlight(MarkedWait& w, const char* name) : wait(w) {
    std::lock_guard<std::mutex> lock(wait.mutex_);
    wait.current_ = CollectiveWait{name, ++wait.waits_, nullptr, collective_purpose()};
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
