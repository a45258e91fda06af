// `pixelgrad report RUN_DIR`: re-renders a run's report.html (seg/report.h) from the files the
// run wrote, and prints the page's path. main.cpp registers it with add_report_command and calls
// run_report when it was chosen.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace pg::cli {

// The command line of `pixelgrad report`.
struct ReportArgs {
    std::string run_dir;
};

// Adds the subcommand and its argument (bound to `args`) to `app`; returns the subcommand.
CLI::App* add_report_command(CLI::App& app, ReportArgs& args);

// Writes RUN_DIR/report.html and returns its path. A missing directory is a pg::Error naming it.
std::string run_report(const ReportArgs& args);

} // namespace pg::cli
