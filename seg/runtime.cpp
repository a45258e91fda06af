// Backend start-up and the build description printed by `pixelgrad info`.
#include "seg/runtime.h"

#include <omp.h>

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "pg_config.h"
#include "pg_git_commit.h"
#include "tensor/backend.h"
#include "tensor/collectives.h"
#include "tensor/cpu/conv_regions.h"
#include "tensor/cpu/kernels.h"
#include "tensor/storage.h"

#if PG_MPI_ENABLED
#include "dist/mpi_collectives.h"
#endif
#if PG_NCCL_ENABLED
#include "dist/nccl_collectives.h"
#endif
#if PG_WITH_CUDA
#include "cuda/runtime_info.h"
#include "cuda/settings.h"
#endif

extern "C" char* openblas_get_config(void);
extern "C" char* openblas_get_corename(void);
extern "C" int openblas_get_num_threads(void);

namespace pg {

std::string openblas_kernels_for_this_cpu() {
    switch (cpu::isa_level_of_this_cpu()) {
    case 4:
        return "SkylakeX";
    case 3:
        return "Haswell";
    case 2:
        return "Sandybridge";
    }
    return "";
}

int openblas_isa_level(std::string core) { return cpu::isa_level_of_core(std::move(core)); }

void reexec_with_fast_cpu_settings(char** argv) {
    bool changed = false;
    if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
        setenv("GOMP_SPINCOUNT", "3000", 1);
        changed = true;
    }
    const std::string kernels = openblas_kernels_for_this_cpu();
    if (!std::getenv("OPENBLAS_CORETYPE") && !kernels.empty()) {
        const int picked = openblas_isa_level(openblas_get_corename());
        if (picked > 0 && picked < openblas_isa_level(kernels)) {
            setenv("OPENBLAS_CORETYPE", kernels.c_str(), 1);
            setenv("PG_OPENBLAS_PICKED", openblas_get_corename(), 1); // for `pixelgrad info`
            changed = true;
        }
    }
    if (changed) execv("/proc/self/exe", argv); // returns only on failure: go on as we are
}

// Several processes on one machine: process with local rank r sees only the r-th GPU (of
// CUDA_VISIBLE_DEVICES when the user set it, else of all), as its cuda:0. Set before the CUDA
// runtime starts, so every thread of the process (the loader's too) uses that GPU.
static void give_each_process_its_gpu() {
    const Collectives& c = collectives();
    if (c.world_size() == 1) return;
    std::vector<std::string> visible;
    if (const char* list = std::getenv("CUDA_VISIBLE_DEVICES")) {
        std::stringstream in(list);
        for (std::string id; std::getline(in, id, ',');)
            if (!id.empty()) visible.push_back(id);
    }
    std::string mine = visible.empty() ? std::to_string(c.local_rank())
                                       : visible[size_t(c.local_rank()) % visible.size()];
    setenv("CUDA_VISIBLE_DEVICES", mine.c_str(), 1);
}

void init_backends() {
    static bool done = false;
    if (done) return;
    done = true;
#if PG_MPI_ENABLED
    dist::init_mpi_if_launched(); // under mpirun: join the run's processes
#endif
    give_each_process_its_gpu();
#if PG_WITH_CUDA
    cuda_unavailable_reason().clear();
    cuda::register_backend(&cuda_unavailable_reason()); // no GPU: cuda stays unregistered
#endif
#if PG_NCCL_ENABLED
    // Several processes (or one with PG_FORCE_DATA_PARALLEL=1): their CUDA tensors' collectives
    // go through NCCL when every one of them has its own GPU (agreed, so that all register it or
    // none; the communicator itself starts at the first CUDA collective, so a run on the CPUs
    // never creates one).
    if (data_parallel_run()) {
        float with_gpu = device_available(Device::cuda(0)) ? 1.f : 0.f;
        collectives().all_reduce_sum(&with_gpu, 1);
        if (with_gpu == float(collectives().world_size()))
            register_device_collectives(DeviceType::cuda, dist::make_nccl_collectives());
    }
#endif
}

std::string& cuda_unavailable_reason() {
    static std::string reason = "not built with CUDA";
    return reason;
}

std::string cpu_kernels_held_back_note() {
    const char* forced = std::getenv("OPENBLAS_CORETYPE");
    const std::string best = openblas_kernels_for_this_cpu();
    if (!forced || best.empty()) return "";
    const int asked = openblas_isa_level(forced);
    if (asked <= 0 || asked >= openblas_isa_level(best)) return "";
    return std::string("note: OPENBLAS_CORETYPE=") + forced + " holds OpenBLAS and pixelgrad's " +
           "CPU kernels to " + cpu::simd_path_name(cpu::simd_path()) + " on this CPU, whose best " +
           "kernels are " + best + "'s: unset it to train faster";
}

static std::string version_string(long v, long major_div, long minor_div) {
    return std::to_string(v / major_div) + "." + std::to_string((v % major_div) / minor_div);
}

