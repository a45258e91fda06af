// Caching allocator bookkeeping: pools, best-fit search, split, coalesce, retry, statistics.
#include "cuda/caching_allocator.h"

#include <cstdio>

#include "tensor/error.h"

namespace pg::cuda {

// A contiguous piece of a segment. Blocks of one segment form a doubly linked list in address order.
struct CachingAllocator::Block {
    char* ptr = nullptr;
    size_t size = 0;
    size_t segment_size = 0; // size of the whole segment (kept on every block of it)
    bool allocated = false;
    bool small = false;
    Block* prev = nullptr;
    Block* next = nullptr;
};

bool CachingAllocator::BlockOrder::operator()(const Block* a, const Block* b) const {
    if (a->size != b->size) return a->size < b->size;
    return a->ptr < b->ptr;
}

static size_t round_up(size_t n, size_t multiple) {
    return (n + multiple - 1) / multiple * multiple;
}

std::string format_bytes(size_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 4) v /= 1024.0, u++;
    char text[32];
    std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
    return text;
}

CachingAllocator::CachingAllocator(MemorySource& source, bool direct, const char* name)
    : source_(source), direct_(direct), name_(name) {}

CachingAllocator::~CachingAllocator() {
    // Tensors still alive at exit keep their memory; cached segments go back to the source.
    release_free_segments();
}

CachingAllocator::Block* CachingAllocator::find_free_block(Pool& pool, size_t size) {
    Block probe;
    probe.size = size;
    auto it = pool.lower_bound(&probe);
    if (it == pool.end()) return nullptr;
    Block* block = *it;
    pool.erase(it);
    return block;
}

CachingAllocator::Block* CachingAllocator::new_segment(size_t segment_size, bool small) {
    void* ptr = source_.allocate(segment_size);
    if (!ptr) return nullptr;
    Block* block = new Block;
    block->ptr = static_cast<char*>(ptr);
    block->size = segment_size;
    block->segment_size = segment_size;
    block->small = small;
    segment_heads_.insert(block);
    stats_.reserved += segment_size;
    stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
    stats_.segments++;
    stats_.source_allocations++;
    return block;
}

// Cuts `block` to `size` when the remainder is worth keeping (>= 512 B in the small pool, > 1 MiB
// in the large one: smaller large-pool remainders would fragment big segments into unusable bits).
void CachingAllocator::split(Block* block, size_t size, Pool& pool) {
    size_t remainder = block->size - size;
    bool worth_it = block->small ? remainder >= kRound : remainder > kSmallLimit;
    if (!worth_it) return;
    Block* rest = new Block;
    rest->ptr = block->ptr + size;
    rest->size = remainder;
    rest->segment_size = block->segment_size;
    rest->small = block->small;
    rest->prev = block;
    rest->next = block->next;
    if (block->next) block->next->prev = rest;
    block->next = rest;
    block->size = size;
    pool.insert(rest);
}

void* CachingAllocator::allocate(size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.allocations++;
    size_t size = round_up(std::max<size_t>(nbytes, 1), kRound);
    if (direct_) {
        void* ptr = source_.allocate(size);
        if (!ptr) fail_out_of_memory(size);
        direct_sizes_[ptr] = size;
        stats_.source_allocations++;
        stats_.allocated += size;
        stats_.reserved += size;
        stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
        stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
        return ptr;
    }
    bool small = size <= kSmallLimit;
    Pool& pool = small ? small_pool_ : large_pool_;
    Block* block = find_free_block(pool, size);
    if (!block) {
        size_t segment = small ? kSmallSegment : round_up(size, kLargeRound);
        block = new_segment(segment, small);
        if (!block) { // free every cached segment and try once more
            release_free_segments();
            block = new_segment(segment, small);
        }
        if (!block) fail_out_of_memory(size);
    }
    split(block, size, pool);
    block->allocated = true;
    in_use_[block->ptr] = block;
    stats_.allocated += block->size;
    stats_.peak_allocated = std::max(stats_.peak_allocated, stats_.allocated);
    return block->ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t) {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (direct_) {
        auto it = direct_sizes_.find(ptr);
        PG_CHECK(it != direct_sizes_.end(), "cuda allocator: freeing unknown pointer ", ptr);
        stats_.allocated -= it->second;
        stats_.reserved -= it->second;
        source_.free(ptr);
        direct_sizes_.erase(it);
        return;
    }
    auto it = in_use_.find(ptr);
    PG_CHECK(it != in_use_.end(), "cuda allocator: freeing unknown pointer ", ptr);
    Block* block = it->second;
    in_use_.erase(it);
    stats_.allocated -= block->size;
    block->allocated = false;
    Pool& pool = block->small ? small_pool_ : large_pool_;
    // Coalesce with free neighbours of the same segment so big requests can reuse the space.
    if (block->prev && !block->prev->allocated) {
        Block* prev = block->prev;
        pool.erase(prev);
        prev->size += block->size;
        prev->next = block->next;
        if (block->next) block->next->prev = prev;
        delete block;
        block = prev;
    }
    if (block->next && !block->next->allocated) {
        Block* next = block->next;
        pool.erase(next);
        block->size += next->size;
        block->next = next->next;
        if (next->next) next->next->prev = block;
        delete next;
    }
    pool.insert(block);
}

// A segment is fully free when its head block is free and spans the whole segment.
void CachingAllocator::release_free_segments() {
    for (auto it = segment_heads_.begin(); it != segment_heads_.end();) {
        Block* head = *it;
        if (head->allocated || head->size != head->segment_size) {
            ++it;
            continue;
        }
        (head->small ? small_pool_ : large_pool_).erase(head);
        source_.free(head->ptr);
        stats_.reserved -= head->segment_size;
        stats_.segments--;
        delete head;
        it = segment_heads_.erase(it);
    }
}

void CachingAllocator::empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_free_segments();
}

size_t CachingAllocator::largest_free_block() const {
    size_t largest = 0;
    if (!small_pool_.empty()) largest = std::max(largest, (*small_pool_.rbegin())->size);
    if (!large_pool_.empty()) largest = std::max(largest, (*large_pool_.rbegin())->size);
    return largest;
}

AllocatorStats CachingAllocator::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
}

void CachingAllocator::reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_allocated = stats_.allocated;
    stats_.peak_reserved = stats_.reserved;
}

void CachingAllocator::fail_out_of_memory(size_t requested) {
    PG_FAIL(name_, " out of memory: tried to allocate ", format_bytes(requested), "; ",
            format_bytes(stats_.allocated), " allocated by tensors, ",
            format_bytes(stats_.reserved), " reserved by the allocator, largest free cached block ",
            format_bytes(largest_free_block()), direct_ ? " (direct mode: no cache)" : "");
}

} // namespace pg::cuda
