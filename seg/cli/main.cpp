// The pixelgrad binary: `pixelgrad <command> [options]`. `info` prints the build configuration,
// `synth` writes the synthetic world, `train` trains a segmenter, `eval` scores a checkpoint,
// `predict` writes label PNGs and overlays, `report` re-renders a run's report.html, `forward`
// runs a network on a tensor file, `select` runs a RIPU round, `correct` the label-noise
// pipeline, `superpixels` SLIC alone (one *_command.h per command).
// The one place that catches errors: any exception (pg::Error, a std::filesystem_error from a
// folder that cannot be created, std::bad_alloc, ...) becomes one clear line and exit 1.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "seg/cli/correct_command.h"
#include "seg/cli/eval_command.h"
#include "seg/cli/forward_command.h"
#include "seg/cli/predict_command.h"
#include "seg/cli/report_command.h"
#include "seg/cli/select_command.h"
#include "seg/cli/superpixels_command.h"
#include "seg/cli/synth_command.h"
#include "seg/cli/train_command.h"
#include "seg/runtime.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

static std::function<void()> add_info_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("info", "print the build configuration and the devices");
    return [cmd] {
        if (cmd->parsed()) std::cout << pg::build_info();
    };
}

// One line on stderr and exit 1. Under mpirun the line names the rank, and the whole run ends
// with it: the other processes would otherwise wait in their next collective forever. The text
// goes out in one write, so that the lines of several processes failing at once do not interleave.
static int error_exit(const std::string& message) {
    pg::Collectives& c = pg::collectives();
    if (c.world_size() == 1) {
        std::cerr << "pixelgrad: error: " + message + "\n";
        return 1;
    }
    std::cerr << "pixelgrad: error (rank " + std::to_string(c.rank()) + " of " +
                     std::to_string(c.world_size()) + "): " + message +
                     "\nending every process of the run\n";
    std::cerr.flush();
    c.abort(1);
    return 1; // not reached
}

// Under mpirun only `train` runs as several processes (`info` too, to check a launch). A build
// without MPI would have every process train alone into the same folder: refused.
static void check_launch(const CLI::App& app) {
    const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (size == nullptr) size = std::getenv("PMI_SIZE");
    const int launched = size ? std::atoi(size) : 1;
    PG_CHECK(launched <= 1 || pg::collectives().world_size() > 1, "started as one of ", launched,
             " processes (mpirun), but this pixelgrad was built without MPI: apt-get install "
             "libopenmpi-dev and rebuild");
    PG_CHECK(pg::collectives().world_size() == 1 || app.got_subcommand("train") ||
                 app.got_subcommand("info"),
             "under mpirun only `pixelgrad train` runs as several processes; run this command "
             "once, without mpirun");
}

int main(int argc, char** argv) {
    pg::reexec_with_fast_cpu_settings(argv); // short OpenMP spin, the CPU's best BLAS kernels
    CLI::App app{"pixelgrad: label-efficient semantic segmentation on a from-scratch engine"};
    app.require_subcommand(1);
    // Every verb registers the same way: add_<verb>_command(app) adds its options and returns
    // the callback that runs it when it is the one parsed (the others return at once).
    using namespace pg::seg;
    std::vector<std::function<void()>> commands{
        add_info_command(app),       add_synth_command(app),   add_train_command(app),
        add_eval_command(app),       add_predict_command(app), add_forward_command(app),
        add_report_command(app),     add_select_command(app),  add_correct_command(app),
        add_superpixels_command(app)};
    CLI11_PARSE(app, argc, argv);
    try {
        pg::init_backends();
        check_launch(app);
        for (const std::function<void()>& run : commands) run();
    } catch (const pg::Error& e) {
        return error_exit(e.what());
    } catch (const std::filesystem::filesystem_error& e) {
        return error_exit(e.code().message() + ": " + e.path1().string() +
                          (e.path2().empty() ? "" : " -> " + e.path2().string()));
    } catch (const std::bad_alloc&) {
        return error_exit("out of memory");
    } catch (const std::exception& e) { return error_exit(e.what()); }
    return 0;
}
