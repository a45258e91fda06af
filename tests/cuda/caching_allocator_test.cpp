// The CUDA caching allocator's bookkeeping, on the CPU with a fake memory source: reuse, best fit,
// splitting, coalescing, out-of-memory retry and the error message, statistics, direct mode.
#include <cstdlib>
#include <set>

#include "cuda/caching_allocator.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::cuda {
namespace {

// Host memory with a capacity, counting calls: stands in for cudaMalloc / cudaFree.
class FakeSource : public MemorySource {
  public:
    explicit FakeSource(size_t capacity) : capacity_(capacity) {}
    ~FakeSource() override { EXPECT_TRUE(live_.empty()) << live_.size() << " segments leaked"; }
    void* allocate(size_t n) override {
        if (used_ + n > capacity_) return nullptr;
        void* p = std::malloc(n);
        used_ += n;
        live_.insert({p, n});
        mallocs++;
        return p;
    }
    void free(void* p) override {
        for (auto it = live_.begin(); it != live_.end(); ++it)
            if (it->first == p) {
                used_ -= it->second;
                live_.erase(it);
                std::free(p);
                frees++;
                return;
            }
        ADD_FAILURE() << "free of a pointer the source never gave";
    }
    size_t used() const { return used_; }
    int mallocs = 0, frees = 0;

  private:
    size_t capacity_, used_ = 0;
    std::set<std::pair<void*, size_t>> live_;
};

constexpr size_t MiB = 1 << 20;

TEST(CachingAllocator, ReusesFreedBlocksWithoutTheSource) {
    FakeSource source(64 * MiB);
    CachingAllocator alloc(source, false);
    void* a = alloc.allocate(1000);
    alloc.deallocate(a, 1000);
    void* b = alloc.allocate(900); // rounds to the same 1024 bytes
    EXPECT_EQ(a, b);
    EXPECT_EQ(source.mallocs, 1);
    alloc.deallocate(b, 900);
    alloc.empty_cache();
    EXPECT_EQ(source.frees, 1);
}

TEST(CachingAllocator, SmallRequestsShareOneSegment) {
    FakeSource source(64 * MiB);
    CachingAllocator alloc(source, false);
    char* a = static_cast<char*>(alloc.allocate(100));
    char* b = static_cast<char*>(alloc.allocate(100));
    EXPECT_EQ(source.mallocs, 1); // both carved from one 2 MiB segment
    EXPECT_EQ(b - a, 512);        // rounded to 512 bytes, split in address order
    EXPECT_EQ(alloc.stats().reserved, 2 * MiB);
    EXPECT_EQ(alloc.stats().allocated, 1024u);
    alloc.deallocate(a, 100);
    alloc.deallocate(b, 100);
    EXPECT_EQ(alloc.stats().allocated, 0u);
    EXPECT_EQ(alloc.largest_free_block(), 2 * MiB); // coalesced back into one block
    alloc.empty_cache();
}

TEST(CachingAllocator, LargeBlocksSplitAndCoalesce) {
    FakeSource source(64 * MiB);
    CachingAllocator alloc(source, false);
    void* big = alloc.allocate(20 * MiB);
    alloc.deallocate(big, 20 * MiB);
    char* a = static_cast<char*>(alloc.allocate(8 * MiB)); // best fit: carved from the 20 MiB block
    char* b = static_cast<char*>(alloc.allocate(8 * MiB));
    EXPECT_EQ(source.mallocs, 1);
    EXPECT_EQ(b - a, long(8 * MiB));
    alloc.deallocate(a, 8 * MiB);
    alloc.deallocate(b, 8 * MiB);
    void* again = alloc.allocate(20 * MiB); // only possible if the pieces coalesced
    EXPECT_EQ(again, big);
    EXPECT_EQ(source.mallocs, 1);
    alloc.deallocate(again, 20 * MiB);
    alloc.empty_cache();
    EXPECT_EQ(source.used(), 0u);
}

TEST(CachingAllocator, BestFitPicksTheSmallestSufficientBlock) {
    FakeSource source(256 * MiB);
    CachingAllocator alloc(source, false);
    void* b10 = alloc.allocate(10 * MiB);
    void* b4 = alloc.allocate(4 * MiB);
    void* b6 = alloc.allocate(6 * MiB);
    alloc.deallocate(b10, 0);
    alloc.deallocate(b4, 0);
    alloc.deallocate(b6, 0);
    EXPECT_EQ(alloc.allocate(5 * MiB), b6);
    EXPECT_EQ(alloc.allocate(3 * MiB), b4);
    alloc.deallocate(b6, 0);
    alloc.deallocate(b4, 0);
    alloc.empty_cache();
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheAndRetries) {
    FakeSource source(20 * MiB);
    CachingAllocator alloc(source, false);
    void* a = alloc.allocate(12 * MiB);
    alloc.deallocate(a, 0);             // cached, still reserved from the source
    void* b = alloc.allocate(16 * MiB); // does not fit next to the cached 12 MiB: release, retry
    EXPECT_NE(b, nullptr);
    EXPECT_EQ(source.frees, 1);
    EXPECT_EQ(alloc.stats().reserved, 16 * MiB);
    alloc.deallocate(b, 0);
    alloc.empty_cache();
}

TEST(CachingAllocator, OutOfMemoryErrorSaysWhatWasAskedAndWhatIsHeld) {
    FakeSource source(10 * MiB);
    CachingAllocator alloc(source, false);
    void* held = alloc.allocate(6 * MiB);
    try {
        alloc.allocate(8 * MiB);
        FAIL() << "expected out of memory";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_NE(m.find("tried to allocate 8.00 MiB"), std::string::npos) << m;
        EXPECT_NE(m.find("6.00 MiB allocated"), std::string::npos) << m;
        EXPECT_NE(m.find("reserved"), std::string::npos) << m;
        EXPECT_NE(m.find("largest free cached block"), std::string::npos) << m;
    }
    alloc.deallocate(held, 0);
    alloc.empty_cache();
}

TEST(CachingAllocator, PeakStatisticsAndReset) {
    FakeSource source(64 * MiB);
    CachingAllocator alloc(source, false);
    void* a = alloc.allocate(4 * MiB);
    void* b = alloc.allocate(4 * MiB);
    alloc.deallocate(a, 0);
    AllocatorStats s = alloc.stats();
    EXPECT_EQ(s.allocated, 4 * MiB);
    EXPECT_EQ(s.peak_allocated, 8 * MiB);
    EXPECT_EQ(s.allocations, 2u);
    alloc.reset_peak();
    EXPECT_EQ(alloc.stats().peak_allocated, 4 * MiB);
    alloc.deallocate(b, 0);
    alloc.empty_cache();
}

TEST(CachingAllocator, DirectModeGoesToTheSourceEveryTime) {
    FakeSource source(64 * MiB);
    CachingAllocator alloc(source, true);
    void* a = alloc.allocate(1000);
    alloc.deallocate(a, 1000);
    void* b = alloc.allocate(1000);
    alloc.deallocate(b, 1000);
    EXPECT_EQ(source.mallocs, 2);
    EXPECT_EQ(source.frees, 2);
    EXPECT_EQ(alloc.stats().reserved, 0u);
}

TEST(CachingAllocator, FreeingAnUnknownPointerIsAnError) {
    FakeSource source(MiB);
    CachingAllocator alloc(source, false);
    int x;
    EXPECT_THROW(alloc.deallocate(&x, 4), Error);
}

} // namespace
} // namespace pg::cuda
