// FlopCounter (nn/flops.h): a thread-local stack of live counters; nested counters all count.
#include "nn/flops.h"

#include "autograd/node.h"
#include "nn/module.h"

namespace pg::nn {

static thread_local FlopCounter* innermost = nullptr;

FlopCounter::FlopCounter() : outer_(innermost) { innermost = this; }
FlopCounter::~FlopCounter() { innermost = outer_; }

void FlopCounter::add(int64_t flops) {
    for (FlopCounter* c = innermost; c != nullptr; c = c->outer_) c->total_ += flops;
}

int64_t count_forward_flops(Module& module, const std::function<void()>& forward) {
    EvalModeGuard eval_mode(module);
    NoGradGuard no_grad;
    FlopCounter counter;
    forward();
    return counter.total();
}

} // namespace pg::nn
