// The backend registry: CPU is built in; CUDA is installed by cuda::register_backend().
// While the profiler is on, backend_for() hands the profiled thread a timing wrapper instead.
#include "tensor/backend.h"

#include "tensor/cpu/cpu_backend.h"
#include "tensor/error.h"
#include "tensor/profiler.h"
#include "tensor/profiling_backend.h"

namespace pg {

static Backend* cuda_backend = nullptr;

void register_backend(DeviceType type, Backend* backend) {
    PG_CHECK(type == DeviceType::cuda, "register_backend: the CPU backend is built in");
    cuda_backend = backend;
}

bool device_available(const Device& device) {
    if (device.is_cpu()) return device.index == 0;
    return cuda_backend != nullptr && device.index >= 0 &&
           device.index < cuda_backend->device_count();
}

static Backend& registered_backend(const Device& device) {
    if (device.is_cpu()) return cpu::backend();
    PG_CHECK(cuda_backend != nullptr, "device ", device.name(),
             ": no CUDA backend is registered (this build has no CUDA, or no GPU was found at "
             "start-up; `pixelgrad info` shows which)");
    PG_CHECK(device.index >= 0 && device.index < cuda_backend->device_count(), "device ",
             device.name(), ": only ", cuda_backend->device_count(), " CUDA device(s) present");
    return *cuda_backend;
}

Backend& backend_for(const Device& device) {
    Backend& backend = registered_backend(device);
    // Profiling off: this one branch is all it costs. On: only the profiled thread is wrapped.
    if (profiler::enabled() && profiler::recording_on_this_thread())
        return profiling_backend(device.type, backend);
    return backend;
}

} // namespace pg
