// keep_global_batch (seg/train/resume_batch.h): the global batch a resumed run goes on with, on
// any number of processes.
#include "seg/train/resume_batch.h"

#include <cstdio>

#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::seg {

void keep_global_batch(Config& config, const nn::TrainState& s, const std::string& path) {
    auto number = [&](const char* key, int64_t fallback) {
        auto it = s.numbers.find(key);
        return it == s.numbers.end() ? fallback : int64_t(it->second);
    };
    const int64_t saved_world = number("world_size", 1), world = collectives().world_size();
    if (!s.numbers.count("batch_size")) { // written before states recorded their batch
        PG_CHECK(saved_world == world, "train --resume: ", path, " was written by ", saved_world,
                 " process(es) by a version that did not record its batch; resume it with "
                 "mpirun -np ",
                 saved_world);
        return;
    }
    const int64_t per_process = number("batch_size", 0);
    const int64_t global = number("global_batch", per_process * saved_world);
    PG_CHECK(global >= world, "train --resume: ", path, " trains with a global batch of ", global,
             ", which cannot give each of ", world, " processes a sample; resume with at most ",
             global);
    const bool equal = global % world == 0 && !config.has("dataset.global_batch_size");
    const std::string shares = global % world == 0 ? std::to_string(global / world)
                                                   : std::to_string(global / world) + " or " +
                                                         std::to_string(global / world + 1);
    for (const char* key : {"dataset.batch_size", "dataset.global_batch_size"}) {
        if (!config.given_by_set(key)) continue;
        const bool batch = key == std::string("dataset.batch_size");
        const int64_t asked = config.get_int(key);
        PG_CHECK(asked == (batch ? global / world : global) && (!batch || global % world == 0),
                 "train --resume: ", path, " trains with a global batch of ", global, " (", shares,
                 " per process with ", world, " process(es)); ", key, " ", asked,
                 " would change it (leave it out)");
    }
    if (equal)
        config.set("dataset.batch_size", std::to_string(global / world));
    else
        config.set("dataset.global_batch_size", std::to_string(global));
    if (saved_world != world && collectives().rank() == 0)
        std::fprintf(stderr,
                     "train --resume: %s was trained by %lld process(es) with a global batch of "
                     "%lld; this run has %lld with dataset.batch_size %s each: the same global "
                     "batch, so steps, schedule and data go on as they were\n",
                     path.c_str(), (long long)saved_world, (long long)global, (long long)world,
                     shares.c_str());
}

} // namespace pg::seg
