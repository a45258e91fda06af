// The trainer's numbers pinned: short supervised and U2PL runs with a fixed seed must log the
// same losses and write the same weights, bit for bit, as tests/data/trainer_golden.json, which
// the trainer before the multi-part refactor (method-owned steps, named parts) wrote. Bits are
// reproducible across CPUs only with the kernels fixed, so the binary runs single-threaded with
// OPENBLAS_CORETYPE=Nehalem (our own code is built for x86-64-v2 on every machine, with one
// compiler: Debian's GCC, and the direct convolution and BN's loops follow that variable to their
// SSE4.2 builds). A change that legitimately alters the numbers regenerates the file:
//   PG_UPDATE_GOLDEN=1 build/pg_tests_seg --gtest_filter='TrainerGolden.*'
// and says why in its commit.
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "tests/seg/cli_helpers.h"
#include "tests/seg/train_helpers.h"

namespace pg::seg {
namespace {

const char* kGoldenFile = PG_TEST_DATA_DIR "/trainer_golden.json";

// FNV-1a over a tensor's bytes: equal digests <=> (almost surely) bit-identical tensors.
std::string digest(const Tensor& t) {
    const unsigned char* p = static_cast<const unsigned char*>(t.raw()); // loaded: CPU, contiguous
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < t.nbytes(); i++) h = (h ^ p[i]) * 1099511628211ull;
    std::ostringstream s;
    s << std::hex << std::setw(16) << std::setfill('0') << h;
    return s.str();
}

// What the run is pinned by: every logged row's step, loss and loss terms, and the digest of
// every tensor of the last and best weights.
nlohmann::json fingerprint(const std::string& run_dir) {
    nlohmann::json out;
    for (const nlohmann::json& row : rows(run_dir, "train"))
        out["rows"].push_back(
            {{"step", row["step"]}, {"loss", row["loss"]}, {"losses", row["losses"]}});
    for (const char* file : {"last.safetensors", "best.safetensors"})
        for (auto& [key, t] : load_safetensors(run_dir + "/checkpoints/" + file))
            out[file][key] = digest(t);
    return out;
}

// Runs the binary with the kernels fixed; returns the fingerprint of the run.
nlohmann::json pinned_run(const std::string& name, const std::vector<std::string>& sets) {
    std::string config = write_config(name, "  iterations: 10\n  eval_interval: 5\n");
    std::vector<std::string> args{"train",     "--config",      config,
                                  "--run-dir", fresh_dir(name), "--quiet"};
    for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
    CliResult r = run_pixelgrad(
        args, {"OPENBLAS_CORETYPE=Nehalem", "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return fingerprint(::testing::TempDir() + "pg_train_run_" + name);
}

void check_against_golden(const std::string& method, const nlohmann::json& actual) {
    nlohmann::json golden;
    if (std::ifstream in(kGoldenFile); in) golden = nlohmann::json::parse(in);
    if (std::getenv("PG_UPDATE_GOLDEN") != nullptr) {
        golden[method] = actual;
        std::ofstream(kGoldenFile) << golden.dump(1) << "\n";
        GTEST_SKIP() << "wrote " << kGoldenFile;
    }
    ASSERT_TRUE(golden.contains(method)) << kGoldenFile << " has no entry for " << method;
    const nlohmann::json& want = golden[method];
    ASSERT_EQ(actual["rows"].size(), want["rows"].size());
    for (size_t i = 0; i < want["rows"].size(); i++)
        EXPECT_EQ(actual["rows"][i], want["rows"][i]) << method << " logged row " << i;
    for (const char* file : {"last.safetensors", "best.safetensors"})
        EXPECT_EQ(actual[file], want[file]) << method << " " << file;
}

TEST(TrainerGolden, SupervisedLogsAndWeightsAreUnchanged) {
    check_against_golden("supervised", pinned_run("golden_supervised", {}));
}

// Warm-up epoch, then semi steps with the teacher, CutMix, the entropy split and the banks.
TEST(TrainerGolden, U2plLogsAndWeightsAreUnchanged) {
    check_against_golden(
        "u2pl",
        pinned_run("golden_u2pl",
                   {"trainer.method=u2pl", "trainer.epoch_samples=unlabeled",
                    "trainer.sup_only_epoch=1", "dataset.unlabeled={list: splits/16/unlabeled.txt}",
                    "net.decoder={inner_planes: 16, dilations: [1, 2, 3], use_rep: true,"
                    " rep_planes: 16, head_planes: 32, low_planes: 16, dropout: 0.1}",
                    "trainer.contrastive={loss_weight: 1.0, num_queries: 32,"
                    " num_negatives: 8, queue_size: 500, queue_size_class0: 800}"}));
}

} // namespace
} // namespace pg::seg
