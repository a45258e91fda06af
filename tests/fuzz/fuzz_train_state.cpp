// Fuzzes the training-state reader, pg::nn::load_train_state (nn/train_state.h): a safetensors file
// whose "pixelgrad.train_state" metadata holds step, epoch, generators and numbers as JSON. A
// corrupt state must end in pg::Error; one that loads must survive save_train_state ->
// load_train_state unchanged, since that is exactly what a resumed run does.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "nn/train_state.h"
#include "tensor/error.h"
#include "tests/fuzz/fuzz_files.h"
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::init_files("train_state", ".state.safetensors", ".copy.state.safetensors");
    return 0;
}

[[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_train_state: round trip broke: %s\n", what.c_str());
    std::abort();
}

using TensorMap = std::map<std::string, pg::Tensor>;

static void same_tensors(const TensorMap& a, const TensorMap& b, const std::string& group) {
    if (a.size() != b.size()) fail(pg::str(group, ": tensor count differs"));
    for (const auto& [name, t] : a) {
        auto it = b.find(name);
        if (it == b.end()) fail(pg::str(group, ": '", name, "' lost"));
        const pg::Tensor& u = it->second;
        if (u.shape() != t.shape() || u.dtype() != t.dtype())
            fail(pg::str(group, ": '", name, "' shape or dtype"));
        if (t.nbytes() > 0 && std::memcmp(u.raw(), t.raw(), t.nbytes()) != 0)
            fail(pg::str(group, ": '", name, "' bytes differ"));
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::write_file(fuzz::files().input, data, size);
    pg::nn::TrainState state;
    try {
        state = pg::nn::load_train_state(fuzz::files().input);
    } catch (const pg::Error&) {
        return 0; // the documented way to refuse a file
    }
    // Every saved generator restores; an unsaved name is refused with pg::Error.
    for (const auto& [name, g] : state.generators) {
        pg::Generator gen;
        state.restore_generator(name, gen);
        if (gen.seed() != g.first || gen.offset() != g.second) fail("generator '" + name + "'");
    }
    try {
        pg::Generator gen;
        state.restore_generator("\x01not saved", gen);
        fail("restore_generator accepted a name that was not saved");
    } catch (const pg::Error&) {}

    // A resumed run: save what was loaded, load it again. Outside any try: an exception is a
    // finding.
    pg::nn::save_train_state(fuzz::files().copy, state);
    pg::nn::TrainState back = pg::nn::load_train_state(fuzz::files().copy);
    if (back.step != state.step || back.epoch != state.epoch) fail("step or epoch");
    if (back.generators != state.generators) fail("generators");
    if (back.numbers.size() != state.numbers.size()) fail("numbers count");
    for (const auto& [name, v] : state.numbers) {
        auto it = back.numbers.find(name);
        if (it == back.numbers.end() || std::memcmp(&it->second, &v, sizeof v) != 0)
            fail("number '" + name + "'");
    }
    if (back.parts.size() != state.parts.size()) fail("parts count");
    for (const auto& [part, p] : state.parts) {
        auto it = back.parts.find(part);
        if (it == back.parts.end()) fail("part '" + part + "'");
        same_tensors(p.weights, it->second.weights, part + " weights");
        same_tensors(p.optimizer, it->second.optimizer, part + " optimizer");
    }
    same_tensors(state.extra_tensors, back.extra_tensors, "extra");
    return 0;
}
