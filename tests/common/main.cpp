// The main of every test executable: registers the backends, then runs GoogleTest.
#include <gtest/gtest.h>

#include "pg_config.h"
#include "seg/runtime.h"
#if PG_WITH_CUDA
#include "cuda/settings.h"
#endif

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    pg::init_backends();
#if PG_WITH_CUDA
    // Parity tests compare with the f32 CPU reference at ~1e-4: TF32 (10-bit mantissa) is off.
    pg::cuda::settings().allow_tf32 = false;
#endif
    return RUN_ALL_TESTS();
}
