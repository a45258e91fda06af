// Storage lifetime, pinned storage with its copy event, and the 64-byte aligned CPU allocator.
#include "tensor/storage.h"

#include <malloc.h>

#include <cstdlib>
#include <string>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace pg {

// glibc serves blocks above its mmap threshold (128 KB, rising to at most 32 MB as such blocks are
// freed) with a fresh mmap, and returns a free heap top above the trim threshold to the system:
// either way a training step's activations, allocated and freed every step, are new pages each time,
// and every first touch is a page fault (about 15% of the demo network's step was in the kernel).
// With both thresholds raised once, freed tensors up to 32 MB stay in the heap for the next step.
// PG_CPU_MALLOC=system leaves glibc's defaults.
// Returns what was set, for `pixelgrad info`; mallopt reports a value it refuses (then glibc's
// defaults stay, which only costs speed).
static const std::string& keep_freed_tensors_in_the_heap() {
    static const std::string policy = []() -> std::string {
        const char* v = std::getenv("PG_CPU_MALLOC");
        if (v && std::string(v) == "system") return "glibc defaults (PG_CPU_MALLOC=system)";
        const bool mmap_set = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1; // glibc's 64-bit maximum
        const bool trim_set = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
        if (!mmap_set || !trim_set)
            return "the allocator's defaults (mallopt refused the thresholds: not glibc's malloc?)";
        return "freed tensors kept in glibc's heap (mmap threshold 32 MB, trim 1 GB)";
    }();
    return policy;
}

std::string CpuAllocator::policy() { return keep_freed_tensors_in_the_heap(); }

void* CpuAllocator::allocate(size_t nbytes) {
    if (nbytes == 0) return nullptr;
    keep_freed_tensors_in_the_heap();
    size_t rounded = (nbytes + 63) / 64 * 64; // aligned_alloc wants a multiple of the alignment
    void* ptr = std::aligned_alloc(64, rounded);
    PG_CHECK(ptr != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
    return ptr;
}

void CpuAllocator::deallocate(void* ptr, size_t) { std::free(ptr); }

Storage::Storage(size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), allocator_(&backend_for(device).allocator()) {
    data_ = allocator_->allocate(nbytes);
}

Storage::Storage(size_t nbytes, Backend& copy_backend)
    : nbytes_(nbytes), device_(Device::cpu()), allocator_(&copy_backend.pinned_allocator()),
      copy_backend_(&copy_backend) {
    data_ = allocator_->allocate(nbytes);
}

std::shared_ptr<Storage> Storage::pinned(size_t nbytes, Device target) {
    return std::shared_ptr<Storage>(new Storage(nbytes, backend_for(target)));
}

Storage::~Storage() {
    if (copy_backend_) {
        // The pinned allocator hands this block to the next request at once, so a copy still
        // reading it must finish first. A failed wait means the GPU is already in an error state
        // that the next CUDA call reports; a destructor must not throw.
        try {
            wait_copies();
        } catch (const Error&) {}
        if (copy_event_) copy_backend_->destroy_event(copy_event_);
    }
    if (data_) allocator_->deallocate(data_, nbytes_);
}

void Storage::record_copy() {
    if (!copy_backend_) return; // pageable memory: the copy was done (or staged) on return
    if (!copy_event_) copy_event_ = copy_backend_->create_event(); // null on the CPU
    copy_backend_->record_event(copy_event_);
    copy_pending_ = true;
}

void Storage::wait_copies() {
    if (!copy_pending_) return;
    copy_backend_->wait_event(copy_event_);
    copy_pending_ = false;
}

} // namespace pg
