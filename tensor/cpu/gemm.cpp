// CPU GEMM: a thin batched wrapper over OpenBLAS cblas_sgemm (row-major). The matrix products of
// autograd/linear.cpp and the im2col convolutions of tensor/cpu/conv.cpp all end here.
// OpenBLAS runs its own thread pool, so this must not be called from inside an OpenMP region.
#include <cblas.h>

#include <climits>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/error.h"

namespace pg::cpu {

// C (m, n) <- beta C, rows ldc apart: what a product with an empty inner dimension leaves behind.
// beta == 0 writes zeros so that NaN garbage in an uninitialised C cannot survive (BLAS semantics).
static void scale_matrix(float* c, int64_t m, int64_t n, int64_t ldc, float beta) {
    parallel_for(m, 64, [&](int64_t i) {
        float* row = c + i * ldc;
        for (int64_t j = 0; j < n; j++) row[j] = beta == 0.f ? 0.f : beta * row[j];
    });
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta,
          float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
    if (m == 0 || n == 0) return;
    // OpenBLAS takes 32-bit sizes.
    PG_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
                 ldc <= INT_MAX,
             "gemm: sizes (", m, ", ", n, ", ", k, ") or leading dimensions (", lda, ", ", ldb,
             ", ", ldc, ") exceed OpenBLAS's 32-bit limit");
    for (int64_t i = 0; i < batch; i++) {
        float* c_i = c + i * stride_c; // (m, n), rows ldc apart
        if (k == 0) {
            scale_matrix(c_i, m, n, ldc, beta);
            continue;
        }
        // op(A_i) (m, k) with A_i stored (m, k) or (k, m); op(B_i) (k, n) with B_i (k, n) or (n, k).
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha,
                    a + i * stride_a, int(lda), b + i * stride_b, int(ldb), beta, c_i, int(ldc));
    }
}

} // namespace pg::cpu
