// The training log's window (seg/train/run_log.h): a window saved with `last` and restored by a
// resumed run gives the rows of an uninterrupted one, while its speed counts only the steps this
// process ran (the restored ones took their time before the resume).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "seg/train/run_log.h"

namespace pg::seg {
namespace {

StepLog log_of(double sup) { return StepLog{{{"sup", sup}}, {}, {}}; }

TEST(StepWindow, ARestoredWindowKeepsItsMeansButTimesOnlyNewSteps) {
    StepWindow window;
    window.add(log_of(1.0), 1.0);
    window.add(log_of(3.0), 3.0);
    EXPECT_EQ(window.steps(), 2);
    EXPECT_EQ(window.timed_steps(), 2);
    std::map<std::string, double> numbers;
    window.save(numbers, "window.");

    StepWindow resumed;
    resumed.restore(numbers, "window.");
    EXPECT_EQ(resumed.steps(), 2);
    EXPECT_EQ(resumed.timed_steps(), 0);
    resumed.add(log_of(5.0), 5.0);
    EXPECT_EQ(resumed.steps(), 3);
    EXPECT_EQ(resumed.timed_steps(), 1);
    EXPECT_DOUBLE_EQ(resumed.mean_loss(), 3.0); // (1 + 3 + 5) / 3, as without the resume
    ASSERT_EQ(resumed.mean_losses().size(), 1u);
    EXPECT_DOUBLE_EQ(resumed.mean_losses()[0].second, 3.0);
    resumed.clear();
    EXPECT_EQ(resumed.timed_steps(), 0);
}

} // namespace
} // namespace pg::seg
