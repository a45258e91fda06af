// CUDA convolution on cuDNN's legacy API: forward, backward-data and backward-filter over NHWC
// tensors with the (K, R, S, C / groups) filter, which is exactly cuDNN's NHWC filter layout, so no
// data is ever transposed. The algorithm for each (pass, geometry, settings) is chosen once, by
// heuristics or an exhaustive timed search, and kept in cuda/conv_algo_cache.h. The CPU twin is
// tensor/cpu/conv.cpp; shapes are in tensor/backend.h.
#include <algorithm>
#include <climits>
#include <memory>
#include <vector>

#include "cuda/context.h"
#include "cuda/conv_algo_cache.h"
#include "cuda/kernels.h"
#include "cuda/settings.h"

namespace pg::cuda {
namespace {

int as_int(int64_t v, const char* what) {
    PG_CHECK(v >= 0 && v <= INT_MAX, "conv2d: ", what, " = ", v, " exceeds cuDNN's 32-bit limit");
    return int(v);
}

// ---- descriptors: small RAII owners (a member that is fully built is destroyed if a later
// member's set-up throws) ----

template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
struct Descriptor {
    T desc = nullptr;
    Descriptor() { CUDNN_CHECK(Create(&desc)); }
    ~Descriptor() { Destroy(desc); }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
};
using TensorDesc =
    Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc =
    Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc = Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                            cudnnDestroyConvolutionDescriptor>;

// An (n, h, w, c) f32 tensor in NHWC (cuDNN takes the dimensions in NCHW order whatever the layout).
void set_nhwc(TensorDesc& t, int64_t n, int64_t h, int64_t w, int64_t c) {
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(t.desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                           as_int(n, "N"), as_int(c, "channels"),
                                           as_int(h, "height"), as_int(w, "width")));
}

// TF32 on the tensor cores is CUDNN_DEFAULT_MATH for f32 data (Ampere and later); CUDNN_FMA_MATH
// forbids it. CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION is never used: for f32 it may down-convert the
// inputs to fp16, far coarser than TF32.
cudnnMathType_t requested_math(const Settings& s) {
    return s.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

// x (N, H, W, C), y (N, P, Q, K), w (K, R, S, C / groups) and the convolution itself.
struct ConvDescriptors {
    TensorDesc x, y;
    FilterDesc w;
    ConvDesc conv;
    ConvDescriptors(const ConvGeometry& g, cudnnMathType_t math) {
        set_nhwc(x, g.N, g.H, g.W, g.C);
        set_nhwc(y, g.N, g.P, g.Q, g.K);
        CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC,
                                               as_int(g.K, "K"), as_int(g.C / g.groups, "C/groups"),
                                               as_int(g.R, "R"), as_int(g.S, "S")));
        CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
            conv.desc, as_int(g.pad_h, "pad_h"), as_int(g.pad_w, "pad_w"),
            as_int(g.stride_h, "stride_h"), as_int(g.stride_w, "stride_w"),
            as_int(g.dilation_h, "dilation_h"), as_int(g.dilation_w, "dilation_w"),
            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.desc, as_int(g.groups, "groups")));
        CUDNN_CHECK(cudnnSetConvolutionMathType(conv.desc, math));
    }
};

// The three tensors of a pass by role: x-shaped, w-shaped, y-shaped. Exactly one is the output
// (y forward, x backward-data, w backward-filter); an exhaustive search writes into it.
struct ConvBuffers {
    const float* x;
    const float* w;
    const float* y;
};

// ---- the three passes: cuDNN's per-pass names behind one shape, for choose() ----

struct Forward {
    using Perf = cudnnConvolutionFwdAlgoPerf_t;
    using Algo = cudnnConvolutionFwdAlgo_t;
    static constexpr ConvPass kPass = ConvPass::forward;
    static constexpr int kAlgoCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    static constexpr const char* kName = "forward";
    static cudnnStatus_t workspace(const ConvDescriptors& d, Algo algo, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(context().cudnn, d.x.desc, d.w.desc,
                                                       d.conv.desc, d.y.desc, algo, bytes);
    }
    static void heuristics(const ConvDescriptors& d, int count, int* returned, Perf* perf) {
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
            context().cudnn, d.x.desc, d.w.desc, d.conv.desc, d.y.desc, count, returned, perf));
    }
    static void find(const ConvDescriptors& d, const ConvBuffers& b, int count, int* returned,
                     Perf* perf, void* ws, size_t ws_bytes) {
        CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
            context().cudnn, d.x.desc, b.x, d.w.desc, b.w, d.conv.desc, d.y.desc,
            const_cast<float*>(b.y), count, returned, perf, ws, ws_bytes));
    }
};

