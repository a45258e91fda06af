// Storage: one reference-counted block of device memory, and the Allocator interface behind it.
// Tensors that share a Storage (reshape, detach) share its version counter, which every in-place
// write bumps; autograd compares it with the version it saved to catch in-place misuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/dtype.h"

namespace pg {

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
};

class Storage {
  public:
    // Allocates nbytes on `device` through that device's backend allocator.
    Storage(size_t nbytes, Device device);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() const { return data_; }
    size_t nbytes() const { return nbytes_; }
    Device device() const { return device_; }
    uint64_t version() const { return version_; }
    void bump_version() { version_++; }

  private:
    void* data_ = nullptr;
    size_t nbytes_ = 0;
    Device device_;
    Allocator* allocator_ = nullptr;
    uint64_t version_ = 0;
};

} // namespace pg
