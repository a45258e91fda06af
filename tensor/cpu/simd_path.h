// Which instruction set the CPU kernels that pixelgrad vectorises itself run with (the direct
// convolution of tensor/cpu/conv_direct.cpp), picked once per process: the CPU's best, or the level
// of OPENBLAS_CORETYPE when that is set, so one variable picks both libraries' kernels (the
// numerics tests run the suite under several: tools/test_numerics.sh).
#pragma once

#include <string>

namespace pg::cpu {

enum class SimdPath {
    sse42,  // x86-64-v2: 4 floats a vector, no FMA (every x86-64 CPU of the last 15 years)
    avx2,   // x86-64-v3: 8 floats, FMA (Haswell, Zen)
    avx512, // AVX-512 F/BW/DQ/VL: 16 floats, FMA, 32 registers (Skylake-X and later)
};
constexpr SimdPath kSimdPaths[] = {SimdPath::sse42, SimdPath::avx2, SimdPath::avx512};

// The path every direct-convolution call takes in this process.
SimdPath simd_path();
// Whether this CPU can execute the path (tests run every one that can).
bool simd_path_runs_here(SimdPath path);
const char* simd_path_name(SimdPath path); // "SSE4.2", "AVX2+FMA", "AVX-512"

// OpenBLAS's core names by instruction-set level: 4 AVX-512 (SkylakeX, ...), 3 AVX2 (Haswell,
// Zen, ...), 2 AVX (Sandybridge, ...), 1 older, 0 a name it does not know. Case-insensitive.
int isa_level_of_core(std::string core);
// This CPU's level on the same scale (what the instruction set allows, not what OpenBLAS picked).
int isa_level_of_this_cpu();

} // namespace pg::cpu
