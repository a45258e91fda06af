// cuBLAS is opened by the first GPU context (cuda/cublas_library.h), not when the binary loads:
// a process without a GPU never maps it (loading it made ~150 MB resident), one with a GPU has it
// open with every function bound, and `pixelgrad info` reports its version either way.
#include <cublas_v2.h>

#include <fstream>
#include <string>

#include "cuda/cublas_library.h"
#include "seg/runtime.h"
#include "tensor/backend.h"
#include "tests/common/test_util.h"

namespace pg::cuda {
namespace {

bool cublas_is_mapped() {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line))
        if (line.find("libcublas") != std::string::npos) return true;
    return false;
}

TEST(CublasLibrary, OpenedByTheFirstGpuContextOnly) {
    // tests/common/main.cpp has run init_backends(): a GPU, if any, has its context.
    const bool gpu = device_available(Device::cuda(0));
    if (test::gpu_required()) { ASSERT_TRUE(gpu) << "PG_REQUIRE_GPU=1 but no CUDA device"; }
    EXPECT_EQ(cublas_is_mapped(), gpu);

    std::string why;
    ASSERT_TRUE(cublas_library_available(&why)) << why; // the toolkit's, found at build time
    EXPECT_TRUE(cublas_is_mapped());
    const CublasLibrary& f = cublas_library();
    EXPECT_TRUE(f.create && f.set_stream && f.sgeam && f.gemm_strided_batched_ex && f.get_property);
    int major = 0;
    ASSERT_EQ(f.get_property(MAJOR_VERSION, &major), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(major, CUBLAS_VER_MAJOR);
    EXPECT_NE(build_info().find("cublas:     " + std::to_string(major) + "."), std::string::npos)
        << build_info();
}

} // namespace
} // namespace pg::cuda
