// exp() for the shifted logits of softmax and cross-entropy (x - row max <= 0), written as plain
// float arithmetic so that the compiler vectorises a loop of it (a call to std::exp keeps a loop
// scalar): Cody-Waite range reduction x = n ln2 + r, |r| <= ln2 / 2, and Cephes' degree-6
// polynomial for exp(r); relative error below 2 ulp against std::exp (tests/tensor).
// The functions are static (each file that includes this gets its own copy, built with its flags)
// and call no inline or template function of the standard library: the per-instruction-set
// kernels (tensor/cpu/simd/softmax_kernels.cpp) include it too, and no copy of theirs may become
// the one every caller uses.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace pg::cpu {

// Below this exp() leaves the normal floats; the result is then 0 (std::exp would give a
// subnormal under 1.2e-38, which no softmax sum with its max term of 1 can notice).
constexpr float kExpLowest = -87.33654f;

// exp(x) for x <= 0 (NaN stays NaN; -inf and anything below kExpLowest give 0). A positive x is
// outside its domain and gives 1 (clamped to 0, so that 2^n below never overflows).
static inline float exp_nonpositive(float x) {
    const float clamped = x < kExpLowest ? kExpLowest : (x > 0.f ? 0.f : x);
    // n = round(x / ln2): adding and subtracting 1.5 * 2^23 rounds to an integer (|x / ln2| < 2^22)
    // in float arithmetic, where std::floor would keep the loop from vectorising.
    const float n = (clamped * 1.44269504088896341f + 12582912.f) - 12582912.f;
    // r = x - n ln2, ln2 split in a short head (exact in n * head) and a tail.
    float r = clamped - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.f;
    // 2^n from the exponent bits; n is in [-126, 0] here (a NaN takes n = 0 and stays NaN in p).
    const float n_finite = n == n ? n : 0.f;
    const int32_t bits = (int32_t(n_finite) + 127) << 23;
    float two_n;
    std::memcpy(&two_n, &bits, sizeof two_n);
    const float result = p * two_n; // computed either way: a select, not a branch, to vectorise
    return x < kExpLowest ? 0.f : result;
}

// The largest of a row's `cols` values (-inf for none; a NaN is skipped unless first).
static inline float row_max(const float* x, int64_t cols) {
    float m = -INFINITY;
    for (int64_t c = 0; c < cols; c++) m = m < x[c] ? x[c] : m; // std::max's choice
    return m;
}

// The sum of a row's `cols` values in double, over four interleaved partial sums (one chain of
// dependent adds would take longer than the vectorised exps that precede it).
static inline double sum_in_double(const float* v, int64_t cols) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t c = 0;
    for (; c + 4 <= cols; c += 4) s0 += v[c], s1 += v[c + 1], s2 += v[c + 2], s3 += v[c + 3];
    for (; c < cols; c++) s0 += v[c];
    return (s0 + s1) + (s2 + s3);
}

// The exps of `rows` rows: maxes[r] = row r's max, out = exp(x - maxes[r]) (rows, cols), each <= 1
// (a row's sum then by sum_in_double). The exps run as one flat loop over every element, which
// vectorises whatever the row length (cross-entropy over 3 classes would otherwise compute them
// one at a time). tensor/cpu/softmax_kernels.h has it per instruction set.
static inline void exp_shifted_rows(float* out, float* maxes, const float* x, int64_t rows,
                                    int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float m = maxes[r] = row_max(x + r * cols, cols);
        for (int64_t c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] - m;
    }
    for (int64_t i = 0; i < rows * cols; i++) out[i] = exp_nonpositive(out[i]);
}

} // namespace pg::cpu
