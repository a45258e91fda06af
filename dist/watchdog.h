// The hang watchdog of the collectives (dist/): it ends this process with one clear line when a
// collective has waited for the other processes longer than PG_COLLECTIVE_TIMEOUT seconds (default
// 1800, as PyTorch's process groups), or at once when the library reports a failure; mpirun then
// ends every other process. MPI's blocking collectives mark the wait themselves; NCCL's return once
// queued, so a probe asks the GPU.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace pg::dist {

// PG_COLLECTIVE_TIMEOUT in seconds (1800 when unset); a bad value is an error naming it.
double collective_timeout_s();

// What this process waits for now: `name` ("an all-reduce") and a number that changes with every
// new wait, so that a wait that finished and a next one are not counted as one; name null: none.
// `failure` (static text): the library reports an error that ends the run now. `purpose`: what
// the collective was for (pg::CollectivePurpose), when the caller said.
struct CollectiveWait {
    const char* name = nullptr;
    uint64_t id = 0;
    const char* failure = nullptr;
    const char* purpose = nullptr;
};

class Watchdog {
  public:
    using Probe = std::function<CollectiveWait()>;
    // `probe` is called every 200 ms on a thread of its own, so that a probe stuck in a driver
    // call still counts as waiting (it must be thread-safe). The line the process ends with goes
    // to `end` (default: stderr, then _Exit(1)); tests catch it.
    Watchdog(int rank, int world, Probe probe, double timeout_s = collective_timeout_s(),
             std::function<void(const std::string&)> end = nullptr);
    ~Watchdog();
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

  private:
    using Clock = std::chrono::steady_clock;
    // What the two threads share. The probe's thread holds it too, so that one stuck in the probe
    // when the watchdog ends can be left behind (detached) instead of hanging the exit.
    struct Shared {
        Probe probe;
        std::mutex mutex; // guards what follows
        std::condition_variable wake;
        bool stopping = false;
        CollectiveWait answer; // the probe's last answer
        bool asking = false;   // the probe is running, since asked_at
        Clock::time_point asked_at;
    };
    static void ask(const std::shared_ptr<Shared>& shared); // the probe's thread
    void watch();                                           // the counting thread
    CollectiveWait current(Clock::time_point now);
    std::string line(const CollectiveWait& wait, double waited) const;
    void end(const std::string& text);

    const int rank_, world_;
    const double timeout_s_;
    const std::function<void(const std::string&)> end_;
    std::shared_ptr<Shared> shared_;
    std::thread asker_, watcher_; // last: started once the members above exist
};

// A probe for waits the caller marks itself (MPI's blocking collectives): while an InFlight guard
// lives, the wait is `name`, for the purpose of the thread that made the guard.
class MarkedWait {
  public:
    struct InFlight {
        InFlight(MarkedWait& w, const char* name);
        ~InFlight();
        MarkedWait& wait;
    };
    CollectiveWait now();

  private:
    std::mutex mutex_;
    CollectiveWait current_;
    uint64_t waits_ = 0;
};

} // namespace pg::dist
