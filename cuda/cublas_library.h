// cuBLAS, opened with dlopen() when a GPU context is created instead of linked into every binary:
// loading libcublasLt (which libcublas needs) makes ~150 MB of a process resident before it does
// anything, so a CPU-only run paid it too. The functions the backend calls, bound on first use.
// Internal to cuda/.
#pragma once

#include <cublas_v2.h>

#include <string>

namespace pg::cuda {

// The exported cublasGemmStridedBatchedEx (the header also has an inline C++ overload that takes
// a cudaDataType compute type, so decltype cannot name it).
using GemmStridedBatchedEx = cublasStatus_t (*)(
    cublasHandle_t, cublasOperation_t, cublasOperation_t, int m, int n, int k, const void* alpha,
    const void* a, cudaDataType, int lda, long long stride_a, const void* b, cudaDataType, int ldb,
    long long stride_b, const void* beta, void* c, cudaDataType, int ldc, long long stride_c,
    int batch, cublasComputeType_t, cublasGemmAlgo_t);

struct CublasLibrary {
    decltype(&cublasCreate) create = nullptr;
    decltype(&cublasSetStream) set_stream = nullptr;
    decltype(&cublasSgeam) sgeam = nullptr;
    GemmStridedBatchedEx gemm_strided_batched_ex = nullptr;
    decltype(&cublasGetProperty) get_property = nullptr;
};

// The library, opened once; throws pg::Error naming the files tried and dlerror()'s reason.
const CublasLibrary& cublas_library();

// Opens it if it can; false (and `why`) where it cannot, for `pixelgrad info`.
bool cublas_library_available(std::string* why);

} // namespace pg::cuda
