// RIPU's tiny target world and the overrides that make write_config's run a RIPU run (shared by
// ripu_test and the data-parallel tests).
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "seg/synth/world.h"

namespace pg::seg {

// A target world beside the tiny source world: another style and seed, 24x40 native, resized to
// 16x24 for the network (RIPU's 2048x1024 -> 1280x640).
inline std::string target_world(const std::string& name) {
    synth::WorldOptions o;
    o.out_dir = ::testing::TempDir() + "pg_ripu_target_" + name;
    o.scene.height = 24, o.scene.width = 40;
    o.scene.num_classes = 5;
    o.scene.style = synth::Style::target;
    o.scene.min_size = 0.2f, o.scene.max_size = 0.4f, o.scene.max_objects = 3;
    o.num_train = 8, o.num_val = 4, o.seed = 7, o.force = true;
    synth::write_world(o);
    return o.out_dir;
}

// write_config's tiny world is the source; 6 steps, rounds before steps 2 and 4 (0-based).
inline std::vector<std::string> ripu_overrides(const std::string& name,
                                               const std::string& selection) {
    std::string t = target_world(name);
    return {"dataset.source={split: train, flip: false}",
            "dataset.target={root: " + t +
                ", split: train, resize: [16, 24], interp: bicubic, "
                "flip: false}",
            "dataset.val={root: " + t +
                ", split: val, resize: [16, 24], interp: bicubic, native_labels: true}",
            "trainer.method=ripu",
            "trainer.ripu={selection: " + selection + ", ratio: 0.1, rounds_at: [2, 4]" +
                (selection == "pixel" ? ", radius_k: 1}" : "}")};
}

} // namespace pg::seg
