// `pixelgrad report` (seg/cli/report_command.h): one argument, the run directory (positional, or
// --run-dir as train takes it); the page is written by seg/report.h and its path printed on one
// line, its notes on stderr.
#include "seg/cli/report_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "seg/report.h"

namespace pg::seg {

std::function<void()> add_report_command(CLI::App& app) {
    auto args = std::make_shared<ReportArgs>();
    CLI::App* cmd =
        app.add_subcommand("report", "re-render RUN_DIR/report.html from the run's files");
    cmd->add_option("run_dir,-o,--run-dir", args->run_dir,
                    "the run directory (config.yaml, metrics.jsonl, eval.json, overlays/)")
        ->required();
    return [cmd, args] {
        if (cmd->parsed()) run_report(*args);
    };
}

// The page's notes go to stderr too: a user who re-renders a report after a crash sees at once
// that lines of metrics.jsonl were skipped (the page is still written: exit 0).
std::string run_report(const ReportArgs& a) {
    for (const std::string& note : write_report(a.run_dir))
        std::fprintf(stderr, "report: note: %s\n", note.c_str());
    std::string path = (std::filesystem::path(a.run_dir) / "report.html").string();
    std::printf("report: %s\n", path.c_str());
    return path;
}

} // namespace pg::seg
