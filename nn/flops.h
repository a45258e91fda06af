// Counting forward FLOPs: while a FlopCounter is alive on this thread, Conv2d and Linear add
// 2 x multiply-accumulates of every forward they run (the usual convention; BN, activations and
// pooling are not counted). Run one eval-mode forward under NoGradGuard at the input size of
// interest, then read total().
#pragma once

#include <cstdint>

namespace pg::nn {

class FlopCounter {
  public:
    FlopCounter();
    ~FlopCounter();
    FlopCounter(const FlopCounter&) = delete;
    FlopCounter& operator=(const FlopCounter&) = delete;
    int64_t total() const { return total_; }

    // Called by the layers: adds to the innermost live counter, if any.
    static void add(int64_t flops);

  private:
    int64_t total_ = 0;
    FlopCounter* outer_;
};

} // namespace pg::nn
