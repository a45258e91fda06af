// finish_run / profile_steps (seg/train/finish.h).
#include "seg/train/finish.h"

#include <cstdio>
#include <filesystem>

#include "nn/checkpoint.h"
#include "seg/report.h"

namespace pg::seg {

namespace fs = std::filesystem;

void finish_run(const FinishInputs& in, bool quiet) {
    write_report(in.run_dir);
    if (!quiet) std::printf("report: %s\n", (fs::path(in.run_dir) / "report.html").c_str());
}

void profile_steps(int64_t, int64_t, const std::string&, const std::function<void(StepLog&)>&) {}

} // namespace pg::seg
