// CPU memory copies, fills, Philox random fills and dtype casts.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/parallel.h"
#include "tensor/error.h"
#include "tensor/generator.h"

namespace pg::cpu {

void copy(void* dst, const void* src, size_t nbytes) {
    if (nbytes) std::memcpy(dst, src, nbytes);
}
void copy_from_host(void* dst, const void* host_src, size_t nbytes) { copy(dst, host_src, nbytes); }
void copy_to_host(void* host_dst, const void* src, size_t nbytes) { copy(host_dst, src, nbytes); }

void copy_2d(void* dst, int64_t dst_pitch, const void* src, int64_t src_pitch, int64_t rows,
             int64_t row_bytes) {
    auto* d = static_cast<uint8_t*>(dst);
    auto* s = static_cast<const uint8_t*>(src);
    parallel_for(rows, 64, [&](int64_t r) {
        std::memcpy(d + r * dst_pitch, s + r * src_pitch, size_t(row_bytes));
    });
}

// Reads element i of any dtype as a double, writes a double into any dtype.
static double load(const void* p, DType dtype, int64_t i) {
    switch (dtype) {
    case DType::f32:
        return static_cast<const float*>(p)[i];
    case DType::bf16:
        return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::i32:
        return static_cast<const int32_t*>(p)[i];
    case DType::u8:
        return static_cast<const uint8_t*>(p)[i];
    }
    return 0;
}

// Float -> integer truncates toward zero and wraps like a C cast of the int64 value (PyTorch's
// behaviour for in-range values; NaN becomes 0).
static void store(void* p, DType dtype, int64_t i, double v) {
    // Out-of-range values (and inf) saturate at the int64 limits first: converting them directly
    // would be undefined behaviour (the GPU saturates too).
    if (dtype == DType::i32 || dtype == DType::u8) v = std::fmin(std::fmax(v, -9.2e18), 9.2e18);
    switch (dtype) {
    case DType::f32:
        static_cast<float*>(p)[i] = float(v);
        break;
    case DType::bf16:
        static_cast<uint16_t*>(p)[i] = f32_to_bf16(float(v));
        break;
    case DType::i32:
        static_cast<int32_t*>(p)[i] = std::isnan(v) ? 0 : int32_t(int64_t(v));
        break;
    case DType::u8:
        static_cast<uint8_t*>(p)[i] = std::isnan(v) ? 0 : uint8_t(int64_t(v));
        break;
    }
}

void fill(void* out, DType dtype, int64_t n, double value) {
    if (dtype == DType::f32) {
        float v = float(value);
        float* o = static_cast<float*>(out);
        parallel_for(n, kChunk, [&](int64_t i) { o[i] = v; });
        return;
    }
    if (n == 0) return;
    store(out, dtype, 0, value); // convert once, then replicate the bytes
    size_t elem = dtype_size(dtype);
    auto* bytes = static_cast<uint8_t*>(out);
    parallel_for(n - 1, kChunk,
                 [&](int64_t i) { std::memcpy(bytes + (i + 1) * elem, bytes, elem); });
}

// One Philox block gives 4 uniforms (elements 4b..4b+3), computed once per block; element i gets
// exactly philox_uniform(seed, offset, i). Normals call philox_normal(seed, offset, i) per element.
void fill_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float low, float high) {
    float scale = high - low;
    int64_t blocks = (n + 3) / 4;
    parallel_for(blocks, kChunk / 4, [&](int64_t b) {
        PhiloxBlock block = philox4x32(offset + uint64_t(b), seed);
        for (int64_t lane = 0; lane < 4 && 4 * b + lane < n; lane++)
            out[4 * b + lane] = low + scale * uniform_from_bits(block.v[lane]);
    });
}

void fill_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
    int64_t blocks = (n + 1) / 2;
    parallel_for(blocks, kChunk / 2, [&](int64_t b) {
        for (int64_t k = 2 * b; k < std::min(n, 2 * b + 2); k++)
            out[k] = mean + std * philox_normal(seed, offset, uint64_t(k));
    });
}

void cast(void* out, DType out_dtype, const void* in, DType in_dtype, int64_t n) {
    if (out_dtype == in_dtype) {
        copy(out, in, size_t(n) * dtype_size(in_dtype));
        return;
    }
    parallel_for(n, kChunk, [&](int64_t i) { store(out, out_dtype, i, load(in, in_dtype, i)); });
}

} // namespace pg::cpu
