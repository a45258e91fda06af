// The cuDNN convolution algorithm cache (PyTorch's design, small): one choice per (pass, full
// geometry, numerics settings), made once by heuristics or an exhaustive search (cuda/conv.cpp) and
// reused by every later call with the same key. Plain C++ with no CUDA types, so the bookkeeping is
// unit-tested without a GPU (tests/cuda/conv_algo_cache_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "tensor/backend.h"

namespace pg::cuda {

enum class ConvPass : uint8_t { forward, backward_data, backward_filter };

// Everything that can change which algorithm is right or allowed.
struct ConvAlgoKey {
    ConvPass pass = ConvPass::forward;
    ConvGeometry g{};
    bool allow_tf32 = false;
    bool deterministic = false;
    bool exhaustive_search = false;
    size_t workspace_cap = 0;

    bool operator==(const ConvAlgoKey& o) const;
};

struct ConvAlgoKeyHash {
    size_t operator()(const ConvAlgoKey& key) const;
};

// What cuDNN said for the chosen algorithm: the cudnn*Algo_t and cudnnMathType_t values as ints,
// and the workspace it needs.
struct ConvAlgoChoice {
    int algo = 0;
    int math_type = 0;
    size_t workspace = 0;
};

class ConvAlgoCache {
  public:
    // The cached choice for key, or the result of choose() (run once per key, under the lock,
    // so two threads never search the same shape twice). A throwing choose() caches nothing.
    ConvAlgoChoice get(const ConvAlgoKey& key, const std::function<ConvAlgoChoice()>& choose);
    size_t size() const;
    size_t hits() const;   // get() calls answered from the cache
    size_t misses() const; // get() calls that ran choose()
    void clear();          // forgets every choice and resets the counters

  private:
    mutable std::mutex mutex_;
    std::unordered_map<ConvAlgoKey, ConvAlgoChoice, ConvAlgoKeyHash> choices_;
    size_t hits_ = 0, misses_ = 0;
};

// The process-wide cache that cuda/conv.cpp uses.
ConvAlgoCache& conv_algo_cache();

} // namespace pg::cuda
