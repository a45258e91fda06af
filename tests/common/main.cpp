// The main of every test executable: registers the backends, then runs GoogleTest.
#include <gtest/gtest.h>

#include "seg/runtime.h"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    pg::init_backends();
    return RUN_ALL_TESTS();
}
