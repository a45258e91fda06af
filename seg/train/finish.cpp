// finish_run / profile_steps (seg/train/finish.h).
#include "seg/train/finish.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nn/checkpoint.h"
#include "seg/data_config.h"
#include "seg/report.h"
#include "seg/visualize.h"
#include "tensor/collectives.h"
#include "tensor/file_io.h"
#include "tensor/profiler.h"

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

void profile_steps(int64_t parameters, int64_t steps, const std::string& run_dir,
                   const std::function<void(StepLog&)>& step) {
    StepLog warm_up; // cuDNN's algorithm search and first-touch allocations stay out of the table
    step(warm_up);
    profiler::reset();
    profiler::enable(true);
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < steps; ++i) {
        StepLog log;
        step(log);
    }
    double wall_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    profiler::enable(false);
    char head[160];
    std::snprintf(head, sizeof head,
                  "profile: %lld training steps (%lld parameters), %.1f ms/step\n",
                  (long long)steps, (long long)parameters, wall_ms / double(steps));
    std::string table = head + profiler::format_table(profiler::snapshot(), 40, wall_ms);
    if (collectives().rank() != 0) return; // every process ran the steps; rank 0 reports them
    std::printf("%s", table.c_str());
    std::string path = (fs::path(run_dir) / "profile.txt").string();
    write_file_atomic(path, "profile", table);
    std::printf("written to %s\n", path.c_str());
}

} // namespace pg::seg
