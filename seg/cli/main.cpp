// The pixelgrad binary: `pixelgrad <command> [options]`. `info` prints the build configuration,
// `synth` writes the synthetic world, `train` trains a segmenter, `eval` scores a checkpoint,
// `predict` writes label PNGs and overlays, `report` re-renders a run's report.html, `forward`
// runs a network on a tensor file (one *_command.h per command).
// The one place that catches errors: any exception (pg::Error, a std::filesystem_error from a
// folder that cannot be created, std::bad_alloc, ...) becomes one clear line and exit 1.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <unistd.h>

#include "seg/cli/eval_command.h"
#include "seg/cli/forward_command.h"
#include "seg/cli/predict_command.h"
#include "seg/cli/report_command.h"
#include "seg/cli/synth_command.h"
#include "seg/cli/train_command.h"
#include "seg/runtime.h"
#include "tensor/error.h"

// libgomp's idle threads spin for a long time by default, so beside another busy process a
// training step takes many times longer: 100 steps of the demo network on 2 cores took 4.0 s
// alone and 62 s beside two busy loops. A short spin (GOMP_SPINCOUNT=3000) costs ~4% alone (60
// steps: 2.6 s vs 2.5 s) and takes 4.7 s beside the two loops, a fair share of the cores
// (OMP_WAIT_POLICY=PASSIVE: 3.4 s alone). libgomp reads its settings when it is loaded, before
// main, so the binary re-executes itself once with the variable set, unless the user set either.
static void prefer_short_openmp_spin(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
    setenv("GOMP_SPINCOUNT", "3000", 1);
    execv("/proc/self/exe", argv); // returns only on failure: go on with libgomp's default
}

int main(int argc, char** argv) {
    prefer_short_openmp_spin(argv);
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
    } catch (const std::filesystem::filesystem_error& e) {
        std::cerr << "pixelgrad: error: " << e.code().message() << ": " << e.path1().string()
                  << (e.path2().empty() ? "" : " -> " + e.path2().string()) << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        std::cerr << "pixelgrad: error: out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "pixelgrad: error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
