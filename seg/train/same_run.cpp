// check_processes_agree (seg/train/same_run.h): fingerprints of the configuration's sections and
// of the sample lists, all-gathered and compared with process 0's.
#include "seg/train/same_run.h"

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
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

// The configuration's YAML cut at its top-level keys: the sections named here, then all others
// together (a fixed number of parts: all_gather needs the same count on every process).
static std::vector<std::pair<std::string, std::string>> config_parts(const Config& config) {
    std::vector<std::pair<std::string, std::string>> parts = {
        {"dataset", ""}, {"net", ""}, {"trainer", ""}, {"saver", ""}, {"", ""}};
    std::istringstream yaml(config.to_yaml());
    size_t at = parts.size() - 1;
    for (std::string line; std::getline(yaml, line);) {
        if (!line.empty() && line[0] != ' ' && line[0] != '-') { // a top-level key
            const std::string key = line.substr(0, line.find(':'));
            at = parts.size() - 1;
            for (size_t i = 0; i + 1 < parts.size(); i++)
                if (parts[i].first == key) at = i;
        }
        parts[at].second += line + "\n";
    }
    return parts;
}

namespace {
struct Checked {
    std::string differs; // "process R of N <differs> than process 0"
    uint64_t hash;
    int64_t count; // samples; 0 for the configuration
};
} // namespace

void check_processes_agree(const Config& config, const Dataset& train, const Dataset& val) {
    Collectives& c = collectives();
    if (c.world_size() == 1) return;
    std::vector<Checked> checked;
    for (const auto& [section, text] : config_parts(config)) {
        const std::string which = section.empty()
                                      ? "a section other than dataset, net, trainer and saver"
                                      : "its " + section + " section";
        checked.push_back({"was started with another configuration (" + which +
                               " differs; --config and every --set count)",
                           fingerprint(text), 0});
    }
    checked.push_back(
        {"reads other training samples", fingerprint(sample_ids(train)), train.size()});
    checked.push_back({"reads other validation samples", fingerprint(sample_ids(val)), val.size()});
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
    CollectivePurpose purpose("the comparison of the processes' configurations and samples");
    c.all_gather(mine.data(), n, all.data());
    for (int rank = 1; rank < c.world_size(); rank++) {
        for (int64_t i = 0; i < n / kPer; i++) {
            const float* first = &all[size_t(i * kPer)];
            const float* other = &all[size_t(rank * n + i * kPer)];
            if (std::equal(first, first + kPer, other)) continue;
            const Checked& item = checked[size_t(i)];
            PG_CHECK(false, "process ", rank, " of ", c.world_size(), " ", item.differs,
                     " than process 0",
                     item.count > 0 || other[3] != first[3]
                         ? " (" + std::to_string(int64_t(other[3])) + " against " +
                               std::to_string(int64_t(first[3])) +
                               "; files missing there are skipped there)"
                         : std::string(),
                     ": every process of a run must be started with the same --config and --set "
                     "(in an MPMD command line, each program's) and read the same sample lists");
        }
    }
}

} // namespace pg::seg
