// pixelgrad correct --config C [--out DIR] [--device cpu|cuda:0] [--force] [--quiet]
//                   [--set key=value ...]
#include "seg/cli/correct_command.h"

#include <cstdio>
#include <memory>

#include "seg/correct/pipeline.h"

namespace pg::seg {

static void print_result(const CorrectResult& r) {
    std::printf("correct: %lld weak images, %lld superpixels (%.1f%% labelled by clean pixels), "
                "%lld of %lld adjacent pairs kept; delta %.4f\n",
                (long long)r.weak_images, (long long)r.nodes,
                r.nodes ? 100.0 * double(r.labelled_nodes) / double(r.nodes) : 0.0,
                (long long)r.edges, (long long)r.adjacent_pairs, r.delta.delta);
    for (const StageQuality& q : r.quality)
        std::printf("  %-24s pixel accuracy %6.2f  mIoU %6.2f  labelled %5.1f%%\n", q.stage.c_str(),
                    q.accuracy, q.miou, q.coverage);
    std::printf("-> %s (labels/, lists/, quality.md, rows/, report.html)\n", r.out.c_str());
}

std::function<void()> add_correct_command(CLI::App& app) {
    auto args = std::make_shared<CorrectArgs>();
    CLI::App* cmd = app.add_subcommand(
        "correct", "label-noise correction: CAM labels -> detection -> superpixel GAT -> CRF");
    cmd->add_option("--config", args->config, "run config with a `correct` section")->required();
    cmd->add_option("--out", args->out, "output folder (default correct.out)");
    cmd->add_option("--device", args->device, "cpu or cuda:0 (default trainer.device)");
    cmd->add_flag("--force", args->force, "replace an existing output folder");
    cmd->add_flag("--quiet", args->quiet, "no progress lines");
    cmd->add_option("--set", args->overrides, "config override key=value (repeatable)");
    return [cmd, args] {
        if (cmd->parsed()) print_result(run_correct(*args));
    };
}

} // namespace pg::seg
