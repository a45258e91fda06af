// Storage lifetime and the 64-byte aligned CPU allocator.
#include "tensor/storage.h"

#include <cstdlib>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace pg {

void* CpuAllocator::allocate(size_t nbytes) {
    if (nbytes == 0) return nullptr;
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

Storage::~Storage() {
    if (data_) allocator_->deallocate(data_, nbytes_);
}

} // namespace pg
