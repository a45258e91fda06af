// CUDA optimizer kernels: the fused SGD step (Backend::sgd_update in tensor/backend.h). CPU twin:
// tensor/cpu/optim.cpp. The explicit _rn intrinsics keep nvcc from contracting a product and a sum
// into one FMA, so each is rounded as the unfused ops round it (those are separate kernels).
#include <cstdint>

#include "cuda/context.h"
#include "cuda/kernels.h"

namespace pg::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void sgd_update_kernel(float* param, float* buf, const float* grad, int64_t n,
                                  SgdStep s) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        float d = grad[i];
        if (s.weight_decay != 0.f) d = __fadd_rn(d, __fmul_rn(s.weight_decay, param[i]));
        if (buf) {
            const float b =
                s.first ? d : __fadd_rn(__fmul_rn(s.momentum, buf[i]), __fmul_rn(s.undamped, d));
            buf[i] = b;
            d = s.nesterov ? __fadd_rn(d, __fmul_rn(s.momentum, b)) : b;
        }
        param[i] = __fadd_rn(param[i], __fmul_rn(-s.lr, d));
    }
}

} // namespace

void sgd_update(float* param, float* momentum_buffer, const float* grad, int64_t n,
                const SgdStep& step) {
    if (n <= 0) return;
    sgd_update_kernel<<<grid_for(n, kThreads), kThreads, 0, stream()>>>(param, momentum_buffer,
                                                                        grad, n, step);
    CUDA_CHECK_LAUNCH();
}

} // namespace pg::cuda
