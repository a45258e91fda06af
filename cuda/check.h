// Error checks for CUDA, cuBLAS and cuDNN calls: a failure throws pg::Error with file:line, the
// call and the library's own error text. Included only by cuda/ sources.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "tensor/error.h"

namespace pg::cuda {
const char* cublas_status_name(cublasStatus_t status);
} // namespace pg::cuda

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t status_ = (call);                                                              \
        if (status_ != cudaSuccess)                                                                \
            ::pg::throw_error(__FILE__, __LINE__,                                                  \
                              ::pg::str(#call, ": ", cudaGetErrorString(status_)));                \
    } while (0)

#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t status_ = (call);                                                           \
        if (status_ != CUBLAS_STATUS_SUCCESS)                                                      \
            ::pg::throw_error(__FILE__, __LINE__,                                                  \
                              ::pg::str(#call, ": ", ::pg::cuda::cublas_status_name(status_)));    \
    } while (0)

#define CUDNN_CHECK(call)                                                                          \
    do {                                                                                           \
        cudnnStatus_t status_ = (call);                                                            \
        if (status_ != CUDNN_STATUS_SUCCESS)                                                       \
            ::pg::throw_error(__FILE__, __LINE__,                                                  \
                              ::pg::str(#call, ": ", cudnnGetErrorString(status_)));               \
    } while (0)

// After a kernel launch: catches bad launch configurations immediately.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