std::string build_info() {
    std::ostringstream out;
    out << "pixelgrad " << PG_VERSION << " (" << PG_GIT_COMMIT << ", " << PG_BUILD_TYPE << ")\n";
    out << "  compiler:   " << PG_CXX_COMPILER << ", C++17\n";
    out << "  cpu:        OpenMP " << omp_get_max_threads() << " threads, BLAS "
        << openblas_get_config() << " (" << openblas_get_num_threads() << " threads)\n";
    const std::string best = openblas_kernels_for_this_cpu();
    const char* forced = std::getenv("OPENBLAS_CORETYPE");
    const char* picked = std::getenv("PG_OPENBLAS_PICKED");
    std::string why = "OpenBLAS's choice";
    if (picked)
        why = std::string("set at start-up; OpenBLAS picked ") + picked;
    else if (forced)
        why = std::string("OPENBLAS_CORETYPE=") + forced;
    out << "  kernels:    OpenBLAS " << openblas_get_corename() << " (" << why
        << "; this CPU's best: " << (best.empty() ? "pre-AVX" : best) << "); direct conv "
        << cpu::simd_path_name(cpu::simd_path())
        << (cpu::direct_conv_enabled() ? "" : " (off: PG_CPU_DIRECT_CONV=0)")
        << "; conv weight gradient by row bands"
        << (cpu::conv_regions_enabled() ? "" : " (off: PG_CPU_CONV_REGIONS=0)") << "\n";
    if (std::string note = cpu_kernels_held_back_note(); !note.empty())
        out << "              " << note << "\n";
    out << "  cpu memory: " << CpuAllocator::policy() << "\n";
#if PG_WITH_CUDA
    cuda::RuntimeInfo info = cuda::runtime_info();
    out << "  cuda:       built for sm_" << PG_CUDA_ARCHITECTURES << " with nvcc "
        << PG_CUDA_COMPILER << "; runtime " << version_string(info.runtime_version, 1000, 10)
        << ", driver "
        << (info.driver_version ? version_string(info.driver_version, 1000, 10) : "none") << "\n";
    out << "  cudnn:      " << version_string(long(info.cudnn_version), 10000, 100) << "."
        << info.cudnn_version % 100 << "\n";
    if (info.cublas_version)
        out << "  cublas:     " << info.cublas_version / 10000 << "."
            << info.cublas_version / 100 % 100 << "." << info.cublas_version % 100
            << " (opened when a GPU is used)\n";
    else
        out << "  cublas:     none: " << info.cublas_error << "\n";
    if (info.gpus.empty()) out << "  gpus:       none (" << info.error << ")\n";
    for (size_t i = 0; i < info.gpus.size(); i++)
        out << "  cuda:" << i << "     " << info.gpus[i].name << ", sm_"
            << info.gpus[i].compute_major << info.gpus[i].compute_minor << ", "
            << (info.gpus[i].total_memory >> 20) << " MiB\n";
#else
    out << "  cuda:       not built (no nvcc found at configure time)\n";
#endif
#if PG_MPI_ENABLED
    out << "  collectives: MPI built in (" << dist::mpi_library_name()
        << "); this process: " << collectives().describe() << "\n";
#else
    out << "  collectives: single process only (built without MPI: apt-get install "
           "libopenmpi-dev, then rebuild)\n";
#endif
#if PG_NCCL_ENABLED
    const DeviceCollectives* nccl = device_collectives(DeviceType::cuda);
    out << "  nccl:       " << dist::nccl_version() << " built in"
        << (nccl ? "; this run's CUDA tensors use it\n" : " (used by runs of several processes)\n");
#elif PG_WITH_CUDA
    out << "  nccl:       not built (CUDA tensors of data-parallel runs go through host memory)\n";
#endif
    out << "  devices:    cpu";
    if (device_available(Device::cuda(0)))
        out << ", cuda (" << backend_for(Device::cuda(0)).device_count() << ")";
    else
        out << " (cuda backend not registered: " << cuda_unavailable_reason() << ")";
    out << "\n";
    return out.str();
}

// A "VmRSS:   1234 kB" line of /proc/self/status, in MiB (0 where /proc is unavailable).
static double proc_status_mib(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.compare(0, field.size(), field) == 0)
            return std::stod(line.substr(field.size() + 1)) / 1024.0;
    return 0.0;
}

double memory_in_use_mib(const Device& device) {
#if PG_WITH_CUDA
    if (device.type == DeviceType::cuda)
        return double(cuda::allocator_stats().allocated) / (1 << 20);
#endif
    (void)device;
    return proc_status_mib("VmRSS");
}

double peak_memory_mib(const Device& device) {
#if PG_WITH_CUDA
    if (device.type == DeviceType::cuda)
        return double(cuda::allocator_stats().peak_allocated) / (1 << 20);
#endif
    (void)device;
    return proc_status_mib("VmHWM");
}

} // namespace pg
