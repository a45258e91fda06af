// Generator: the one seeded random number source of pixelgrad (Philox4x32-10, counter based).
// A random tensor fill of n elements takes a contiguous range of counters, so element i of the
// fill is a pure function of (seed, offset + i): the CPU and CUDA kernels produce the very same
// numbers, and a run is reproducible from its seed whatever the thread count.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace pg {

// One Philox4x32-10 block: four 32-bit random words from a 128-bit counter and a 64-bit key.
// Defined inline (host and device) so the CUDA kernels share this exact code.
#if defined(__CUDACC__)
#define PG_HOST_DEVICE __host__ __device__
#else
#define PG_HOST_DEVICE
#endif

struct PhiloxBlock {
    uint32_t v[4];
};

PG_HOST_DEVICE inline PhiloxBlock philox4x32(uint64_t counter, uint64_t key) {
    uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
        uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
        c1 = uint32_t(p1);
        c3 = uint32_t(p0);
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return PhiloxBlock{{c0, c1, c2, c3}};
}

// A 32-bit word -> a float in [0, 1) with 24 random bits (exactly representable).
PG_HOST_DEVICE inline float uniform_from_bits(uint32_t bits) {
    return float(bits >> 8) * (1.0f / 16777216.0f);
}

// Element i of a fill at counter `offset`: uniform uses word i % 4 of block offset + i / 4.
PG_HOST_DEVICE inline float philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
    PhiloxBlock block = philox4x32(offset + i / 4, seed);
    return uniform_from_bits(block.v[i % 4]);
}

class Generator {
  public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}

    uint64_t seed() const { return seed_; }
    uint64_t offset() const { return offset_; }
    // Restores a saved state (for exact resume).
    void set_state(uint64_t seed, uint64_t offset);

    // Reserves `blocks` Philox counters for a tensor fill and returns the first one.
    uint64_t reserve(uint64_t blocks);

    // Scalar draws for host-side decisions (crops, flips, sampling).
    uint32_t next_u32();
    float uniform();                            // [0, 1)
    float uniform(float low, float high);       // [low, high)
    int64_t randint(int64_t low, int64_t high); // [low, high), unbiased
    float normal();                             // N(0, 1)

  private:
    uint64_t seed_ = 0;
    uint64_t offset_ = 0;
    std::array<uint32_t, 4> lanes_{};
    int lanes_left_ = 0;
};

} // namespace pg

namespace pg {

// Element i of a normal fill at counter `offset`: Box-Muller on the word pair (0, 1) of block
// offset + i / 2 for even i, on the pair (2, 3) for odd i.
PG_HOST_DEVICE inline float philox_normal(uint64_t seed, uint64_t offset, uint64_t i) {
    PhiloxBlock block = philox4x32(offset + i / 2, seed);
    int lane = int(i % 2) * 2;
    float u1 = 1.0f - uniform_from_bits(block.v[lane]), u2 = uniform_from_bits(block.v[lane + 1]);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

} // namespace pg
