// `pixelgrad report` (seg/cli/report_command.h): one positional argument, the run directory; the
// page is written by seg/report.h and its path printed on one line.
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
    cmd->add_option("run_dir", args->run_dir,
                    "the run directory (config.yaml, metrics.jsonl, eval.json, overlays/)")
        ->required();
    return [cmd, args] {
        if (cmd->parsed()) run_report(*args);
    };
}

std::string run_report(const ReportArgs& a) {
    write_report(a.run_dir);
    std::string path = (std::filesystem::path(a.run_dir) / "report.html").string();
    std::printf("report: %s\n", path.c_str());
    return path;
}

} // namespace pg::seg
