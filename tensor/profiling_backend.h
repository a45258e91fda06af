// ProfilingBackend: a Backend that forwards every kernel to the real backend of its device and
// times it for the profiler (tensor/profiler.h). backend_for() returns it while profiling is
// enabled, so timing lives in one place instead of in every op. Internal to tensor/.
#pragma once

#include "tensor/backend.h"

namespace pg {

// The timing wrapper of `inner`, the backend of device type `type`: one per device type, made on
// first use and never freed (a pinned Storage keeps a pointer to its backend until it dies).
// It records only while profiler::recording_on_this_thread(); otherwise it just forwards.
Backend& profiling_backend(DeviceType type, Backend& inner);

} // namespace pg
