// The pixelgrad binary: `pixelgrad <command> [options]`. `info` prints the build configuration,
// `synth` writes the synthetic world, `train` trains a segmenter, `eval` scores a checkpoint,
// `predict` writes label PNGs and overlays, `report` re-renders a run's report.html, `forward`
// runs a network on a tensor file (one *_command.h per command).
// The one place that catches pg::Error: one clear line, exit 1.
#include <CLI/CLI.hpp>
#include <iostream>

#include "seg/cli/eval_command.h"
#include "seg/cli/forward_command.h"
#include "seg/cli/predict_command.h"
#include "seg/cli/report_command.h"
#include "seg/cli/synth_command.h"
#include "seg/cli/train_command.h"
#include "seg/runtime.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
    CLI::App app{"pixelgrad: label-efficient semantic segmentation on a from-scratch engine"};
    app.require_subcommand(1);
    CLI::App* info = app.add_subcommand("info", "print the build configuration and the devices");
    std::function<void()> run_forward = pg::seg::add_forward_command(app);
    std::function<void()> run_eval = pg::seg::add_eval_command(app);
    std::function<void()> run_predict = pg::seg::add_predict_command(app);
    pg::cli::SynthArgs synth_args;
    CLI::App* synth = pg::cli::add_synth_command(app, synth_args);
    pg::cli::ReportArgs report_args;
    CLI::App* report = pg::cli::add_report_command(app, report_args);
    std::function<void()> run_train = pg::seg::add_train_command(app);
    CLI11_PARSE(app, argc, argv);
    try {
        pg::init_backends();
        if (info->parsed()) std::cout << pg::build_info();
        run_forward();
        run_eval();
        run_predict();
        if (synth->parsed()) pg::cli::run_synth(synth_args);
        run_train();
        if (report->parsed()) pg::cli::run_report(report_args);
    } catch (const pg::Error& e) {
        std::cerr << "pixelgrad: error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
