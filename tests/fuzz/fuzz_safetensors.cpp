// Fuzzes the safetensors reader, pg::read_safetensors (tensor/safetensors.h). The input is a whole
// file: 8-byte little-endian header size, JSON header, data. A malformed file must end in
// pg::Error; a file that loads must hold tensors whose every byte is readable, and must come back
// unchanged through save_safetensors -> read_safetensors (the checkpoint round trip).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "tests/fuzz/fuzz_files.h"
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::init_files("safetensors", ".safetensors", ".copy.safetensors");
    return 0;
}

// Reads every byte of every tensor, so ASan sees a tensor whose storage is smaller than its shape.
static unsigned touch(const pg::SafetensorsFile& file) {
    unsigned sum = 0;
    for (const auto& [name, t] : file.tensors) {
        const uint8_t* p = static_cast<const uint8_t*>(t.raw());
        for (size_t i = 0; i < t.nbytes(); i++) sum += p[i];
    }
    return sum;
}

[[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_safetensors: round trip broke: %s\n", what.c_str());
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::write_file(fuzz::files().input, data, size);
    pg::SafetensorsFile file;
    try {
        file = pg::read_safetensors(fuzz::files().input);
    } catch (const pg::Error&) {
        return 0; // the documented way to refuse a file
    }
    volatile unsigned sink = touch(file);
    (void)sink;

    // What was read must be writable and read back as the same tensors and metadata. Outside the
    // try: an exception here is a finding.
    pg::save_safetensors(fuzz::files().copy, file.tensors, file.metadata);
    pg::SafetensorsFile back = pg::read_safetensors(fuzz::files().copy);
    if (back.metadata != file.metadata) fail("metadata differs");
    if (back.tensors.size() != file.tensors.size()) fail("tensor count differs");
    for (const auto& [name, t] : file.tensors) {
        auto it = back.tensors.find(name);
        if (it == back.tensors.end()) fail("tensor '" + name + "' lost");
        const pg::Tensor& u = it->second;
        if (u.shape() != t.shape() || u.dtype() != t.dtype()) fail("'" + name + "' shape or dtype");
        if (t.nbytes() > 0 && std::memcmp(u.raw(), t.raw(), t.nbytes()) != 0)
            fail("'" + name + "' bytes differ");
    }
    return 0;
}
