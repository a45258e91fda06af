// Start-up for programs built on pixelgrad: registers the CUDA backend when this build has one
// and a GPU is present, and describes the build for `pixelgrad info`.
#pragma once

#include <string>

#include "tensor/dtype.h"

namespace pg {

// Call once at start-up (the CLI, the test and benchmark mains do). Safe without a GPU. Under
// mpirun it first joins the run's processes (dist/), and each process of a machine then sees only
// its own GPU (the local rank's) as cuda:0.
void init_backends();
// Why the CUDA backend is not registered (empty when it is).
std::string& cuda_unavailable_reason();
// Process settings that must be in the environment before libgomp and OpenBLAS load (they read
// it before main), so a program calls this first thing in main: it sets what the user left unset
// and re-executes itself once (/proc/self/exe) when it changed anything.
//  - GOMP_SPINCOUNT=3000 unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set: libgomp's idle threads
//    otherwise spin so long that beside another busy process a step takes many times longer
//    (100 steps of the demo network on 2 cores: 4.0 s alone, 62 s beside two busy loops; with the
//    short spin 4.7 s beside them and ~4% slower alone; OMP_WAIT_POLICY=PASSIVE: 3.4 s alone).
//  - OPENBLAS_CORETYPE, unless set, when OpenBLAS picked kernels for an older ISA than the CPU
//    has: the best of SkylakeX (AVX-512), Haswell (AVX2 + FMA), Sandybridge (AVX) the CPU supports.
//    OpenBLAS 0.3.21 falls back to Prescott (SSE3) for a model its table does not know (a VM's
//    "Intel(R) Xeon(R) Processor"): sgemm 2048^3 ran at 32 GFLOP/s a thread there, 316 with SkylakeX.
void reexec_with_fast_cpu_settings(char** argv);
// The OpenBLAS kernels for this CPU's ISA ("SkylakeX", "Haswell", "Sandybridge"), or "" for an
// older one (then OpenBLAS's own choice stands).
std::string openblas_kernels_for_this_cpu();
// The vector ISA an OpenBLAS kernel set (a core name, any case) needs: 4 AVX-512, 3 AVX2,
// 2 AVX, 1 SSE; 0 for a name not listed.
int openblas_isa_level(std::string core);
// When OPENBLAS_CORETYPE holds OpenBLAS (and with it pixelgrad's own CPU kernels) to an older
// instruction set than this CPU's best: one line saying so and what to do; else "". `info` and
// `train` on the CPU print it (an environment may set the variable for reasons of its own: this
// VM's sets Haswell on an AVX-512 CPU, which makes CPU training about 1.7x slower).
std::string cpu_kernels_held_back_note();
// A multi-line description: version, compiler, BLAS, OpenMP threads, CUDA/cuDNN/cuBLAS, devices.
std::string build_info();

// Memory held on `device`, in MiB: the CUDA caching allocator's allocated bytes (and its peak), or
// on the CPU the process's resident set (VmRSS / VmHWM).
double memory_in_use_mib(const Device& device);
double peak_memory_mib(const Device& device);

} // namespace pg
