// check_processes_agree (seg/train/same_run.h): fingerprints of the configuration and the sample
// lists, all-gathered and compared with process 0's.
#include "seg/train/same_run.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::seg {

// FNV-1a, 64 bits: the same for the same text in every process of one binary.
static uint64_t fingerprint(const std::string& text) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
    return h;
}

static std::string sample_ids(const Dataset& data) {
    std::string ids;
    for (int64_t i = 0; i < data.size(); i++) ids += data.files(i).id + "\n";
    return ids;
}

namespace {
struct Checked {
    const char* differs; // "process R of N <differs> than process 0"
    uint64_t hash;
    int64_t count; // samples; 0 for the configuration
};
} // namespace

void check_processes_agree(const Config& config, const Dataset& train, const Dataset& val) {
    Collectives& c = collectives();
    if (c.world_size() == 1) return;
    const Checked checked[] = {
        {"was started with another configuration (--config and every --set)",
         fingerprint(config.to_yaml()), 0},
        {"reads other training samples", fingerprint(sample_ids(train)), train.size()},
        {"reads other validation samples", fingerprint(sample_ids(val)), val.size()}};
    // Per item: the hash in three 22-bit parts and the count, each exact in a float.
    constexpr int64_t kPer = 4;
    std::vector<float> mine;
    for (const Checked& item : checked) {
        for (int part = 0; part < 3; part++)
            mine.push_back(float((item.hash >> (22 * part)) & 0x3FFFFF));
        mine.push_back(float(item.count));
    }
    const int64_t n = int64_t(mine.size());
    std::vector<float> all(size_t(n * c.world_size()));
    c.all_gather(mine.data(), n, all.data());
    for (int rank = 1; rank < c.world_size(); rank++) {
        for (int64_t i = 0; i < n / kPer; i++) {
            const float* first = &all[size_t(i * kPer)];
            const float* other = &all[size_t(rank * n + i * kPer)];
            if (std::equal(first, first + kPer, other)) continue;
            const Checked& item = checked[i];
            PG_CHECK(false, "process ", rank, " of ", c.world_size(), " ", item.differs,
                     " than process 0",
                     item.count > 0 || other[3] != first[3]
                         ? " (" + std::to_string(int64_t(other[3])) + " against " +
                               std::to_string(int64_t(first[3])) + ")"
                         : std::string(),
                     ": every process of a run must be started with the same --config and --set "
                     "(in an MPMD command line, each program's) and read the same dataset files");
        }
    }
}

} // namespace pg::seg
