// The machine's own limit for our CPU kernels: OpenBLAS sgemm (through tensor/cpu/gemm.cpp, the
// path every convolution and linear layer ends in) on a large square problem, with whatever
// threads OPENBLAS_NUM_THREADS gives it. tools/bench_torch_train_step.py runs it beside the
// training steps and prints each network's GFLOP/s as a fraction of it.
#include <benchmark/benchmark.h>

#include "tensor/cpu/kernels.h"
#include "tensor/tensor.h"

namespace pg {
namespace {

// C (n, n) = A (n, n) B (n, n): 2 n^3 FLOP, large enough that packing and threading overheads
// vanish (n = 2048: 17 GFLOP, 48 MiB of operands).
void BM_SgemmPeak(benchmark::State& state) {
    const int64_t n = state.range(0);
    Generator gen(1);
    Tensor a = Tensor::uniform({n, n}, gen, -1.f, 1.f), b = Tensor::uniform({n, n}, gen, -1.f, 1.f);
    Tensor c = Tensor::empty({n, n});
    for (auto _ : state) {
        cpu::gemm(false, false, n, n, n, 1.f, a.f32(), n, 0, b.f32(), n, 0, 0.f, c.f32(), n, 0, 1);
        benchmark::DoNotOptimize(c.f32());
    }
    const double flops = 2.0 * double(n) * double(n) * double(n);
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgemmPeak)
    ->Name("Gemm/sgemm_peak")
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
} // namespace pg
