// The profiler's state (tensor/profiler.h): the enabled flag and recording thread, per-kernel
// totals keyed by the address of the kernel's name, the sorted snapshot and the printed table.
#include "tensor/profiler.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace pg::profiler {

namespace detail {
std::atomic<bool> enabled_flag{false};
} // namespace detail

namespace {

std::atomic<std::thread::id> recording_thread{};

// Totals keyed by the name's address: a pointer hash per call, no string built. Equal names at
// different addresses (the same literal in two files) are merged by snapshot().
std::mutex stats_mutex;
std::unordered_map<const char*, OpStat> stats_by_name;

} // namespace

void enable(bool on) {
    if (on) recording_thread.store(std::this_thread::get_id());
    detail::enabled_flag.store(on);
}

bool recording_on_this_thread() {
    return enabled() &&
           recording_thread.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

void reset() {
    std::lock_guard<std::mutex> lock(stats_mutex);
    stats_by_name.clear();
}

void record(const char* name, int64_t ns, double flops, double bytes) {
    std::lock_guard<std::mutex> lock(stats_mutex);
    OpStat& s = stats_by_name[name];
    if (s.calls == 0) s.name = name;
    s.calls++;
    s.total_ns += ns;
    s.flops += flops;
    s.bytes += bytes;
}

std::vector<OpStat> snapshot() {
    std::map<std::string, OpStat> merged;
    {
        std::lock_guard<std::mutex> lock(stats_mutex);
        for (const auto& [key, s] : stats_by_name) {
            OpStat& m = merged[s.name];
            m.name = s.name;
            m.calls += s.calls;
            m.total_ns += s.total_ns;
            m.flops += s.flops;
            m.bytes += s.bytes;
        }
    }
    std::vector<OpStat> out;
    for (auto& [name, s] : merged) out.push_back(s);
    std::stable_sort(out.begin(), out.end(), [](const OpStat& a, const OpStat& b) {
        return a.total_ns > b.total_ns; // map order made ties alphabetical
    });
    return out;
}

// ---- the table ----

namespace {

// "812.3 GFLOP/s", "4.52 GB/s" or "-": flops per nanosecond is GFLOP/s, bytes per ns GB/s.
std::string throughput(const OpStat& s) {
    if (s.total_ns <= 0 || (s.flops <= 0 && s.bytes <= 0)) return "-";
    const bool flops = s.flops > 0;
    const double rate = (flops ? s.flops : s.bytes) / double(s.total_ns);
    char buf[32];
    std::snprintf(buf, sizeof buf, rate < 10 ? "%.2f %s" : "%.1f %s", rate,
                  flops ? "GFLOP/s" : "GB/s");
    return buf;
}

std::string row(int name_width, const std::string& name, int64_t calls, int64_t ns, double total_ns,
                const std::string& rate) {
    const double ms = double(ns) * 1e-6;
    const double per_call = calls > 0 ? ms / double(calls) : 0;
    const double share = total_ns > 0 ? 100.0 * double(ns) / total_ns : 0;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-*s %8lld %11.3f %10.4f %6.1f%%", name_width, name.c_str(),
                  (long long)calls, ms, per_call, share);
    return std::string(buf) + (rate.empty() ? "" : "  " + rate) + "\n";
}

} // namespace

std::string format_table(const std::vector<OpStat>& stats, int max_rows, double wall_ms) {
    const size_t shown = max_rows > 0 ? std::min(stats.size(), size_t(max_rows)) : stats.size();
    OpStat rest, total; // rest: the rows past max_rows
    for (size_t i = 0; i < stats.size(); i++) {
        total.calls += stats[i].calls;
        total.total_ns += stats[i].total_ns;
        if (i < shown) continue;
        rest.calls += stats[i].calls;
        rest.total_ns += stats[i].total_ns;
    }
    const double total_ns = double(total.total_ns);
    const std::string rest_name = "(" + std::to_string(stats.size() - shown) + " others)";
    int width = 6; // "kernel"
    for (size_t i = 0; i < shown; i++) width = std::max(width, int(stats[i].name.size()));
    if (shown < stats.size()) width = std::max(width, int(rest_name.size()));

    char head[256];
    std::snprintf(head, sizeof head, "%-*s %8s %11s %10s %7s  %s\n", width, "kernel", "calls",
                  "total ms", "ms/call", "share", "throughput");
    std::string out = head;
    out += std::string(size_t(width) + 55, '-') + "\n";
    for (size_t i = 0; i < shown; i++) {
        const OpStat& s = stats[i];
        out += row(width, s.name, s.calls, s.total_ns, total_ns, throughput(s));
    }
    // The rest mixes kernels, so its rate would be an average of unlike things: none is shown.
    if (shown < stats.size())
        out += row(width, rest_name, rest.calls, rest.total_ns, total_ns, "-");
    out += std::string(size_t(width) + 55, '-') + "\n";
    out += row(width, "total", total.calls, total.total_ns, total_ns, "");
    if (wall_ms > 0) {
        char line[160];
        std::snprintf(line, sizeof line,
                      "kernels: %.1f ms of %.1f ms wall (%.1f%%); the rest is host work\n",
                      total_ns * 1e-6, wall_ms, 100.0 * total_ns * 1e-6 / wall_ms);
        out += line;
    }
    return out;
}

} // namespace pg::profiler
