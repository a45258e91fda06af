// `pixelgrad report RUN_DIR`: re-renders a run's report.html (seg/report.h) from the files the
// run wrote, and prints the page's path. Registered like every verb (main.cpp): add_report_command
// returns the callback that runs it.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace pg::seg {

// The command line of `pixelgrad report`.
struct ReportArgs {
    std::string run_dir;
    std::string run_dir_option; // --run-dir, the same folder named as train takes it
};

// Adds the subcommand to `app`; the returned callback runs it once parsing has succeeded.
std::function<void()> add_report_command(CLI::App& app);

// Writes RUN_DIR/report.html and returns its path. A missing directory, or one that holds none of
// a run's files, is a pg::Error naming it.
std::string run_report(const ReportArgs& args);

} // namespace pg::seg
