// pixelgrad select --config run.yaml --weights W --round N [--out DIR] [--device cpu|cuda:0]
//                  [--overlays 6] [--force] [--set key=value ...]
#include "seg/cli/select_command.h"

#include <cstdio>
#include <filesystem>

#include "seg/cli/eval_command.h"
#include "seg/train/ripu_rounds.h"
#include "tensor/dtype.h"
#include "tensor/error.h"

namespace pg::seg {

namespace fs = std::filesystem;

std::string run_select(const SelectArgs& a) {
    PG_CHECK(a.round >= 1, "select: --round is ", a.round, ", expected 1 or more");
    Device device = parse_device(a.device);
    LoadedNet loaded = load_net("select", a.config, a.overrides, a.weights, device, "target");
    const Config& c = loaded.config;
    std::string out = a.out;
    if (out.empty()) {
        PG_CHECK(c.has("saver.snapshot_dir"), "select: no --out and ", c.source(),
                 " has no saver.snapshot_dir");
        out = (fs::path(c.get_string("saver.snapshot_dir")) / "ripu").string();
    }
    PG_CHECK(!fs::exists(out) || fs::is_directory(out), "select: ", out,
             " is a file; the rounds go in a folder (--out)");
    std::string dir = ripu::round_dir(out, a.round);
    PG_CHECK(a.force || !fs::exists(dir), "select: ", dir, " already exists (round ", a.round,
             " was selected before); pass --force to replace it");
    ripu::Acquisition acquisition(c, int(loaded.net->num_classes()));
    PG_CHECK(acquisition.options().selection != ripu::Selection::full,
             "select: ", c.origin("trainer.ripu.selection"),
             " has trainer.ripu.selection full: nothing to select");
    PG_CHECK(a.round <= acquisition.rounds(), "select: --round ", a.round, " but ",
             c.origin("trainer.ripu.rounds_at"), " plans ", acquisition.rounds(),
             " rounds (trainer.ripu.rounds_at), and each round's "
             "budget is its share of them");
    if (a.round > 1) {
        const std::string before = ripu::round_dir(out, a.round - 1);
        PG_CHECK(fs::is_directory(before), "select: --round ", a.round, " adds to round ",
                 a.round - 1, "'s labels, but ", before, " is missing: select round ", a.round - 1,
                 " first, or give the --out that holds it");
        acquisition.load_round(out, a.round - 1,
                               "restore them, or select round " + std::to_string(a.round - 1) +
                                   " into this folder again (--force)");
    }
    ripu::RoundSummary s = acquisition.run_round(*loaded.net, device, a.round, /*step=*/-1,
                                                 uint64_t(c.get_int("trainer.seed", 0)));
    acquisition.save_round(out, s);
    acquisition.write_overlays(out, a.round, a.overlays);
    std::printf(
        "select: round %lld over %lld images: %lld picked, %.3f%% of the pixels labelled "
        "(budget %.3f%%); the model was wrong on %.1f%% of the new pixels, %.1f%% of all -> %s\n",
        (long long)s.round, (long long)s.images, (long long)s.picks, s.percent(), s.budget_percent,
        s.picked_error_percent(), s.error_percent(), dir.c_str());
    return s.to_json();
}

std::function<void()> add_select_command(CLI::App& app) {
    auto args = std::make_shared<SelectArgs>();
    CLI::App* cmd =
        app.add_subcommand("select", "one RIPU acquisition round from a checkpoint (label masks)");
    cmd->add_option("--config", args->config, "RIPU run config (dataset.target, trainer.ripu)")
        ->required();
    cmd->add_option("--weights", args->weights, "checkpoint (.safetensors)")->required();
    cmd->add_option("--round", args->round, "round number, 1-based (round N reads round N-1)")
        ->required();
    cmd->add_option("--out", args->out, "folder of the rounds (default <snapshot_dir>/ripu)");
    cmd->add_option("--device", args->device, "cpu or cuda:0")->capture_default_str();
    cmd->add_option("--overlays", args->overlays, "overlay pictures to write")
        ->capture_default_str();
    cmd->add_flag("--force", args->force, "replace an existing round folder");
    cmd->add_option("--set", args->overrides, "config override key=value (repeatable)");
    return [cmd, args] {
        if (cmd->parsed()) run_select(*args);
    };
}

} // namespace pg::seg
