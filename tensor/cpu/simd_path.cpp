// The instruction-set path of pixelgrad's own vectorised CPU kernels: detected once, named for
// `pixelgrad info` (tensor/cpu/simd_path.h).
#include "tensor/cpu/simd_path.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace pg::cpu {

int isa_level_of_core(std::string core) {
    for (char& c : core) c = char(std::tolower(static_cast<unsigned char>(c)));
    for (const char* name : {"skylakex", "cooperlake", "sapphirerapids"})
        if (core == name) return 4;
    for (const char* name : {"haswell", "zen", "excavator", "steamroller"})
        if (core == name) return 3;
    for (const char* name : {"sandybridge", "bulldozer", "piledriver"})
        if (core == name) return 2;
    for (const char* name : {"katmai", "coppermine", "northwood", "prescott", "banias", "atom",
                             "core2", "penryn", "dunnington", "nehalem", "athlon", "opteron",
                             "opteron(sse3)", "barcelona", "nano", "bobcat"})
        if (core == name) return 1;
    return 0;
}

int isa_level_of_this_cpu() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 4;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 3;
    if (__builtin_cpu_supports("avx")) return 2;
    return 1;
}

static SimdPath path_of_level(int level) {
    if (level >= 4) return SimdPath::avx512;
    if (level == 3) return SimdPath::avx2;
    return SimdPath::sse42; // AVX without FMA gains little over SSE for these kernels
}

bool simd_path_runs_here(SimdPath path) {
    return int(path) <= int(path_of_level(isa_level_of_this_cpu()));
}

SimdPath simd_path() {
    static const SimdPath path = [] {
        int level = isa_level_of_this_cpu();
        if (const char* core = std::getenv("OPENBLAS_CORETYPE"))
            if (int asked = isa_level_of_core(core); asked > 0) level = std::min(level, asked);
        return path_of_level(level);
    }();
    return path;
}

const char* simd_path_name(SimdPath path) {
    switch (path) {
    case SimdPath::sse42:
        return "SSE4.2";
    case SimdPath::avx2:
        return "AVX2+FMA";
    case SimdPath::avx512:
        return "AVX-512";
    }
    return "?";
}

} // namespace pg::cpu
