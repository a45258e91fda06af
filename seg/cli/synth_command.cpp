// `pixelgrad synth` (seg/cli/synth_command.h): options -> WorldOptions, layout-dependent defaults
// (VOC 64x64, Cityscapes 64x128, GTAV 72x128 with no val split), one summary line.
#include "seg/cli/synth_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "seg/synth/shapes.h"
#include "seg/synth/world.h"
#include "tensor/error.h"

namespace pg::seg {

namespace {

// "96" -> 96x96, "64x128" -> height 64, width 128.
void parse_size(const std::string& text, int& height, int& width) {
    int h = 0, w = 0;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%dx%d%c", &h, &w, &extra) == 2) {
        height = h, width = w;
    } else if (std::sscanf(text.c_str(), "%d%c", &h, &extra) == 1) {
        height = width = h;
    } else {
        PG_FAIL("synth: --size '", text, "' is not N or HxW (e.g. 96 or 64x128)");
    }
}

} // namespace

std::function<void()> add_synth_command(CLI::App& app) {
    auto args = std::make_shared<SynthArgs>();
    SynthArgs& a = *args;
    CLI::App* cmd = app.add_subcommand("synth", "write the synthetic benchmark world to disk");
    cmd->add_option("--out,-o", a.out, "output directory")->required();
    cmd->add_option("--layout", a.layout, "voc, cityscapes or gtav")->capture_default_str();
    cmd->add_option("--style", a.style, "source (flat, sharp) or target (textured, shifted, noisy)")
        ->capture_default_str();
    cmd->add_option("--train", a.train, "train images (default 512)")->check(CLI::PositiveNumber);
    cmd->add_option("--val", a.val, "val images (default 128; 0 for gtav)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--size", a.size, "N or HxW (default voc 64, cityscapes 64x128, gtav 72x128)");
    cmd->add_option("--classes", a.classes, "K: background + K-1 shapes")
        ->capture_default_str()
        ->check(CLI::Range(2, synth::shape_count() + 1));
    cmd->add_option("--seed", a.seed, "world seed")->capture_default_str();
    cmd->add_option("--splits", a.splits, "labeled-subset sizes (default train/32,/16,/8,/4)")
        ->delimiter(',');
    cmd->add_option("--max-objects", a.max_objects, "at most N objects per image (N >= 1)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    cmd->add_option("--object-size", a.object_size,
                    "MIN,MAX object radius / shorter image side (default 0.09,0.3)")
        ->delimiter(',')
        ->expected(2);
    cmd->add_option("--clutter", a.clutter, "max background clutter items per image (default 4)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--void-width", a.void_width, "void band inside object outlines (px), 0: none")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--force", a.force,
                  "replace the earlier world in --out (a non-empty folder without world.json is "
                  "never written into)");
    cmd->add_flag("--train-ids", a.train_ids, "cityscapes: also write _gtFine_labelTrainIds.png");
    return [cmd, args] {
        if (cmd->parsed()) run_synth(*args);
    };
}

void run_synth(const SynthArgs& a) {
    using namespace synth;
    WorldOptions o;
    o.out_dir = a.out;
    o.layout = parse_layout(a.layout);
    o.scene.style = parse_style(a.style);
    o.scene.num_classes = a.classes;
    o.scene.max_objects = a.max_objects;
    o.scene.min_objects = std::min(o.scene.min_objects, a.max_objects);
    o.scene.void_width = a.void_width;
    if (a.clutter >= 0) o.scene.max_clutter = a.clutter;
    if (!a.object_size.empty())
        o.scene.min_size = a.object_size[0], o.scene.max_size = a.object_size[1];
    if (o.layout == Layout::cityscapes) o.scene.height = 64, o.scene.width = 128;
    if (o.layout == Layout::gtav) o.scene.height = 72, o.scene.width = 128;
    if (!a.size.empty()) parse_size(a.size, o.scene.height, o.scene.width);
    o.num_train = a.train >= 0 ? a.train : 512;
    o.num_val = a.val >= 0 ? a.val : (o.layout == Layout::gtav ? 0 : 128);
    o.seed = a.seed;
    o.splits = a.splits;
    o.force = a.force;
    o.train_ids = a.train_ids;
    auto start = std::chrono::steady_clock::now();
    WorldSummary s = write_world(o);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int images = s.num_train + s.num_val;
    std::printf("synth: %d train + %d val images (%s, %s, %d classes, %dx%d, seed %llu) -> %s in "
                "%.2f s (%.0f images/s)\n",
                s.num_train, s.num_val, layout_name(o.layout), style_name(o.scene.style),
                o.scene.num_classes, o.scene.height, o.scene.width, (unsigned long long)o.seed,
                o.out_dir.c_str(), seconds, double(images) / std::max(seconds, 1e-9));
}

} // namespace pg::seg
