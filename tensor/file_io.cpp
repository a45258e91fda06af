// write_file_atomic and remove_stale_tmp_files (tensor/file_io.h).
#include "tensor/file_io.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tensor/error.h"

namespace pg {

namespace fs = std::filesystem;

// Writes and closes `target`; the stream's state after close() covers the last buffered bytes.
static void write_checked(const std::string& target, const std::string& shown,
                          const std::string& what,
                          const std::function<void(std::ostream&)>& write) {
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    PG_CHECK(out.is_open(), what, ": cannot open ", shown, " for writing: ", std::strerror(errno));
    write(out);
    out.flush();
    out.close();
    PG_CHECK(!out.fail(), what, ": writing ", shown, " failed (disk full or device error)");
}

void crash_point(const char* name) {
    static const char* spec = std::getenv("PG_CRASH_AT");
    if (spec == nullptr) return;
    static std::atomic<int64_t> calls{0};
    std::string s = spec;
    const bool stop = s.size() > 5 && s.compare(s.size() - 5, 5, ":stop") == 0;
    if (stop) s.resize(s.size() - 5);
    std::string target = s.substr(0, s.find('#'));
    if (target != name) return;
    int64_t k = s.find('#') == std::string::npos ? 1 : std::atoll(s.c_str() + s.find('#') + 1);
    if (++calls == k) std::raise(stop ? SIGSTOP : SIGKILL);
}

void write_file_atomic(const std::string& path, const std::string& what,
                       const std::function<void(std::ostream&)>& write) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (fs::exists(st) && fs::is_directory(st))
        throw Error(what + ": " + path + " is a folder, expected a file name");
    if (fs::exists(st) && !fs::is_regular_file(st)) { // a device or FIFO: no rename over it
        write_checked(path, path, what, write);
        return;
    }
    std::string tmp = path + ".tmp";
    try {
        write_checked(tmp, path + " (through " + tmp + ")", what, write);
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    crash_point("file:before-rename");
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw Error(what + ": cannot rename " + tmp + " to " + path + ": " + ec.message());
    }
}

void write_file_atomic(const std::string& path, const std::string& what, const std::string& bytes) {
    write_file_atomic(path, what, [&](std::ostream& out) {
        out.write(bytes.data(), std::streamsize(bytes.size()));
    });
}

int remove_stale_tmp_files(const std::string& dir) {
    std::error_code ec;
    int removed = 0;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".tmp" && e.is_regular_file(ec) && fs::remove(e.path(), ec))
            removed++;
    }
    return removed;
}

} // namespace pg