struct BackwardData {
    using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
    using Algo = cudnnConvolutionBwdDataAlgo_t;
    static constexpr ConvPass kPass = ConvPass::backward_data;
    static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    static constexpr const char* kName = "backward-data";
    static cudnnStatus_t workspace(const ConvDescriptors& d, Algo algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(context().cudnn, d.w.desc, d.y.desc,
                                                            d.conv.desc, d.x.desc, algo, bytes);
    }
    static void heuristics(const ConvDescriptors& d, int count, int* returned, Perf* perf) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
            context().cudnn, d.w.desc, d.y.desc, d.conv.desc, d.x.desc, count, returned, perf));
    }
    static void find(const ConvDescriptors& d, const ConvBuffers& b, int count, int* returned,
                     Perf* perf, void* ws, size_t ws_bytes) {
        CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
            context().cudnn, d.w.desc, b.w, d.y.desc, b.y, d.conv.desc, d.x.desc,
            const_cast<float*>(b.x), count, returned, perf, ws, ws_bytes));
    }
};

struct BackwardFilter {
    using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
    using Algo = cudnnConvolutionBwdFilterAlgo_t;
    static constexpr ConvPass kPass = ConvPass::backward_filter;
    static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
    static constexpr const char* kName = "backward-filter";
    static cudnnStatus_t workspace(const ConvDescriptors& d, Algo algo, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(context().cudnn, d.x.desc, d.y.desc,
                                                              d.conv.desc, d.w.desc, algo, bytes);
    }
    static void heuristics(const ConvDescriptors& d, int count, int* returned, Perf* perf) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            context().cudnn, d.x.desc, d.y.desc, d.conv.desc, d.w.desc, count, returned, perf));
    }
    static void find(const ConvDescriptors& d, const ConvBuffers& b, int count, int* returned,
                     Perf* perf, void* ws, size_t ws_bytes) {
        CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
            context().cudnn, d.x.desc, b.x, d.y.desc, b.y, d.conv.desc, d.w.desc,
            const_cast<float*>(b.w), count, returned, perf, ws, ws_bytes));
    }
};

// ---- choosing an algorithm ----

// Without TF32 only FMA kernels are acceptable (PyTorch asserts the same); with it anything but
// the fp16 down-conversion.
bool math_allowed(cudnnMathType_t math, bool allow_tf32) {
    if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
    return allow_tf32 || math == CUDNN_FMA_MATH;
}

// The workspace for an exhaustive search: the most any algorithm of the pass asks for, up to the
// cap. If the allocator cannot give that much the search runs with none (only algorithms that need
// no workspace are timed) rather than failing.
template <typename Pass>
std::unique_ptr<Workspace> search_workspace(const ConvDescriptors& d, size_t cap) {
    size_t most = 0;
    for (int a = 0; a < Pass::kAlgoCount; a++) {
        size_t bytes = 0;
        if (Pass::workspace(d, typename Pass::Algo(a), &bytes) == CUDNN_STATUS_SUCCESS &&
            bytes <= cap)
            most = std::max(most, bytes);
    }
    try {
        return std::make_unique<Workspace>(most);
    } catch (const Error&) { return std::make_unique<Workspace>(0); }
}

std::string describe(const ConvGeometry& g) {
    return str("x (", g.N, ", ", g.H, ", ", g.W, ", ", g.C, "), w (", g.K, ", ", g.R, ", ", g.S,
               ", ", g.C / g.groups, "), y (", g.N, ", ", g.P, ", ", g.Q, ", ", g.K, "), stride (",
               g.stride_h, ", ", g.stride_w, "), pad (", g.pad_h, ", ", g.pad_w, "), dilation (",
               g.dilation_h, ", ", g.dilation_w, "), groups ", g.groups);
}

// cuDNN's candidates come best first (by heuristic rank, or by measured time from a search); take
// the first that ran, fits the workspace cap, is deterministic when asked, and has an allowed math
// type. With deterministic off cuDNN may pick an algorithm that accumulates with atomics
// (backward-filter / backward-data): faster, and allowed only because the user did not ask for
// determinism.
template <typename Pass>
ConvAlgoChoice choose(const ConvGeometry& g, const ConvDescriptors& d, const ConvBuffers& b,
                      const Settings& s) {
    std::vector<typename Pass::Perf> perf(size_t(Pass::kAlgoCount));
    int returned = 0;
    if (s.exhaustive_search) {
        std::unique_ptr<Workspace> ws = search_workspace<Pass>(d, s.workspace_cap);
        Pass::find(d, b, Pass::kAlgoCount, &returned, perf.data(), ws->data(), ws->size());
    } else {
        Pass::heuristics(d, Pass::kAlgoCount, &returned, perf.data());
    }
    for (int i = 0; i < returned; i++) {
        const typename Pass::Perf& p = perf[size_t(i)];
        if (p.status != CUDNN_STATUS_SUCCESS || p.memory > s.workspace_cap) continue;
        if (s.deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
        if (!math_allowed(p.mathType, s.allow_tf32)) continue;
        return ConvAlgoChoice{int(p.algo), int(p.mathType), p.memory};
    }
    PG_FAIL("conv2d ", Pass::kName, ": cuDNN has no usable algorithm for ", describe(g), " (of ",
            returned, " candidates; workspace cap ", s.workspace_cap, " bytes, deterministic ",
            s.deterministic, ", allow_tf32 ", s.allow_tf32, ")");
}

// Builds the descriptors, looks the algorithm up (choosing it on a miss), writes the chosen math
// type back into the convolution descriptor (cuDNN needs algorithm and math type to agree), gets
// the workspace and calls run(descriptors, algo, workspace).
template <typename Pass, typename Run>
void run_pass(const ConvGeometry& g, const ConvBuffers& b, Run run) {
    const Settings s = settings();
    ConvDescriptors d(g, requested_math(s));
    const ConvAlgoKey key{Pass::kPass,    g, s.allow_tf32, s.deterministic, s.exhaustive_search,
                          s.workspace_cap};
    const ConvAlgoChoice c = conv_algo_cache().get(key, [&] { return choose<Pass>(g, d, b, s); });
    CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.desc, cudnnMathType_t(c.math_type)));
    Workspace ws(c.workspace);
    run(d, typename Pass::Algo(c.algo), ws);
}

