// Host-side draws from the Philox generator; tensor fills live in the backends (fill_uniform).
#include "tensor/generator.h"

#include <cmath>

#include "tensor/error.h"

namespace pg {

void Generator::set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
    lanes_left_ = 0;
}

uint64_t Generator::reserve(uint64_t blocks) {
    lanes_left_ = 0; // scalar draws after a fill start on a fresh block
    uint64_t first = offset_;
    offset_ += blocks;
    return first;
}

uint32_t Generator::next_u32() {
    if (lanes_left_ == 0) {
        PhiloxBlock block = philox4x32(offset_++, seed_);
        for (int i = 0; i < 4; i++) lanes_[i] = block.v[i];
        lanes_left_ = 4;
    }
    return lanes_[4 - lanes_left_--];
}

float Generator::uniform() { return uniform_from_bits(next_u32()); }

float Generator::uniform(float low, float high) { return low + (high - low) * uniform(); }

int64_t Generator::randint(int64_t low, int64_t high) {
    PG_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
    uint64_t range = uint64_t(high - low);
    // Rejection sampling on 64 bits removes the modulo bias.
    uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t r;
    do { r = (uint64_t(next_u32()) << 32) | next_u32(); } while (r >= limit);
    return low + int64_t(r % range);
}

float Generator::normal() {
    // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
    float u1 = 1.0f - uniform(), u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853071795864f * u2);
}

} // namespace pg
