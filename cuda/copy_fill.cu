// CUDA memory copies, fills, Philox random fills and dtype casts: the GPU twins of
// tensor/cpu/copy_fill.cpp, with the same value conversions (read that file first). Random fills call
// the __host__ __device__ Philox of tensor/generator.h, so element i is the CPU's element i.
// Everything is queued on cuda::stream(); only copy_to_host waits for it.
#include <cuda_bf16.h>

#include <cmath>
#include <cstring>

#include "cuda/context.h"
#include "cuda/kernels.h"
#include "tensor/generator.h"

namespace pg::cuda {

// ---- copies ----

void copy(void* dst, const void* src, size_t nbytes) {
    if (nbytes == 0 || dst == src) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream()));
}

// For a pageable source (the CPU allocator does not pin) cudaMemcpyAsync returns only once the
// bytes have been staged: the caller may free or reuse host_src as soon as this returns, without a
// stream synchronisation. For a page-locked source (the pinned allocator) the copy engine reads
// host_src later, in stream order, while the host goes on: the caller records an event after this
// and leaves host_src untouched until the event has completed (Storage::record_copy / wait_copies).
void copy_from_host(void* dst, const void* host_src, size_t nbytes) {
    if (nbytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, nbytes, cudaMemcpyHostToDevice, stream()));
}

// The host wants the bytes now: queue the copy behind the work that produces them, then wait.
void copy_to_host(void* host_dst, const void* src, size_t nbytes) {
    if (nbytes == 0) return;
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, nbytes, cudaMemcpyDeviceToHost, stream()));
    CUDA_CHECK(cudaStreamSynchronize(stream()));
}

// rows of row_bytes, src_pitch -> dst_pitch apart (concat, split, narrow). Touching rows make one
// plain copy; otherwise the copy engine's 2-D copy handles the pitches.
void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows,
             int64_t row_bytes) {
    if (rows == 0 || row_bytes == 0) return;
    if (rows == 1 || (dst_pitch == row_bytes && src_pitch == row_bytes))
        return copy(dst, src, size_t(rows * row_bytes));
    CUDA_CHECK(cudaMemcpy2DAsync(dst, size_t(dst_pitch), src, size_t(src_pitch), size_t(row_bytes),
                                 size_t(rows), cudaMemcpyDeviceToDevice, stream()));
}

// ---- copy events: when has the stream got past a copy (pinned staging) ----

// No timing: recording and waiting on such an event is cheaper.
void* create_event() {
    cudaEvent_t event = nullptr;
    CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    return event;
}

// Called from Storage's destructor, possibly at exit after the runtime has shut down: the error,
// if any, is dropped (the event dies with the context anyway).
void destroy_event(void* event) {
    if (cudaEventDestroy(static_cast<cudaEvent_t>(event)) != cudaSuccess) cudaGetLastError();
}

// Marks everything queued on the stream so far (the copy just issued).
void record_event(void* event) {
    CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), stream()));
}

// The host waits for the marked work only, not for whatever was queued after it.
void wait_event(void* event) { CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

// ---- value conversions: the device twins of load / store in tensor/cpu/copy_fill.cpp ----
// Every conversion goes through double like the CPU's, so each pair converts exactly as there
// (f32, bf16, i32 and u8 values are all exact in double).

__device__ inline uint16_t bf16_bits(float f) {
    // cvt.rn.bf16.f32 rounds to nearest even like f32_to_bf16 but returns the canonical NaN 0x7fff;
    // the CPU keeps the sign and payload and sets the quiet bit, so NaN takes the CPU's path.
    uint32_t bits = __float_as_uint(f);
    if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu))
        return uint16_t((bits >> 16) | 0x40);
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

template <typename T>
__device__ inline double load(const T* p, int64_t i) {
    return double(p[i]);
}
template <>
__device__ inline double load<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) {
    return double(__uint_as_float(uint32_t(__bfloat16_as_ushort(p[i])) << 16));
}

// Float -> integer truncates toward zero through int64 and wraps like a C cast; NaN becomes 0.
template <typename T>
__device__ inline void store(T* p, int64_t i, double v) {
    p[i] = isnan(v) ? T(0) : T(int64_t(v));
}
template <>
__device__ inline void store<float>(float* p, int64_t i, double v) {
    p[i] = float(v);
}
template <>
__device__ inline void store<__nv_bfloat16>(__nv_bfloat16* p, int64_t i, double v) {
    p[i] = __ushort_as_bfloat16(bf16_bits(float(v)));
}

// ---- fills ----

// out (n,) of any 1-, 2- or 4-byte element = value's bit pattern. One thread per element,
// grid-stride, blockDim 256.
template <typename Bits>
__global__ void fill_kernel(Bits* out, int64_t n, Bits value) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x)
        out[i] = value;
}

// The element's bytes exactly as the CPU's store() writes them, computed once on the host.
static uint32_t element_bits(DType dtype, double value) {
    switch (dtype) {
    case DType::f32: {
        float f = float(value);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        return bits;
    }
    case DType::bf16:
        return f32_to_bf16(float(value));
    case DType::i32:
        return uint32_t(std::isnan(value) ? 0 : int32_t(int64_t(value)));
    case DType::u8:
        return std::isnan(value) ? 0u : uint8_t(int64_t(value));
    }
    return 0;
}

