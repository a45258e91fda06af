// Convolution and GEMM throughput (GFLOP/s) at the layer shapes of ResNet-101 / DeepLab-v2 /
// DeepLabV3+, each pass (forward, backward-input, backward-weight) timed on its own through the
// Backend. CPU-sized: batch 1 and a 513 crop seen at its real strides (65x65 at stride 8, 129x129 at
// stride 4, 161x161 for the stem). tools/bench_torch_conv.py times the same shapes in PyTorch.
// Run: pg_bench --benchmark_filter=Conv
#include <benchmark/benchmark.h>

#include <string>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tensor/cpu/kernels.h"

namespace pg {
namespace {

struct ConvShape {
    const char* name; // the same names as tools/bench_torch_conv.py
    int64_t N, H, W, C, K, R, stride, pad, dilation, groups;
};

const ConvShape kConvShapes[] = {
    {"stem_7x7s2_3to64_161", 1, 161, 161, 3, 64, 7, 2, 3, 1, 1},          // ResNet conv1
    {"layer3_1x1_1024to256_65", 1, 65, 65, 1024, 256, 1, 1, 0, 1, 1},     // bottleneck reduce
    {"layer4_3x3d4_512_65", 1, 65, 65, 512, 512, 3, 1, 4, 4, 1},          // dilated bottleneck
    {"aspp_3x3d12_2048to256_65", 1, 65, 65, 2048, 256, 3, 1, 12, 12, 1},  // v3+ ASPP branch
    {"classifier_3x3d6_2048to21_65", 1, 65, 65, 2048, 21, 3, 1, 6, 6, 1}, // v2 ASPP classifier
    {"decoder_3x3_512to256_129", 1, 129, 129, 512, 256, 3, 1, 1, 1, 1},   // v3+ classifier
    {"depthwise_3x3_256_129", 1, 129, 129, 256, 256, 3, 1, 1, 1, 256},    // separable-conv half
    // `make demo`'s network (1/8 width, batch 8 at 64x64): few channels, small maps.
    {"demo_stem_3x3s2_3to8_64", 8, 64, 64, 3, 8, 3, 2, 1, 1, 1},
    {"demo_3x3_8to8_32", 8, 32, 32, 8, 8, 3, 1, 1, 1, 1},
    {"demo_3x3_112to64_17", 8, 17, 17, 112, 64, 3, 1, 1, 1, 1}, // decoder head
    {"demo_3x3d2_256to32_9", 8, 9, 9, 256, 32, 3, 1, 2, 2, 1},  // ASPP branch
    {"demo_3x3d6_256to32_9", 8, 9, 9, 256, 32, 3, 1, 6, 6, 1},  // ASPP branch, mostly padding
    {"demo_3x3_160to64_9", 8, 9, 9, 160, 64, 3, 1, 1, 1, 1},    // ASPP projection
    {"demo_1x1_128to256_9", 8, 9, 9, 128, 256, 1, 1, 0, 1, 1},  // bottleneck expand
    {"demo_1x1_32to128_9", 8, 9, 9, 32, 128, 1, 1, 0, 1, 1},
    {"demo_1x1_256to32_9", 8, 9, 9, 256, 32, 1, 1, 0, 1, 1},    // bottleneck reduce
    {"demo_1x1_32to48_17", 8, 17, 17, 32, 48, 1, 1, 0, 1, 1},   // decoder's low-level projection
    {"demo_1x1s2_32to64_17", 8, 17, 17, 32, 64, 1, 2, 0, 1, 1}, // downsample
    {"demo_1x1_16to64_9", 8, 9, 9, 16, 64, 1, 1, 0, 1, 1},
    {"demo_1x1_16to8_17", 8, 17, 17, 16, 8, 1, 1, 0, 1, 1},
    {"demo_1x1_64to3_17", 8, 17, 17, 64, 3, 1, 1, 0, 1, 1}, // classifier
    // A grid over channel counts for the direct kernels' crossovers (tensor/cpu/conv_direct.cpp):
    // run with PG_CPU_DIRECT_CONV=0 (im2col + OpenBLAS) and =1, compare.
    {"g_8to16_32", 8, 32, 32, 8, 16, 3, 1, 1, 1, 1},
    {"g_16to16_17", 8, 17, 17, 16, 16, 3, 1, 1, 1, 1},
    {"g_16to64_17", 8, 17, 17, 16, 64, 3, 1, 1, 1, 1},
    {"g_32to32_33", 2, 33, 33, 32, 32, 3, 1, 1, 1, 1},
    {"g_32to32_9", 8, 9, 9, 32, 32, 3, 1, 1, 1, 1},
    {"g_32to32_65", 2, 65, 65, 32, 32, 3, 1, 1, 1, 1}, // ResNet variant C's deep stem
    {"g_32to64_65", 2, 65, 65, 32, 64, 3, 1, 1, 1, 1},
    {"g_64to64_17", 8, 17, 17, 64, 64, 3, 1, 1, 1, 1},
    {"g_64to64_9d4", 8, 9, 9, 64, 64, 3, 1, 4, 4, 1},
    {"g_128to128_17d2", 2, 17, 17, 128, 128, 3, 1, 2, 2, 1},
    {"g_256to256_17d4", 2, 17, 17, 256, 256, 3, 1, 4, 4, 1},
    {"g_256to256_17d2", 2, 17, 17, 256, 256, 3, 1, 2, 2, 1}, // R101 layer3 at a 129 crop
    {"g_512to512_17d4", 2, 17, 17, 512, 512, 3, 1, 4, 4, 1}, // R101 layer4 at a 129 crop
    {"g_stem7_3to32_129", 2, 129, 129, 3, 32, 7, 2, 3, 1, 1},
    {"g_1x1_256to64_33", 2, 33, 33, 256, 64, 1, 1, 0, 1, 1},     // R50 w0.5 layer2 reduce
    {"g_1x1_512to128_17", 2, 17, 17, 512, 128, 1, 1, 0, 1, 1},   // R50 w0.5 layer3 reduce
    {"g_1x1_1024to256_17", 2, 17, 17, 1024, 256, 1, 1, 0, 1, 1}, // R101 layer3 reduce
    {"g_1x1_256to1024_17", 2, 17, 17, 256, 1024, 1, 1, 0, 1, 1}, // R101 layer3 expand
    {"g_1x1s2_128to256_33", 2, 33, 33, 128, 256, 1, 2, 0, 1, 1}, // R50 w0.5 layer2 downsample
    {"g_1x1s2_256to512_33", 2, 33, 33, 256, 512, 1, 2, 0, 1, 1}, // R101 layer2 downsample
};

enum class Pass { forward, backward_input, backward_weight };

ConvGeometry geometry_of(const ConvShape& s) {
    ConvGeometry g{s.N, s.H,      s.W,      s.C,   s.K,   s.R,        s.R,        0,
                   0,   s.stride, s.stride, s.pad, s.pad, s.dilation, s.dilation, s.groups};
    g.P = (s.H + 2 * s.pad - s.dilation * (s.R - 1) - 1) / s.stride + 1;
    g.Q = (s.W + 2 * s.pad - s.dilation * (s.R - 1) - 1) / s.stride + 1;
    return g;
}

// Random x, w and y (or dy), and dx, dw to write, for a geometry.
struct ConvTensors {
    Tensor x, w, y, dx, dw;
};
ConvTensors conv_tensors(const ConvGeometry& g) {
    Generator gen(1);
    ConvTensors t;
    t.x = Tensor::uniform({g.N, g.H, g.W, g.C}, gen, -1.f, 1.f);
    t.w = Tensor::uniform({g.K, g.R, g.S, g.C / g.groups}, gen, -0.1f, 0.1f);
    t.y = Tensor::uniform({g.N, g.P, g.Q, g.K}, gen, -1.f, 1.f); // y, or dy for backward
    t.dx = Tensor::empty(t.x.shape());
    t.dw = Tensor::empty(t.w.shape());
    return t;
}

// 2 N P Q K R S C/groups for each of the three passes.
void count_conv_flops(benchmark::State& state, const ConvGeometry& g) {
    const double flops = 2.0 * double(g.N * g.P * g.Q * g.K * g.R * g.S * (g.C / g.groups));
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void run_conv(benchmark::State& state, const ConvShape& s, Pass pass) {
    const ConvGeometry g = geometry_of(s);
    ConvTensors t = conv_tensors(g);
    Backend& be = backend_for(t.x.device());
    for (auto _ : state) {
        if (pass == Pass::forward) be.conv2d_forward(t.y.f32(), t.x.f32(), t.w.f32(), nullptr, g);
        if (pass == Pass::backward_input)
            be.conv2d_backward_input(t.dx.f32(), t.y.f32(), t.w.f32(), g);
        if (pass == Pass::backward_weight)
            be.conv2d_backward_weight(t.dw.f32(), t.y.f32(), t.x.f32(), g);
        be.synchronize();
    }
    count_conv_flops(state, g);
}

// GEMMs at 1x1-convolution shapes (65x65 = 4225 and 129x129 = 16641 pixels): the forward form
// y (pixels, K) = x (pixels, C) w^T and the weight-gradient form dw (K, C) = dy^T x.
struct GemmShape {
    const char* name;
    bool trans_a, trans_b;
    int64_t m, n, k;
};

const GemmShape kGemmShapes[] = {
    {"fwd_4225x256x1024", false, true, 4225, 256, 1024},
    {"fwd_4225x1024x256", false, true, 4225, 1024, 256},
    {"fwd_16641x256x256", false, true, 16641, 256, 256},
    {"wgrad_256x1024x4225", true, false, 256, 1024, 4225},
    {"fwd_2312x64x1008", false, true, 2312, 64, 1008}, // the demo's decoder head as im2col GEMM
};

void run_gemm(benchmark::State& state, const GemmShape& s) {
    Generator gen(1);
    // A stored (m, k) or (k, m), B stored (k, n) or (n, k); the element counts are the same.
    Tensor a = Tensor::uniform({s.m * s.k}, gen), b = Tensor::uniform({s.k * s.n}, gen);
    Tensor c = Tensor::empty({s.m * s.n});
    Backend& be = backend_for(a.device());
    for (auto _ : state) {
        be.gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.f, a.f32(), s.trans_a ? s.m : s.k, 0,
                b.f32(), s.trans_b ? s.k : s.n, 0, 0.f, c.f32(), s.n, 0, 1);
        be.synchronize();
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(s.m * s.n * s.k) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

// The direct kernels (tensor/cpu/conv_direct.cpp) on each instruction-set path this CPU runs, at
// the demo's few- and middling-channel shapes: what AVX2 and AVX-512 buy over the SSE4.2 build.
const char* const kDirectShapes[] = {"demo_stem_3x3s2_3to8_64", "demo_3x3_8to8_32", "g_16to16_17",
                                     "g_32to32_33", "demo_3x3_112to64_17"};

void run_direct(benchmark::State& state, const ConvShape& s, Pass pass, cpu::SimdPath path) {
    const ConvGeometry g = geometry_of(s);
    ConvTensors t = conv_tensors(g);
    for (auto _ : state) {
        if (pass == Pass::forward)
            cpu::conv2d_direct_forward(t.y.f32(), t.x.f32(), t.w.f32(), nullptr, g, path);
        if (pass == Pass::backward_input)
            cpu::conv2d_direct_backward_input(t.dx.f32(), t.y.f32(), t.w.f32(), g, path);
        if (pass == Pass::backward_weight)
            cpu::conv2d_direct_backward_weight(t.dw.f32(), t.y.f32(), t.x.f32(), g, path);
    }
    count_conv_flops(state, g);
}

void register_direct(const std::pair<Pass, const char*>* passes, int count) {
    for (const ConvShape& s : kConvShapes)
        for (const char* name : kDirectShapes) {
            if (std::string(name) != s.name) continue;
            for (int i = 0; i < count; i++) {
                const auto [pass, prefix] = passes[i];
                if (pass == Pass::backward_input && s.stride != 1) continue;
                for (cpu::SimdPath path : cpu::kSimdPaths) {
                    if (!cpu::simd_path_runs_here(path)) continue;
                    const std::string label = std::string("ConvDirect") + (prefix + 4) + s.name +
                                              "/" + cpu::simd_path_name(path);
                    benchmark::RegisterBenchmark(label.c_str(), run_direct, s, pass, path)
                        ->Unit(benchmark::kMillisecond)
                        ->UseRealTime();
                }
            }
        }
}

const bool kRegistered = [] {
    const std::pair<Pass, const char*> passes[] = {{Pass::forward, "ConvForward/"},
                                                   {Pass::backward_input, "ConvBackwardInput/"},
                                                   {Pass::backward_weight, "ConvBackwardWeight/"}};
    for (const ConvShape& s : kConvShapes)
        for (const auto& [pass, prefix] : passes)
            benchmark::RegisterBenchmark((std::string(prefix) + s.name).c_str(), run_conv, s, pass)
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
    for (const GemmShape& s : kGemmShapes)
        benchmark::RegisterBenchmark((std::string("ConvGemm/") + s.name).c_str(), run_gemm, s)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    register_direct(passes, 3);
    return true;
}();

} // namespace
} // namespace pg
