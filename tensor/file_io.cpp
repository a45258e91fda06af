// write_file_atomic, check_outputs and remove_stale_tmp_files (tensor/file_io.h).
#include "tensor/file_io.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

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

// The path as one spelling per file: absolute, "." and ".." resolved, links followed where they
// exist.
static std::string one_spelling(const std::string& path) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
    return ec ? fs::absolute(path).lexically_normal().string() : p.string();
}

void check_outputs(const std::string& what, const std::vector<std::string>& outputs,
                   const std::vector<std::string>& inputs, bool force) {
    std::map<std::string, const std::string*> input_of, output_of;
    for (const std::string& in : inputs) input_of[one_spelling(in)] = &in;
    for (const std::string& out : outputs) {
        const std::string key = one_spelling(out);
        auto in = input_of.find(key);
        PG_CHECK(in == input_of.end(), what, ": the output ", out, " would replace the input ",
                 *in->second, "; write the outputs to another folder");
        PG_CHECK(output_of.emplace(key, &out).second, what, ": two outputs would be one file, ",
                 out, " (inputs with the same name in different folders?)");
        const fs::file_status status = fs::status(out);
        PG_CHECK(!fs::is_directory(status), what, ": ", out,
                 " is a folder; expected the path of a file");
        // Only a regular file is replaced: write_file_atomic writes into a device or FIFO.
        PG_CHECK(force || !fs::is_regular_file(status), what, ": ", out,
                 " exists already; pass --force to replace it");
    }
}

} // namespace pg