void fill(void* out, DType dtype, int64_t n, double value) {
    if (n == 0) return;
    const size_t elem = dtype_size(dtype);
    const uint32_t bits = element_bits(dtype, value);
    // When every byte of the element is the same (zero, any u8) a memset does it.
    const uint8_t byte = uint8_t(bits);
    bool uniform_bytes = true;
    for (size_t b = 1; b < elem; b++) uniform_bytes &= uint8_t(bits >> (8 * b)) == byte;
    if (uniform_bytes) {
        CUDA_CHECK(cudaMemsetAsync(out, byte, size_t(n) * elem, stream()));
        return;
    }
    if (elem == 4)
        fill_kernel<<<grid_for(n), 256, 0, stream()>>>(static_cast<uint32_t*>(out), n, bits);
    else // bf16 (i32 and f32 are 4 bytes, u8 always takes the memset)
        fill_kernel<<<grid_for(n), 256, 0, stream()>>>(static_cast<uint16_t*>(out), n,
                                                       uint16_t(bits));
    CUDA_CHECK_LAUNCH();
}

// out (n,): element 4b + lane = low + scale * word lane of Philox block offset + b. One thread per
// Philox block (4 elements), grid-stride, blockDim 256. __fmul_rn / __fadd_rn forbid the FMA
// contraction nvcc would otherwise make, which would round differently from the CPU.
__global__ void fill_uniform_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset,
                                    float low, float scale) {
    const int64_t blocks = (n + 3) / 4;
    for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < blocks;
         b += int64_t(gridDim.x) * blockDim.x) {
        const PhiloxBlock block = philox4x32(offset + uint64_t(b), seed);
        for (int64_t lane = 0; lane < 4 && 4 * b + lane < n; lane++)
            out[4 * b + lane] = __fadd_rn(low, __fmul_rn(scale, uniform_from_bits(block.v[lane])));
    }
}

void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
    if (n == 0) return;
    const float scale = high - low; // on the host, exactly as the CPU computes it
    fill_uniform_kernel<<<grid_for((n + 3) / 4), 256, 0, stream()>>>(out, n, seed, offset, low,
                                                                     scale);
    CUDA_CHECK_LAUNCH();
}

// out (n,): element i = mean + std * philox_normal(seed, offset, i). One thread per element,
// grid-stride, blockDim 256. The uniforms are bit-identical to the CPU's; the device logf / cosf
// are within 2 ulp of glibc's, so normals may differ from the CPU in the last bits.
__global__ void fill_normal_kernel(float* out, int64_t n, uint64_t seed, uint64_t offset,
                                   float mean, float std) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x)
        out[i] = __fadd_rn(mean, __fmul_rn(std, philox_normal(seed, offset, uint64_t(i))));
}

void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    if (n == 0) return;
    fill_normal_kernel<<<grid_for(n), 256, 0, stream()>>>(out, n, seed, offset, mean, std);
    CUDA_CHECK_LAUNCH();
}

// ---- casts ----

// out (n,) Out <- in (n,) In through double. One thread per element, grid-stride, blockDim 256.
template <typename Out, typename In>
__global__ void cast_kernel(Out* out, const In* in, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
         i += int64_t(gridDim.x) * blockDim.x)
        store(out, i, load(in, i));
}

template <typename Out>
static void cast_from(Out* out, const void* in, DType in_dtype, int64_t n) {
    const unsigned grid = grid_for(n);
    switch (in_dtype) {
    case DType::f32:
        cast_kernel<<<grid, 256, 0, stream()>>>(out, static_cast<const float*>(in), n);
        break;
    case DType::bf16:
        cast_kernel<<<grid, 256, 0, stream()>>>(out, static_cast<const __nv_bfloat16*>(in), n);
        break;
    case DType::i32:
        cast_kernel<<<grid, 256, 0, stream()>>>(out, static_cast<const int32_t*>(in), n);
        break;
    case DType::u8:
        cast_kernel<<<grid, 256, 0, stream()>>>(out, static_cast<const uint8_t*>(in), n);
        break;
    }
    CUDA_CHECK_LAUNCH();
}

void cast(void* out, DType out_dtype, const void* in, DType in_dtype, int64_t n) {
    if (out_dtype == in_dtype) return copy(out, in, size_t(n) * dtype_size(in_dtype));
    if (n == 0) return;
    switch (out_dtype) {
    case DType::f32:
        return cast_from(static_cast<float*>(out), in, in_dtype, n);
    case DType::bf16:
        return cast_from(static_cast<__nv_bfloat16*>(out), in, in_dtype, n);
    case DType::i32:
        return cast_from(static_cast<int32_t*>(out), in, in_dtype, n);
    case DType::u8:
        return cast_from(static_cast<uint8_t*>(out), in, in_dtype, n);
    }
}

} // namespace pg::cuda
