// The optimizer step (GB/s): the fused SGD kernel (Backend::sgd_update) against the six unfused
// ops it replaced, on one 3x3 512 -> 512 weight, the size of layer4's (2.4M floats), with
// momentum and weight decay as the trainers use them.  Run: pg_bench --benchmark_filter=Sgd
#include <benchmark/benchmark.h>

#include "autograd/ops.h"
#include "tensor/backend.h"

namespace pg {
namespace {

const Shape kWeight{512, 3, 3, 512};

struct SgdBench {
    Generator gen{1};
    Tensor param = Tensor::normal(kWeight, gen), grad = Tensor::normal(kWeight, gen);
    Tensor buffer = Tensor::normal(kWeight, gen);
    // param and buffer read and written, grad read
    int64_t bytes() const { return 5 * param.nbytes(); }
};

void BM_SgdStepFused(benchmark::State& state) {
    SgdBench b;
    SgdStep step{1e-3f, 1e-4f, 0.9f, 1.f, false, false};
    for (auto _ : state) sgd_update_(b.param, b.buffer, b.grad, step);
    state.SetBytesProcessed(state.iterations() * b.bytes());
}
BENCHMARK(BM_SgdStepFused)->Unit(benchmark::kMillisecond)->UseRealTime();

// d = grad + wd * param (a copy); buf = m * buf + d; param -= lr * buf: what SGD::update ran
// before the fused kernel.
void BM_SgdStepUnfused(benchmark::State& state) {
    SgdBench b;
    for (auto _ : state) {
        Tensor d = b.grad.clone();
        add_(d, b.param, 1e-4f);
        mul_(b.buffer, 0.9f);
        add_(b.buffer, d);
        add_(b.param, b.buffer, -1e-3f);
    }
    state.SetBytesProcessed(state.iterations() * b.bytes());
}
BENCHMARK(BM_SgdStepUnfused)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
} // namespace pg
