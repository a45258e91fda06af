// What the file-reader harnesses share: the readers take paths, so each input goes to a file of
// this process (and a re-save of what was read to a second one); both are removed at exit.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tensor/error.h"

namespace fuzz {

struct Files {
    std::string input, copy;
};

inline Files& files() {
    static Files f;
    return f;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
        std::perror(path.c_str()); // the harness cannot work at all: stop, do not report a crash
        std::_Exit(2);
    }
}

// From LLVMFuzzerInitialize: $TMPDIR/pg_fuzz_<stem>_<pid><input_ext> and ...<copy_ext>.
inline void init_files(const char* stem, const char* input_ext, const char* copy_ext) {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = pg::str(tmp ? tmp : "/tmp", "/pg_fuzz_", stem, "_", getpid());
    files().input = base + input_ext;
    files().copy = base + copy_ext;
    std::atexit([] {
        std::remove(files().input.c_str());
        std::remove(files().copy.c_str());
    });
}

} // namespace fuzz
