// Writing files so that no failure is silent and no reader sees half a file: every write is
// checked after the stream is flushed and closed (a full disk often shows only then), and a whole
// file goes to PATH.tmp first and is renamed over PATH, so a crash leaves the old file or the new.
// (No fsync: that holds for a killed process, not for a power cut.)
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace pg {

// Calls write(out) on a stream to `path`.tmp, checks it, then renames it to `path`. A `path` that
// exists and is not a regular file (a device such as /dev/full or /dev/stdout, a FIFO) is written
// in place instead. Errors start with `what` (e.g. "eval --out") and name the path.
void write_file_atomic(const std::string& path, const std::string& what,
                       const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::string& path, const std::string& what, const std::string& bytes);

// Refuses, naming the path: an output that is one of `inputs`, two outputs that are one file, an
// output that is a folder, and unless `force` an output that exists already (a device or FIFO is
// written to, not replaced). So a command's outputs never replace its inputs or each other, and
// replace earlier files only when asked. Messages start with `what` ("predict").
void check_outputs(const std::string& what, const std::vector<std::string>& outputs,
                   const std::vector<std::string>& inputs, bool force);

// For crash-safety tests: when the environment variable PG_CRASH_AT is "NAME" or "NAME#K", the
// K-th call (default the first) of crash_point(NAME) kills the process with SIGKILL, as `kill -9`
// or a power cut at that point would; "NAME#K:stop" freezes it there instead (SIGSTOP), as a hung
// process would be. Without PG_CRASH_AT it does nothing.
void crash_point(const char* name);

// Deletes the *.tmp files a killed process left in `dir` (not recursive); returns how many.
int remove_stale_tmp_files(const std::string& dir);

} // namespace pg
