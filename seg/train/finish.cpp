// finish_run / profile_steps (seg/train/finish.h).
#include "seg/train/finish.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nn/checkpoint.h"
#include "seg/data_config.h"
#include "seg/report.h"
#include "seg/visualize.h"

namespace pg::seg {

namespace fs = std::filesystem;

void finish_run(const FinishInputs& in, bool quiet) {
    fs::path dir(in.run_dir);
    fs::path best = dir / "checkpoints" / "best.safetensors";
    if (in.overlays > 0 && in.val.size() > 0 && fs::exists(best)) {
        // The best network, not the last one: the overlays should show what eval.json scores.
        Generator gen(0);
        std::shared_ptr<nn::SegmentationNet> net = nn::build_segmenter(in.net_options, gen);
        nn::load_weights(*net, best.string(), /*strict=*/true, nn::segmenter_name(in.net_options));
        net->to(in.device);
        Config data = in.config->section("dataset");
        fs::remove_all(dir / "overlays");
        fs::create_directories(dir / "overlays");
        write_sample_overlays(*net, in.val, normalization(data), eval_options(data), in.device,
                              (dir / "overlays").string(), int(in.overlays));
    }
    write_report(in.run_dir);
    if (!quiet) std::printf("report: %s\n", (dir / "report.html").c_str());
}

void profile_steps(int64_t, int64_t, const std::string&, const std::function<void(StepLog&)>&) {}

} // namespace pg::seg
