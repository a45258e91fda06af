// The collectives' hang watchdog (dist/watchdog.h) with a probe of its own: a wait that never
// finishes ends the process with a line naming it (NCCL's queued collectives are watched this
// way), waits that keep finishing never do, a failure the library reports ends it at once, a
// probe that never comes back counts as waiting and does not hold up the end, and a bad
// PG_COLLECTIVE_TIMEOUT is named. Here, not in tests/dist (that binary runs under mpirun); MPI's
// use of it across processes: DataParallel.AProcessThatHangs... (tests/seg/).
#include <gtest/gtest.h>

#include "pg_config.h"

#if PG_MPI_ENABLED || PG_NCCL_ENABLED

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "dist/watchdog.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg {
namespace {

// The line a watchdog ended with, caught instead of ending the test.
struct Ending {
    std::mutex mutex;
    std::string line;
    std::function<void(const std::string&)> catcher() {
        return [this](const std::string& text) {
            std::lock_guard<std::mutex> lock(mutex);
            line = text;
        };
    }
    std::string caught() {
        std::lock_guard<std::mutex> lock(mutex);
        return line;
    }
};

void sleep_s(double seconds) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

TEST(Watchdog, AWaitThatNeverFinishesEndsTheProcessNamingIt) {
    Ending ending;
    {
        dist::Watchdog watchdog(
            1, 3,
            [] {
                return dist::CollectiveWait{"an NCCL all-reduce", 7};
            },
            0.5, ending.catcher());
        for (int i = 0; i < 50 && ending.caught().empty(); i++) sleep_s(0.1);
    }
    EXPECT_EQ(ending.caught(), "pixelgrad: error (rank 1 of 3): an NCCL all-reduce has waited 1 s "
                               "for the other processes (PG_COLLECTIVE_TIMEOUT 0.5 s): one of them "
                               "hangs; ending the run\n");
}

TEST(Watchdog, WaitsThatKeepFinishingOrNoWaitNeverEndIt) {
    std::atomic<uint64_t> probes{0};
    Ending moving, idle;
    {
        // A new wait at every probe (each far shorter than the timeout), and no wait at all, for
        // over 2 timeouts. The margin: a new wait counts one tick, a stall of the whole process
        // at most 1 s more, under the 2 s timeout.
        dist::Watchdog busy(
            0, 2,
            [&] {
                return dist::CollectiveWait{"an all-reduce", ++probes};
            },
            2.0, moving.catcher());
        dist::Watchdog quiet(
            0, 2, [] { return dist::CollectiveWait{}; }, 2.0, idle.catcher());
        sleep_s(4.5);
    }
    EXPECT_GE(probes.load(), 5u); // it did ask
    EXPECT_EQ(moving.caught(), "");
    EXPECT_EQ(idle.caught(), "");
}

TEST(Watchdog, AFailureTheLibraryReportsEndsTheRunAtOnce) {
    Ending ending;
    {
        dist::Watchdog watchdog(
            0, 2,
            [] {
                return dist::CollectiveWait{"NCCL", 0, "unhandled system error"};
            },
            1000, ending.catcher());
        for (int i = 0; i < 50 && ending.caught().empty(); i++) sleep_s(0.1);
    }
    EXPECT_EQ(ending.caught(),
              "pixelgrad: error (rank 0 of 2): NCCL reports: unhandled system error; ending the "
              "run\n");
}

// A probe stuck in a driver call (behind a hung collective) must not stop the count: after 1 s
// without an answer it counts as a wait of its own.
TEST(Watchdog, AProbeThatDoesNotComeBackCountsAsWaiting) {
    Ending ending;
    std::atomic<bool> released{false};
    {
        dist::Watchdog watchdog(
            0, 2,
            [&] {
                while (!released) sleep_s(0.01);
                return dist::CollectiveWait{};
            },
            0.5, ending.catcher());
        for (int i = 0; i < 80 && ending.caught().empty(); i++) sleep_s(0.1);
        released = true;
    }
    EXPECT_NE(ending.caught().find("error (rank 0 of 2): a query of the collectives' progress (the "
                                   "driver does not answer) has waited"),
              std::string::npos)
        << ending.caught();
}

// The end of a watchdog whose probe is stuck (in the driver, at exit) does not wait for it: the
// probe's thread is left behind. (If it did wait, this test would hang.)
std::atomic<bool> g_released_late{false};

TEST(Watchdog, AStuckProbeDoesNotHoldUpTheEnd) {
    {
        dist::Watchdog watchdog(0, 2, [] {
            while (!g_released_late) sleep_s(0.01);
            return dist::CollectiveWait{};
        });
        sleep_s(0.1);
    }
    g_released_late = true; // the thread left behind ends now
}

TEST(Watchdog, MarkedWaitsAreNewEachTimeAndEndWithTheirGuard) {
    dist::MarkedWait marked;
    EXPECT_EQ(marked.now().name, nullptr);
    uint64_t first = 0;
    {
        dist::MarkedWait::InFlight in_flight(marked, "a broadcast");
        EXPECT_STREQ(marked.now().name, "a broadcast");
        first = marked.now().id;
    }
    EXPECT_EQ(marked.now().name, nullptr);
    dist::MarkedWait::InFlight again(marked, "a broadcast");
    EXPECT_NE(marked.now().id, first);
}

// A wait marked inside a CollectivePurpose scope (SyncBN's, U2PL's ...) is named with it.
TEST(Watchdog, AWaitIsNamedWithWhatItWasFor) {
    dist::MarkedWait marked;
    Ending ending;
    {
        CollectivePurpose outer("gradient averaging");
        CollectivePurpose purpose("SyncBN's batch statistics"); // the innermost counts
        dist::MarkedWait::InFlight in_flight(marked, "an all-gather");
        EXPECT_STREQ(marked.now().purpose, "SyncBN's batch statistics");
        dist::Watchdog watchdog(
            0, 2, [&] { return marked.now(); }, 0.5, ending.catcher());
        for (int i = 0; i < 50 && ending.caught().empty(); i++) sleep_s(0.1);
    }
    EXPECT_EQ(collective_purpose(), nullptr); // the scopes ended
    EXPECT_EQ(ending.caught(),
              "pixelgrad: error (rank 0 of 2): an all-gather (SyncBN's batch statistics) has "
              "waited 1 s for the other processes (PG_COLLECTIVE_TIMEOUT 0.5 s): one of them "
              "hangs; ending the run\n");
}

TEST(Watchdog, ABadTimeoutIsNamed) {
    const char* old = getenv("PG_COLLECTIVE_TIMEOUT");
    const std::string saved = old ? old : "";
    for (const char* bad : {"soon", "0", "-5", "10s"}) {
        setenv("PG_COLLECTIVE_TIMEOUT", bad, 1);
        try {
            dist::collective_timeout_s();
            ADD_FAILURE() << bad << " was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("PG_COLLECTIVE_TIMEOUT is '") + bad +
                                                 "'; expected a positive number of seconds"),
                      std::string::npos)
                << e.what();
        }
    }
    setenv("PG_COLLECTIVE_TIMEOUT", "2.5", 1);
    EXPECT_EQ(dist::collective_timeout_s(), 2.5);
    if (old)
        setenv("PG_COLLECTIVE_TIMEOUT", saved.c_str(), 1);
    else
        unsetenv("PG_COLLECTIVE_TIMEOUT");
}

} // namespace
} // namespace pg

#endif // PG_MPI_ENABLED || PG_NCCL_ENABLED
