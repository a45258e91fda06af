// GPU kernel throughput at the real training shapes: DeepLabV3+ ResNet-101 (513x513 crops, batch 8,
// output stride 8 -> 65x65 feature maps) and DeepLab-v2 (321x321, batch 10 -> 41x41). Convolution
// passes report TFLOP/s; batch norm, softmax + cross-entropy and the logits resize report GB/s of
// compulsory traffic. Times are device time from CUDA events (bench/gpu_timer.h), except for the
// host -> device uploads, whose GB/s are of wall time. Each benchmark skips itself without a GPU.
// tools/bench_torch_gpu.py times the same ops in PyTorch.
// Run: pg_bench --benchmark_filter=Gpu   (PG_BENCH_TF32=0 turns TF32 off, PG_BENCH_EXHAUSTIVE=1
// makes cuDNN time every algorithm once per shape; both as the --no-tf32 / --cudnn-benchmark flags
// of the PyTorch script).
#include "pg_config.h"

#if PG_CUDA_ENABLED

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/gpu_timer.h"
#include "cuda/settings.h"
#include "tensor/backend.h"
#include "tensor/pinned_staging.h"
#include "tensor/tensor.h"

namespace pg {
namespace {

const Device kGpu = Device::cuda(0);

// The environment's numerics settings, applied before every benchmark (the algorithm cache keys
// on them, so changing them between runs is safe).
void apply_env_settings() {
    const char* tf32 = std::getenv("PG_BENCH_TF32");
    const char* exhaustive = std::getenv("PG_BENCH_EXHAUSTIVE");
    cuda::settings().allow_tf32 = !(tf32 && std::string(tf32) == "0");
    cuda::settings().exhaustive_search = exhaustive && std::string(exhaustive) == "1";
}

bool gpu_or_skip(benchmark::State& state) {
    if (device_available(kGpu)) {
        apply_env_settings();
        return true;
    }
    state.SkipWithError("no CUDA device");
    return false;
}

// Runs body once untimed (cuDNN algorithm choice, allocator warm-up), then times every iteration
// with CUDA events. Rates are computed here from the summed device time.
template <typename Body>
void time_gpu(benchmark::State& state, Body body, double flops, double bytes) {
    body();
    backend_for(kGpu).synchronize();
    bench::GpuTimer timer;
    double total = 0.0;
    for (auto _ : state) {
        timer.start();
        body();
        const double seconds = timer.stop();
        state.SetIterationTime(seconds);
        total += seconds;
    }
    const double iters = double(state.iterations());
    if (total <= 0.0) return;
    if (flops > 0) state.counters["TFLOP/s"] = flops * iters / total * 1e-12;
    if (bytes > 0) state.counters["GB/s"] = bytes * iters / total * 1e-9;
}

// ---- convolution ----

struct ConvShape {
    const char* name; // the same names as tools/bench_torch_gpu.py
    int64_t N, H, W, C, K, R, stride, pad, dilation, groups;
};

const ConvShape kConvShapes[] = {
    // DeepLabV3+ (U2PL), ResNet-101 deep stem, 513x513 batch 8, output stride 8.
    {"v3p_stem_3x3s2_3to64_513", 8, 513, 513, 3, 64, 3, 2, 1, 1, 1},
    {"v3p_stem_3x3_64to128_257", 8, 257, 257, 64, 128, 3, 1, 1, 1, 1},
    {"v3p_layer1_1x1_256to64_129", 8, 129, 129, 256, 64, 1, 1, 0, 1, 1},
    {"v3p_layer1_3x3_64_129", 8, 129, 129, 64, 64, 3, 1, 1, 1, 1},
    {"v3p_layer1_1x1_64to256_129", 8, 129, 129, 64, 256, 1, 1, 0, 1, 1},
    {"v3p_layer2_3x3s2_128_129", 8, 129, 129, 128, 128, 3, 2, 1, 1, 1},
    {"v3p_layer3_1x1_1024to256_65", 8, 65, 65, 1024, 256, 1, 1, 0, 1, 1},
    {"v3p_layer3_3x3d2_256_65", 8, 65, 65, 256, 256, 3, 1, 2, 2, 1},
    {"v3p_layer3_1x1_256to1024_65", 8, 65, 65, 256, 1024, 1, 1, 0, 1, 1},
    {"v3p_layer4_3x3d4_512_65", 8, 65, 65, 512, 512, 3, 1, 4, 4, 1},
    {"v3p_layer4_1x1_2048to512_65", 8, 65, 65, 2048, 512, 1, 1, 0, 1, 1},
    {"v3p_aspp_3x3d12_2048to256_65", 8, 65, 65, 2048, 256, 3, 1, 12, 12, 1},
    {"v3p_aspp_3x3d36_2048to256_65", 8, 65, 65, 2048, 256, 3, 1, 36, 36, 1},
    {"v3p_head_3x3_1280to256_65", 8, 65, 65, 1280, 256, 3, 1, 1, 1, 1},
    {"v3p_classifier_3x3_304to256_129", 8, 129, 129, 304, 256, 3, 1, 1, 1, 1},
    {"v3p_logits_1x1_256to21_129", 8, 129, 129, 256, 21, 1, 1, 0, 1, 1},
    // DeepLab-v2 (AdvSemiSeg), ResNet-101 7x7 stem, 321x321 batch 10, output stride 8.
    {"v2_stem_7x7s2_3to64_321", 10, 321, 321, 3, 64, 7, 2, 3, 1, 1},
    {"v2_layer3_3x3d2_256_41", 10, 41, 41, 256, 256, 3, 1, 2, 2, 1},
    {"v2_layer4_3x3d4_512_41", 10, 41, 41, 512, 512, 3, 1, 4, 4, 1},
    {"v2_aspp_3x3d24_2048to21_41", 10, 41, 41, 2048, 21, 3, 1, 24, 24, 1},
};

enum class Pass { forward, backward_data, backward_filter };

ConvGeometry geometry_of(const ConvShape& s) {
    ConvGeometry g{s.N, s.H,      s.W,      s.C,   s.K,   s.R,        s.R,        0,
                   0,   s.stride, s.stride, s.pad, s.pad, s.dilation, s.dilation, s.groups};
    g.P = (s.H + 2 * s.pad - s.dilation * (s.R - 1) - 1) / s.stride + 1;
    g.Q = (s.W + 2 * s.pad - s.dilation * (s.R - 1) - 1) / s.stride + 1;
    return g;
}

void run_conv(benchmark::State& state, const ConvShape& s, Pass pass) {
    if (!gpu_or_skip(state)) return;
    const ConvGeometry g = geometry_of(s);
    Generator gen(1);
    Tensor x = Tensor::uniform({g.N, g.H, g.W, g.C}, gen, -1.f, 1.f, kGpu);
    Tensor w = Tensor::uniform({g.K, g.R, g.S, g.C / g.groups}, gen, -0.1f, 0.1f, kGpu);
    Tensor y = Tensor::uniform({g.N, g.P, g.Q, g.K}, gen, -1.f, 1.f, kGpu); // y, or dy backward
    Tensor dx = Tensor::empty(x.shape(), DType::f32, kGpu);
    Tensor dw = Tensor::empty(w.shape(), DType::f32, kGpu);
    Backend& be = backend_for(kGpu);
    auto body = [&] {
        if (pass == Pass::forward) be.conv2d_forward(y.f32(), x.f32(), w.f32(), nullptr, g);
        if (pass == Pass::backward_data) be.conv2d_backward_input(dx.f32(), y.f32(), w.f32(), g);
        if (pass == Pass::backward_filter) be.conv2d_backward_weight(dw.f32(), y.f32(), x.f32(), g);
    };
    // 2 N P Q K R S C/groups for each pass; compulsory traffic is x, w and y once each.
    const double flops = 2.0 * double(g.N * g.P * g.Q * g.K * g.R * g.S * (g.C / g.groups));
    const double bytes = double(x.nbytes() + w.nbytes() + y.nbytes());
    time_gpu(state, body, flops, bytes);
}

// ---- batch norm: training forward + backward (dx, dweight, dbias) ----

// Bytes in passes over an activation-sized tensor: forward = statistics (read x) + normalise
// (read x, write y) = 3; backward = sums (read x, dy) + dx (read x, dy, write dx) = 5.
constexpr int kBnPasses = 8;

struct BnShape {
    const char* name;
    int64_t N, H, W, C;
};

const BnShape kBnShapes[] = {
    {"v3p_layer1_129x129x256", 8, 129, 129, 256},
    {"v3p_layer3_65x65x1024", 8, 65, 65, 1024},
    {"v3p_layer4_65x65x2048", 8, 65, 65, 2048},
    {"v2_layer3_41x41x1024", 10, 41, 41, 1024},
};

void run_batch_norm(benchmark::State& state, const BnShape& s) {
    if (!gpu_or_skip(state)) return;
    const int64_t rows = s.N * s.H * s.W, C = s.C;
    Generator gen(1);
    Tensor x = Tensor::uniform({rows, C}, gen, -1.f, 3.f, kGpu);
    Tensor dy = Tensor::uniform({rows, C}, gen, -1.f, 1.f, kGpu);
    Tensor y = Tensor::empty({rows, C}, DType::f32, kGpu);
    Tensor dx = Tensor::empty({rows, C}, DType::f32, kGpu);
    Tensor w = Tensor::ones({C}, DType::f32, kGpu), b = Tensor::zeros({C}, DType::f32, kGpu);
    Tensor rm = Tensor::zeros({C}, DType::f32, kGpu), rv = Tensor::ones({C}, DType::f32, kGpu);
    Tensor mean = Tensor::empty({C}, DType::f32, kGpu),
           invstd = Tensor::empty({C}, DType::f32, kGpu);
    Tensor dw = Tensor::empty({C}, DType::f32, kGpu), db = Tensor::empty({C}, DType::f32, kGpu);
    Backend& be = backend_for(kGpu);
    auto body = [&] {
        be.batch_norm_forward_train(y.f32(), mean.f32(), invstd.f32(), rm.f32(), rv.f32(), x.f32(),
                                    w.f32(), b.f32(), rows, C, 0.1f, 1e-5f, false);
        be.batch_norm_backward(dx.f32(), dw.f32(), db.f32(), dy.f32(), x.f32(), w.f32(), mean.f32(),
                               invstd.f32(), rows, C, true, nullptr);
    };
    time_gpu(state, body, 0.0, double(x.nbytes()) * kBnPasses);
}

// ---- softmax and cross-entropy over the full-resolution logits (8, 513, 513, 21) ----

constexpr int64_t kClasses = 21, kIgnore = 255;
const int64_t kLogitRows = 8 * 513 * 513;

// Targets in [0, 21) with about 5% ignore_index (255), like VOC's object boundaries.
Tensor make_targets(int64_t rows) {
    Generator gen(2);
    std::vector<float> u = Tensor::uniform({rows}, gen).to_f32_vector();
    std::vector<int32_t> t(u.size());
    for (size_t i = 0; i < t.size(); i++) {
        const int32_t c = int32_t((u[i] - 0.05f) / 0.95f * float(kClasses));
        t[i] = u[i] < 0.05f ? int32_t(kIgnore) : std::min(c, int32_t(kClasses - 1));
    }
    return Tensor::from_vector(t, {rows}, kGpu);
}

// Forward (loss and weight_used per pixel) then backward (dlogits with dloss = 1).
void run_cross_entropy(benchmark::State& state) {
    if (!gpu_or_skip(state)) return;
    Generator gen(1);
    Tensor logits = Tensor::uniform({kLogitRows, kClasses}, gen, -4.f, 4.f, kGpu);
    Tensor target = make_targets(kLogitRows);
    Tensor loss = Tensor::empty({kLogitRows}, DType::f32, kGpu);
    Tensor used = Tensor::empty({kLogitRows}, DType::f32, kGpu);
    Tensor dloss = Tensor::ones({kLogitRows}, DType::f32, kGpu);
    Tensor dlogits = Tensor::empty({kLogitRows, kClasses}, DType::f32, kGpu);
    Backend& be = backend_for(kGpu);
    auto body = [&] {
        be.cross_entropy_forward(loss.f32(), used.f32(), logits.f32(), target.i32(), DType::i32,
                                 nullptr, kLogitRows, kClasses, kIgnore);
        be.cross_entropy_backward(dlogits.f32(), dloss.f32(), logits.f32(), target.i32(),
                                  DType::i32, nullptr, kLogitRows, kClasses, kIgnore);
    };
    // forward: logits + target in, loss + weight_used out; backward: logits, target, dloss in,
    // dlogits out.
    const double row_bytes = 4.0 * (kClasses + 1 + 2) + 4.0 * (2 * kClasses + 2);
    time_gpu(state, body, 0.0, row_bytes * double(kLogitRows));
}

void run_softmax(benchmark::State& state) {
    if (!gpu_or_skip(state)) return;
    Generator gen(1);
    Tensor x = Tensor::uniform({kLogitRows, kClasses}, gen, -4.f, 4.f, kGpu);
    Tensor y = Tensor::empty({kLogitRows, kClasses}, DType::f32, kGpu);
    Backend& be = backend_for(kGpu);
    auto body = [&] { be.softmax_forward(y.f32(), x.f32(), kLogitRows, kClasses); };
    time_gpu(state, body, 0.0, 2.0 * double(x.nbytes()));
}

// ---- bilinear resize of the stride-4 logits to the crop: (8, 129, 129, 21) -> (8, 513, 513, 21),
// align_corners as in DeepLabV3+ ----

void run_resize(benchmark::State& state, bool backward) {
    if (!gpu_or_skip(state)) return;
    const ResizeGeometry g{8, 129, 129, kClasses, 513, 513, true};
    Generator gen(1);
    Tensor small = Tensor::uniform({g.N, g.H, g.W, g.C}, gen, -1.f, 1.f, kGpu);
    Tensor large = Tensor::uniform({g.N, g.out_h, g.out_w, g.C}, gen, -1.f, 1.f, kGpu);
    Backend& be = backend_for(kGpu);
    auto body = [&] {
        if (backward)
            be.resize_bilinear_backward(small.f32(), large.f32(), g);
        else
            be.resize_bilinear_forward(large.f32(), small.f32(), g);
    };
    time_gpu(state, body, 0.0, double(small.nbytes() + large.nbytes()));
}

// ---- host -> device upload of one DeepLabV3+ input batch, (8, 513, 513, 3) f32 = 25 MB ----
// Wall time per batch, host work included (that is what the data loader pays): from pageable
// memory (the driver stages it), from a pinned tensor, and through the PinnedStaging ring (a
// memcpy into the slot, then the asynchronous copy). Each iteration waits for its copy to finish.

enum class Upload { pageable, pinned, ring };

void run_upload(benchmark::State& state, Upload how) {
    if (!gpu_or_skip(state)) return;
    const Shape shape{8, 513, 513, 3};
    Generator gen(1);
    Tensor pageable = Tensor::uniform(shape, gen);
    Tensor pinned = Tensor::empty_pinned(shape, DType::f32, kGpu);
    std::copy(pageable.f32(), pageable.f32() + pageable.numel(), pinned.f32());
    PinnedStaging ring(kGpu, 2);
    Backend& be = backend_for(kGpu);
    auto body = [&] {
        Tensor out = how == Upload::pageable ? pageable.to(kGpu)
                     : how == Upload::pinned ? pinned.to(kGpu)
                                             : ring.upload(pageable);
        be.synchronize();
    };
    body(); // warm-up: ring slots, device blocks
    for (auto _ : state) body();
    state.counters["GB/s"] = benchmark::Counter(
        double(pageable.nbytes()) * 1e-9 * double(state.iterations()), benchmark::Counter::kIsRate);
}

const bool kRegistered = [] {
    const std::pair<Pass, const char*> passes[] = {
        {Pass::forward, "GpuConvForward/"},
        {Pass::backward_data, "GpuConvBackwardData/"},
        {Pass::backward_filter, "GpuConvBackwardFilter/"}};
    for (const ConvShape& s : kConvShapes)
        for (const auto& [pass, prefix] : passes)
            benchmark::RegisterBenchmark((std::string(prefix) + s.name).c_str(), run_conv, s, pass)
                ->Unit(benchmark::kMillisecond)
                ->UseManualTime();
    for (const BnShape& s : kBnShapes)
        benchmark::RegisterBenchmark((std::string("GpuBatchNormTrain/") + s.name).c_str(),
                                     run_batch_norm, s)
            ->Unit(benchmark::kMillisecond)
            ->UseManualTime();
    benchmark::RegisterBenchmark("GpuCrossEntropy/8x513x513x21", run_cross_entropy)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
    benchmark::RegisterBenchmark("GpuSoftmaxForward/8x513x513x21", run_softmax)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
    benchmark::RegisterBenchmark("GpuResizeBilinear/forward_129to513", run_resize, false)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
    benchmark::RegisterBenchmark("GpuResizeBilinear/backward_129to513", run_resize, true)
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
    const std::pair<Upload, const char*> uploads[] = {
        {Upload::pageable, "pageable"}, {Upload::pinned, "pinned"}, {Upload::ring, "staging_ring"}};
    for (const auto& [how, name] : uploads)
        benchmark::RegisterBenchmark((std::string("GpuUpload/8x513x513x3_") + name).c_str(),
                                     run_upload, how)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    return true;
}();

} // namespace
} // namespace pg

#endif // PG_CUDA_ENABLED
