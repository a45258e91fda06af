// Dtype-agnostic copies for the layout and resize kernels: a pixel (or element) of `bytes` bytes is
// moved as bytes / sizeof(Word) machine words, with Word the widest of 8/4/2/1 bytes that divides
// it and both base addresses. A (..., 3) f32 pixel is three 4-byte words, a u8 label one byte;
// no per-pixel memcpy calls, and never a misaligned word access.
#pragma once

#include <cstdint>

namespace pg::cpu {

// Calls f(Word{}) with the widest unsigned word type whose size divides `bytes`, `a` and `b`.
template <typename F>
void with_word(int64_t bytes, const void* a, const void* b, F f) {
    uint64_t key = uint64_t(bytes) | uint64_t(uintptr_t(a)) | uint64_t(uintptr_t(b));
    if (key % 8 == 0) {
        f(uint64_t{});
    } else if (key % 4 == 0) {
        f(uint32_t{});
    } else if (key % 2 == 0) {
        f(uint16_t{});
    } else {
        f(uint8_t{});
    }
}

} // namespace pg::cpu
