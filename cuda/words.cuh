// Dtype-agnostic copies for the CUDA layout and resize kernels (the twin of tensor/cpu/words.h):
// a pixel (or element) of `bytes` bytes is moved as bytes / sizeof(Word) machine words, with Word the
// widest of 8/4/2/1 bytes that divides it and both base addresses, so every copy is bit-exact and
// no word access is misaligned. Internal to cuda/ (resize.cu, layout.cu).
#pragma once

#include <cstdint>

namespace pg::cuda {

// Calls f(Word{}) with the widest unsigned word type whose size divides `bytes`, `a` and `b`.
template <typename F>
void with_word(int64_t bytes, const void* a, const void* b, F f) {
    const uint64_t key = uint64_t(bytes) | uint64_t(uintptr_t(a)) | uint64_t(uintptr_t(b));
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

} // namespace pg::cuda
