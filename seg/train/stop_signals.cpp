// The training loop's SIGINT / SIGTERM handling (seg/train/stop_signals.h).
#include "seg/train/stop_signals.h"

#include <signal.h>

#include <algorithm>
#include <csignal>
#include <vector>

#include "tensor/collectives.h"

namespace pg::seg {

extern "C" void pg_request_stop(int sig) {
    if (stop_signal_noted() != 0) { // the second one: the default action, now
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    note_stop_signal(sig);
}

struct StopSignals::Saved {
    struct sigaction old_int {
    }, old_term{};
};

StopSignals::StopSignals() : saved_(std::make_unique<Saved>()) {
    note_stop_signal(0);
    struct sigaction sa {};
    sa.sa_handler = pg_request_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; // the loader's reads go on instead of failing with EINTR
    sigaction(SIGINT, &sa, &saved_->old_int);
    sigaction(SIGTERM, &sa, &saved_->old_term);
}

StopSignals::~StopSignals() {
    sigaction(SIGINT, &saved_->old_int, nullptr);
    sigaction(SIGTERM, &saved_->old_term, nullptr);
}

int StopSignals::received() const { return stop_signal_noted(); }

int StopSignals::agreed() const {
    Collectives& c = collectives();
    if (c.world_size() == 1) return received();
    float mine = float(received());
    CollectivePurpose purpose("the agreement to stop, after each step");
    std::vector<float> all(size_t(c.world_size()));
    c.all_gather(&mine, 1, all.data());
    return int(*std::max_element(all.begin(), all.end()));
}

} // namespace pg::seg
