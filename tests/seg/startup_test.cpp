// Start-up settings of the binaries (seg/runtime.h): the OpenBLAS kernels `pixelgrad` runs with
// are never for an older ISA than the CPU has, a user's OPENBLAS_CORETYPE always wins (and moves
// the direct convolution's path with it, and `info` says what that costs), and `info` names the
// CPU switches.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "seg/runtime.h"
#include "tests/seg/cli_helpers.h"

namespace pg::seg {
namespace {

// "  kernels:    OpenBLAS <core> (...)" -> <core>.
std::string kernels_in_info(const std::string& info) {
    std::istringstream lines(info);
    for (std::string line; std::getline(lines, line);) {
        const std::string key = "kernels:    OpenBLAS ";
        size_t at = line.find(key);
        if (at != std::string::npos) {
            std::string rest = line.substr(at + key.size());
            return rest.substr(0, rest.find(' '));
        }
    }
    return "";
}

TEST(Startup, IsaLevelsOfKernelNames) {
    EXPECT_EQ(openblas_isa_level("SkylakeX"), 4);
    EXPECT_EQ(openblas_isa_level("COOPERLAKE"), 4);
    EXPECT_EQ(openblas_isa_level("Haswell"), 3);
    EXPECT_EQ(openblas_isa_level("Zen"), 3);
    EXPECT_EQ(openblas_isa_level("Sandybridge"), 2);
    EXPECT_EQ(openblas_isa_level("Prescott"), 1);
    EXPECT_EQ(openblas_isa_level("Nehalem"), 1);
    EXPECT_EQ(openblas_isa_level("NoSuchCore"), 0);
    // The best set for this CPU is one of the three the start-up may choose, or none.
    const std::string best = openblas_kernels_for_this_cpu();
    EXPECT_TRUE(best.empty() || openblas_isa_level(best) >= 2) << best;
}

TEST(Startup, KernelsAreNeverOlderThanTheCpuAllows) {
    if (std::getenv("OPENBLAS_CORETYPE")) GTEST_SKIP() << "OPENBLAS_CORETYPE is set here";
    CliResult r = run_pixelgrad({"info"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string core = kernels_in_info(r.output);
    ASSERT_FALSE(core.empty()) << r.output;
    const std::string best = openblas_kernels_for_this_cpu();
    if (!best.empty()) {
        EXPECT_GE(openblas_isa_level(core), openblas_isa_level(best)) << r.output;
    }
}

TEST(Startup, TheUsersCoretypeWins) {
    CliResult r = run_pixelgrad({"info"}, {"OPENBLAS_CORETYPE=Nehalem"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(kernels_in_info(r.output), "Nehalem") << r.output;
    EXPECT_NE(r.output.find("OPENBLAS_CORETYPE=Nehalem"), std::string::npos) << r.output;
    // pixelgrad's own vectorised kernels follow the same variable.
    EXPECT_NE(r.output.find("direct conv SSE4.2"), std::string::npos) << r.output;
    // ... and it says what that costs when the CPU could do better, and only then.
    const std::string best = openblas_kernels_for_this_cpu();
    const char* note = "holds OpenBLAS and pixelgrad's CPU kernels to";
    EXPECT_EQ(r.output.find(note) != std::string::npos, openblas_isa_level(best) > 1) << r.output;
    if (openblas_isa_level(best) >= 3) {
        CliResult haswell = run_pixelgrad({"info"}, {"OPENBLAS_CORETYPE=Haswell"});
        EXPECT_NE(haswell.output.find("direct conv AVX2+FMA"), std::string::npos) << haswell.output;
        EXPECT_EQ(haswell.output.find(note) != std::string::npos, openblas_isa_level(best) > 3)
            << haswell.output;
    }
    if (!best.empty()) {
        CliResult own = run_pixelgrad({"info"}, {"OPENBLAS_CORETYPE=" + best});
        EXPECT_EQ(own.output.find(note), std::string::npos) << own.output;
    }
}

TEST(Startup, InfoNamesTheCpuSwitches) {
    CliResult on = run_pixelgrad({"info"});
    ASSERT_EQ(on.exit_code, 0) << on.output;
#if defined(__SANITIZE_ADDRESS__) // AddressSanitizer's allocator refuses glibc's mallopt
    const char* kept = "cpu memory: the allocator's defaults (mallopt refused the thresholds";
#else
    const char* kept = "cpu memory: freed tensors kept in glibc's heap";
#endif
    EXPECT_NE(on.output.find(kept), std::string::npos) << on.output;
    CliResult off = run_pixelgrad(
        {"info"}, {"PG_CPU_DIRECT_CONV=0", "PG_CPU_MALLOC=system", "PG_CPU_CONV_REGIONS=0"});
    ASSERT_EQ(off.exit_code, 0) << off.output;
    EXPECT_NE(off.output.find("(off: PG_CPU_DIRECT_CONV=0)"), std::string::npos) << off.output;
    EXPECT_NE(off.output.find("row bands (off: PG_CPU_CONV_REGIONS=0)"), std::string::npos)
        << off.output;
    EXPECT_EQ(on.output.find("PG_CPU_CONV_REGIONS=0"), std::string::npos) << on.output;
    EXPECT_NE(off.output.find("cpu memory: glibc defaults (PG_CPU_MALLOC=system)"),
              std::string::npos)
        << off.output;
}

} // namespace
} // namespace pg::seg
