// Storage: one reference-counted block of device memory, and the Allocator interface behind it.
// Tensors that share a Storage (reshape, detach) share its version counter, which every in-place
// write bumps; autograd compares it with the version it saved to catch in-place misuse.
// A pinned Storage is host memory staged for copies to a device; it remembers its last copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tensor/dtype.h"

namespace pg {

class Backend; // tensor/backend.h

class Allocator {
  public:
    virtual ~Allocator() = default;
    virtual void* allocate(size_t nbytes) = 0;
    virtual void deallocate(void* ptr, size_t nbytes) = 0;
};

// Host memory aligned to 64 bytes (a cache line; what AVX-512 loads like).
class CpuAllocator final : public Allocator {
  public:
    void* allocate(size_t nbytes) override;
    void deallocate(void* ptr, size_t nbytes) override;
    // How freed memory is kept (glibc's thresholds, tensor/storage.cpp), in words.
    static std::string policy();
};

class Storage {
  public:
    // Allocates nbytes on `device` through that device's backend allocator.
    Storage(size_t nbytes, Device device);
    // nbytes of CPU memory staged for copies to `target`, from target's Backend::pinned_allocator()
    // (page-locked for a GPU, so copies from it to the GPU are asynchronous; see record_copy).
    static std::shared_ptr<Storage> pinned(size_t nbytes, Device target);
    // A pinned storage first waits for the copies still reading it, so its memory can be reused.
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() const { return data_; }
    size_t nbytes() const { return nbytes_; }
    Device device() const { return device_; }
    uint64_t version() const { return version_; }
    void bump_version() { version_++; }

    // ---- pinned storage (no-ops otherwise) ----
    bool is_pinned() const { return copy_backend_ != nullptr; }
    // Call right after queueing a copy out of this storage: marks the copy with an event.
    void record_copy();
    // Blocks until every copy out of this storage has finished; then the host may write it.
    void wait_copies();

  private:
    Storage(size_t nbytes, Backend& copy_backend);

    void* data_ = nullptr;
    size_t nbytes_ = 0;
    Device device_;
    Allocator* allocator_ = nullptr;
    uint64_t version_ = 0;
    // Pinned only: the target device's backend (its allocator and events), the event of the last
    // copy out of this storage, and whether that copy may still be running. One thread at a time.
    Backend* copy_backend_ = nullptr;
    void* copy_event_ = nullptr;
    bool copy_pending_ = false;
};

} // namespace pg
