// Counting forward FLOPs: while a FlopCounter is alive on this thread, Conv2d and Linear add
// 2 x multiply-accumulates of every forward they run (the usual convention; BN, activations and
// pooling are not counted). Run one eval-mode forward under NoGradGuard at the input size of
// interest, then read total().
#pragma once

#include <cstdint>
#include <functional>

namespace pg::nn {

class Module;

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

// Runs `forward` once with `module` in eval mode, under NoGradGuard, with a FlopCounter, and
// returns the count; the module's train / eval mode is restored afterwards (even on an error).
int64_t count_forward_flops(Module& module, const std::function<void()>& forward);

} // namespace pg::nn
