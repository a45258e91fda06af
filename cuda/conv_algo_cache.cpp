// The convolution algorithm cache's bookkeeping (cuda/conv_algo_cache.h): key equality, hashing,
// lookup-or-choose with hit / miss counters. The cuDNN side of the choice is in cuda/conv.cpp.
#include "cuda/conv_algo_cache.h"

namespace pg::cuda {

namespace {

// Every geometry field, in declaration order: the whole key, nothing left out.
constexpr int kGeometryFields = 16;
void geometry_fields(const ConvGeometry& g, int64_t out[kGeometryFields]) {
    const int64_t fields[kGeometryFields] = {
        g.N, g.H,        g.W,        g.C,     g.K,     g.R,          g.S,          g.P,
        g.Q, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w, g.groups};
    for (int i = 0; i < kGeometryFields; i++) out[i] = fields[i];
}

// 64-bit FNV-1a step over one value.
uint64_t mix(uint64_t h, uint64_t v) {
    for (int byte = 0; byte < 8; byte++) {
        h ^= (v >> (8 * byte)) & 0xffu;
        h *= 0x100000001b3ull;
    }
    return h;
}

} // namespace

bool ConvAlgoKey::operator==(const ConvAlgoKey& o) const {
    int64_t a[kGeometryFields], b[kGeometryFields];
    geometry_fields(g, a);
    geometry_fields(o.g, b);
    for (int i = 0; i < kGeometryFields; i++)
        if (a[i] != b[i]) return false;
    return pass == o.pass && allow_tf32 == o.allow_tf32 && deterministic == o.deterministic &&
           exhaustive_search == o.exhaustive_search && workspace_cap == o.workspace_cap;
}

size_t ConvAlgoKeyHash::operator()(const ConvAlgoKey& key) const {
    int64_t fields[kGeometryFields];
    geometry_fields(key.g, fields);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t f : fields) h = mix(h, uint64_t(f));
    const uint64_t flags = uint64_t(key.pass) | uint64_t(key.allow_tf32) << 8 |
                           uint64_t(key.deterministic) << 9 | uint64_t(key.exhaustive_search) << 10;
    h = mix(h, flags);
    h = mix(h, uint64_t(key.workspace_cap));
    return size_t(h);
}

ConvAlgoChoice ConvAlgoCache::get(const ConvAlgoKey& key,
                                  const std::function<ConvAlgoChoice()>& choose) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = choices_.find(key);
    if (it != choices_.end()) {
        hits_++;
        return it->second;
    }
    misses_++;
    ConvAlgoChoice choice = choose();
    choices_.emplace(key, choice);
    return choice;
}

size_t ConvAlgoCache::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return choices_.size();
}
size_t ConvAlgoCache::hits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return hits_;
}
size_t ConvAlgoCache::misses() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return misses_;
}
void ConvAlgoCache::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    choices_.clear();
    hits_ = misses_ = 0;
}

ConvAlgoCache& conv_algo_cache() {
    static ConvAlgoCache cache;
    return cache;
}

} // namespace pg::cuda
