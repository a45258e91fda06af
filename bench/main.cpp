// The benchmark executable's main: registers the backends, then runs Google Benchmark.
// Suites live one per op family in bench/*_bench.cpp; run `make bench` or build/pg_bench --help.
#include <benchmark/benchmark.h>

#include "seg/runtime.h"

int main(int argc, char** argv) {
    pg::reexec_with_fast_cpu_settings(argv); // the kernels and spin the pixelgrad binary runs with
    pg::init_backends();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
