// The caching allocator behind every CUDA tensor (PyTorch's design at a tenth of the size).
// cudaMalloc/cudaFree synchronise and are slow, so freed blocks are kept and reused: requests are
// rounded to 512 bytes, served best-fit from a small pool (<= 1 MiB, carved from 2 MiB segments) or a
// large pool (segments rounded to 2 MiB), split when much larger than asked and coalesced with free
// neighbours on release. On out-of-memory the cache is released and the request retried once.
// Plain C++ over a MemorySource, so the bookkeeping is unit-tested on the CPU with a fake source.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "tensor/storage.h"

namespace pg::cuda {

// Where segments come from: cudaMalloc / cudaFree on a GPU, a fake in tests.
class MemorySource {
  public:
    virtual ~MemorySource() = default;
    virtual void* allocate(size_t nbytes) = 0; // nullptr when out of memory
    virtual void free(void* ptr) = 0;
};

struct AllocatorStats {
    size_t allocated = 0; // bytes in blocks handed out (rounded sizes)
    size_t peak_allocated = 0;
    size_t reserved = 0; // bytes held from the source (segments)
    size_t peak_reserved = 0;
    size_t segments = 0;
    size_t source_allocations = 0; // calls that reached the source (cudaMalloc)
    size_t allocations = 0;        // calls to allocate()
};

class CachingAllocator final : public Allocator {
  public:
    static constexpr size_t kRound = 512;            // every request is a multiple of this
    static constexpr size_t kSmallLimit = 1 << 20;   // requests up to 1 MiB use the small pool
    static constexpr size_t kSmallSegment = 2 << 20; // small-pool segments are 2 MiB
    static constexpr size_t kLargeRound = 2 << 20;   // large segments round up to 2 MiB

    // direct: no caching, every call goes to the source (PG_CUDA_ALLOC=direct, for compute-sanitizer).
    // name: what the memory is, for the out-of-memory message ("CUDA", "CUDA pinned host").
    CachingAllocator(MemorySource& source, bool direct, const char* name = "CUDA");
    ~CachingAllocator() override;

    void* allocate(size_t nbytes) override;
    void deallocate(void* ptr, size_t nbytes) override;
    // Returns every fully free segment to the source.
    void empty_cache();
    AllocatorStats stats() const;
    void reset_peak();
    size_t largest_free_block() const;
    bool direct() const { return direct_; }

  private:
    struct Block;
    struct BlockOrder { // best fit: smallest size first, then lowest address
        bool operator()(const Block* a, const Block* b) const;
    };
    using Pool = std::set<Block*, BlockOrder>;

    Block* find_free_block(Pool& pool, size_t size);
    Block* new_segment(size_t segment_size, bool small);
    void split(Block* block, size_t size, Pool& pool);
    void release_free_segments();
    [[noreturn]] void fail_out_of_memory(size_t requested);

    MemorySource& source_;
    bool direct_;
    const char* name_;
    mutable std::mutex mutex_;
    Pool small_pool_, large_pool_;
    std::map<void*, Block*> in_use_;       // allocated blocks by address
    std::map<void*, size_t> direct_sizes_; // direct mode bookkeeping
    std::set<Block*> segment_heads_;       // first block of every segment
    AllocatorStats stats_;
};

// A readable byte count: "1.50 GiB", "512 B".
std::string format_bytes(size_t bytes);

} // namespace pg::cuda
