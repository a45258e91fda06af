// The pixelgrad binary: `pixelgrad <command> [options]`. Commands join as the application grows;
// `info` prints the build configuration. The one place that catches pg::Error: one clear line, exit 1.
#include <CLI/CLI.hpp>
#include <iostream>

#include "seg/cli/forward_command.h"
#include "seg/runtime.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
    CLI::App app{"pixelgrad: label-efficient semantic segmentation on a from-scratch engine"};
    app.require_subcommand(1);
    CLI::App* info = app.add_subcommand("info", "print the build configuration and the devices");
    std::function<void()> run_forward = pg::seg::add_forward_command(app);
    CLI11_PARSE(app, argc, argv);
    try {
        pg::init_backends();
        if (info->parsed()) std::cout << pg::build_info();
        run_forward();
    } catch (const pg::Error& e) {
        std::cerr << "pixelgrad: error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
