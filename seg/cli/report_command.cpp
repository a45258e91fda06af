// `pixelgrad report` (seg/cli/report_command.h): one argument, the run directory (positional, or
// --run-dir as train takes it); the page is written by seg/report.h and its path printed on one
// line, its notes on stderr.
#include "seg/cli/report_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "seg/report.h"
#include "tensor/error.h"

namespace pg::seg {

std::function<void()> add_report_command(CLI::App& app) {
    auto args = std::make_shared<ReportArgs>();
    CLI::App* cmd =
        app.add_subcommand("report", "re-render RUN_DIR/report.html from the run's files");
    cmd->add_option("run_dir", args->run_dir,
                    "the run directory (config.yaml, metrics.jsonl, eval.json, overlays/)");
    cmd->add_option("-o,--run-dir", args->run_dir_option, "the same, named as train takes it");
    return [cmd, args] {
        if (cmd->parsed()) run_report(*args);
    };
}

// The page's notes go to stderr too: a user who re-renders a report after a crash sees at once
// that lines of metrics.jsonl were skipped (the page is still written: exit 0).
std::string run_report(const ReportArgs& args) {
    ReportArgs a = args;
    PG_CHECK(a.run_dir.empty() || a.run_dir_option.empty() || a.run_dir == a.run_dir_option,
             "report: two run directories (", a.run_dir, " and --run-dir ", a.run_dir_option,
             "); give one");
    if (a.run_dir.empty()) a.run_dir = a.run_dir_option;
    PG_CHECK(!a.run_dir.empty(), "report: give the run directory (pixelgrad report RUN_DIR)");
    const std::filesystem::path dir(a.run_dir);
    PG_CHECK(!std::filesystem::is_directory(dir) || std::filesystem::exists(dir / "config.yaml") ||
                 std::filesystem::exists(dir / "metrics.jsonl") ||
                 std::filesystem::exists(dir / "eval.json"),
             "report: ", a.run_dir,
             " holds none of a run's files (config.yaml, metrics.jsonl, eval.json): not a run "
             "directory");
    for (const std::string& note : write_report(a.run_dir))
        std::fprintf(stderr, "report: note: %s\n", note.c_str());
    std::string path = (std::filesystem::path(a.run_dir) / "report.html").string();
    std::printf("report: %s\n", path.c_str());
    return path;
}

} // namespace pg::seg
