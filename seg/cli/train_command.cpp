// The command line of `pixelgrad train` (seg/cli/train_command.h).
#include "seg/cli/train_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "tensor/collectives.h"

namespace pg::seg {

std::function<void()> add_train_command(CLI::App& app) {
    auto options = std::make_shared<TrainOptions>();
    CLI::App* cmd = app.add_subcommand(
        "train", "train a segmenter (trainer.method: supervised, u2pl, adversarial or ripu)");
    cmd->add_option("-c,--config", options->config,
                    "run config (YAML: dataset, net, trainer, saver, criterion)");
    cmd->add_option("-o,--run-dir", options->run_dir,
                    "where the run writes (default: saver.snapshot_dir)");
    cmd->add_option("--set", options->overrides, "override a config key: a.b.c=value")
        ->allow_extra_args(false);
    cmd->add_flag("--resume", options->resume,
                  "continue the run in --run-dir from its last checkpoint (bit-exact on the CPU)");
    cmd->add_option("--device", options->device, "cpu or cuda:0 (default: trainer.device)");
    cmd->add_option("--stop-after", options->stop_after,
                    "stop after this many steps (a last checkpoint is written; --resume goes on)")
        ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
    cmd->add_option("--profile", options->profile_steps,
                    "time every kernel over N steps, print the table and stop")
        ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
    cmd->add_flag("-q,--quiet", options->quiet, "no progress lines");
    return [cmd, options] {
        if (!cmd->parsed()) return;
        TrainResult r = train(*options);
        std::fflush(stdout);
        if (r.stop_signal) std::exit(128 + r.stop_signal); // 130 (SIGINT) / 143 (SIGTERM)
        if (options->profile_steps > 0 || collectives().rank() != 0) return; // rank 0 reports
        if (r.best_miou >= 0)
            std::printf("best mIoU %.2f at step %lld; run: %s\n", 100 * r.best_miou,
                        (long long)r.best_step, r.run_dir.c_str());
        else
            std::printf("run: %s\n", r.run_dir.c_str());
    };
}

} // namespace pg::seg
