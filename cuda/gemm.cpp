// CUDA GEMM: the row-major batched GEMM of tensor/backend.h on cuBLAS (the GPU twin of
// tensor/cpu/gemm.cpp). cuBLAS is column-major; a row-major (r, c) matrix with leading dimension ld
// is the column-major (c, r) matrix with the same ld, its transpose, so C = op(A) op(B) row-major is
// C^T = op(B)^T op(A)^T column-major: the operands swap and every ld stays as given.
#include <climits>

#include "cuda/context.h"
#include "cuda/cublas_library.h"
#include "cuda/kernels.h"
#include "cuda/settings.h"

namespace pg::cuda {

// C (m, n) per batch <- beta C, rows ldc apart: a product with an empty inner dimension. beta == 0
// writes zeros (BLAS semantics: NaN garbage in C must not survive), like scale_matrix on the CPU.
static void scale_only(int64_t m, int64_t n, float beta, float* c, int64_t ldc, int64_t stride_c,
                       int64_t batch) {
    for (int64_t i = 0; i < batch; i++) {
        float* c_i = c + i * stride_c;
        if (beta == 0.f) {
            CUDA_CHECK(cudaMemset2DAsync(c_i, size_t(ldc) * sizeof(float), 0,
                                         size_t(n) * sizeof(float), size_t(m), stream()));
        } else {
            // Column-major (n, m) view: C = beta * C + 0 * C (geam allows C to alias its inputs).
            const float zero = 0.f;
            CUBLAS_CHECK(cublas_library().sgeam(context().cublas, CUBLAS_OP_N, CUBLAS_OP_N, int(n),
                                                int(m), &beta, c_i, int(ldc), &zero, c_i, int(ldc),
                                                c_i, int(ldc)));
        }
    }
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
          float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
    if (m == 0 || n == 0 || batch == 0) return;
    PG_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
                 ldc <= INT_MAX && batch <= INT_MAX,
             "gemm: sizes (", m, ", ", n, ", ", k, "), leading dimensions (", lda, ", ", ldb, ", ",
             ldc, ") or batch ", batch, " exceed cuBLAS's 32-bit limit");
    if (k == 0) return scale_only(m, n, beta, c, ldc, stride_c, batch);
    // TF32 rounds the operands to 10 mantissa bits on the tensor cores; off for exact-f32 parity.
    const cublasComputeType_t compute =
        settings().allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    // Row-major op(A) (m, k) stored (m, k) [lda] or (k, m) [lda] is column-major op(A)^T (k, m) read
    // with op N or T; likewise op(B)^T (n, k). Column-major C^T (n, m) = op(B)^T op(A)^T.
    const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublas_library().gemm_strided_batched_ex(
        context().cublas, op_b, op_a, int(n), int(m), int(k), &alpha, b, CUDA_R_32F, int(ldb),
        stride_b, a, CUDA_R_32F, int(lda), stride_a, &beta, c, CUDA_R_32F, int(ldc), stride_c,
        int(batch), compute, CUBLAS_GEMM_DEFAULT));
}

} // namespace pg::cuda