// y (N, P, Q, K) = bias broadcast over the pixels, or 0: what a convolution with an empty inner
// dimension (C / groups == 0 or R * S == 0) leaves, like the CPU's GEMM with k == 0.
void bias_only(float* y, const float* bias, const ConvGeometry& g) {
    if (!bias) {
        CUDA_CHECK(cudaMemsetAsync(y, 0, size_t(g.N * g.P * g.Q * g.K) * sizeof(float), stream()));
        return;
    }
    TensorDesc yd, bd;
    set_nhwc(yd, g.N, g.P, g.Q, g.K);
    set_nhwc(bd, 1, 1, 1, g.K);
    const float one = 1.f, zero = 0.f;
    CUDNN_CHECK(cudnnAddTensor(context().cudnn, &one, bd.desc, bias, &zero, yd.desc, y));
}

} // namespace

// ---- the Backend entry points ----

// y (N, P, Q, K) = conv(x (N, H, W, C), w (K, R, S, C/groups)) [+ bias (K,)]: the convolution
// overwrites y (beta 0), then cudnnAddTensor broadcasts the bias over the pixels.
void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const ConvGeometry& g) {
    if (g.N * g.P * g.Q * g.K == 0) return;
    if (g.R * g.S * (g.C / g.groups) == 0) return bias_only(y, bias, g);
    const float one = 1.f, zero = 0.f;
    run_pass<Forward>(g, {x, w, y}, [&](ConvDescriptors& d, Forward::Algo algo, Workspace& ws) {
        CUDNN_CHECK(cudnnConvolutionForward(context().cudnn, &one, d.x.desc, x, d.w.desc, w,
                                            d.conv.desc, algo, ws.data(), ws.size(), &zero,
                                            d.y.desc, y));
        if (!bias) return;
        TensorDesc bd;
        set_nhwc(bd, 1, 1, 1, g.K);
        CUDNN_CHECK(cudnnAddTensor(context().cudnn, &one, bd.desc, bias, &one, d.y.desc, y));
    });
}

// dx (N, H, W, C) = the adjoint of the forward applied to dy (N, P, Q, K); overwritten (beta 0).
void conv2d_backward_input(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
    if (g.N * g.H * g.W * g.C == 0) return;
    if (g.P * g.Q * g.K * g.R * g.S == 0) { // nothing reaches dx
        CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(g.N * g.H * g.W * g.C) * sizeof(float), stream()));
        return;
    }
    const float one = 1.f, zero = 0.f;
    run_pass<BackwardData>(
        g, {dx, w, dy}, [&](ConvDescriptors& d, BackwardData::Algo algo, Workspace& ws) {
            CUDNN_CHECK(cudnnConvolutionBackwardData(context().cudnn, &one, d.w.desc, w, d.y.desc,
                                                     dy, d.conv.desc, algo, ws.data(), ws.size(),
                                                     &zero, d.x.desc, dx));
        });
}

// dw (K, R, S, C/groups) = sum over the batch and pixels of dy (N, P, Q, K) x patches of
// x (N, H, W, C); overwritten (beta 0). An empty batch gives a zero gradient, as on the CPU.
void conv2d_backward_weight(float* dw, const float* dy, const float* x, const ConvGeometry& g) {
    const int64_t w_elems = g.K * g.R * g.S * (g.C / g.groups);
    if (w_elems == 0) return;
    if (g.N * g.P * g.Q == 0) {
        CUDA_CHECK(cudaMemsetAsync(dw, 0, size_t(w_elems) * sizeof(float), stream()));
        return;
    }
    const float one = 1.f, zero = 0.f;
    run_pass<BackwardFilter>(
        g, {x, dw, dy}, [&](ConvDescriptors& d, BackwardFilter::Algo algo, Workspace& ws) {
            CUDNN_CHECK(cudnnConvolutionBackwardFilter(context().cudnn, &one, d.x.desc, x, d.y.desc,
                                                       dy, d.conv.desc, algo, ws.data(), ws.size(),
                                                       &zero, d.w.desc, dw));
        });
}

} // namespace pg::cuda
