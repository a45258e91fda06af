// Fuzzes the run-config layer (seg/config.h, seg/config_keys.h): Config::load of a YAML file, a
// `base:` file and `--set key=value` overrides; typed getters on every key, section(), keys(),
// check_config_keys(), and to_yaml() parsing back to itself (runs save it, --resume reads it).
// Anything but pg::Error is a finding. Input: <config.yaml> [#--base\n <base.yaml>] [#--set\n
// key=value lines]; the markers are YAML comments, so every seed is also a plain config.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "seg/config.h"
#include "seg/config_keys.h"
#include "tensor/error.h"

using pg::seg::Config;

// Config::load takes a path, and `base:` names a file beside it: each process gets a folder of its
// own holding config.yaml and base.yaml, so relative bases (and cycles) stay inside it.
static std::string g_dir, g_config, g_base;

static void write_file(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() ||
        std::fclose(f) != 0) {
        std::perror(path.c_str()); // the harness cannot work at all: stop, do not report a crash
        std::_Exit(2);
    }
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* tmp = std::getenv("TMPDIR");
    g_dir = pg::str(tmp ? tmp : "/tmp", "/pg_fuzz_config_", getpid());
    mkdir(g_dir.c_str(), 0700);
    g_config = g_dir + "/config.yaml";
    g_base = g_dir + "/base.yaml";
    std::atexit([] {
        std::remove(g_config.c_str());
        std::remove(g_base.c_str());
        rmdir(g_dir.c_str());
    });
    return 0;
}

[[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_config: %s\n", what.c_str());
    std::abort();
}

// Runs f; pg::Error is the documented refusal, anything else escapes to libFuzzer as a finding.
template <class F>
static void quietly(F&& f) {
    try {
        f();
    } catch (const pg::Error&) {}
}

// The getters on `key` (dotted, relative to c): each returns or refuses with pg::Error. `all` runs
// every one; otherwise three of them, picked by the key's hash (a refusal costs two throws under
// ASan, and walking every key with all eleven held the fuzzer to ~100 exec/s).
static void read_all_ways(const Config& c, const std::string& key, bool all = true) {
    using Get = void (*)(const Config&, const std::string&);
    static const Get getters[] = {
        [](const Config& c, const std::string& k) { c.get_int(k); },
        [](const Config& c, const std::string& k) { c.get_float(k); },
        [](const Config& c, const std::string& k) { c.get_bool(k); },
        [](const Config& c, const std::string& k) { c.get_string(k); },
        [](const Config& c, const std::string& k) { c.get_int_list(k); },
        [](const Config& c, const std::string& k) { c.get_float_list(k); },
        [](const Config& c, const std::string& k) { c.get_string_list(k); },
        [](const Config& c, const std::string& k) { c.get_int(k, 1); },
        [](const Config& c, const std::string& k) { c.get_float(k, 0.5); },
        [](const Config& c, const std::string& k) { c.get_bool(k, true); },
        [](const Config& c, const std::string& k) { c.get_string(k, "x"); },
    };
    const size_t n = sizeof getters / sizeof getters[0];
    quietly([&] { c.has(key); });
    quietly([&] { c.is_section(key); });
    size_t first = std::hash<std::string>{}(key);
    for (size_t i = 0; i < (all ? n : 3); i++)
        quietly([&] { getters[(first + i * 4) % n](c, key); });
}

// Reads every key of c and walks into its sections (depth-capped: the YAML may nest deeply).
static void walk(const Config& c, int depth) {
    for (const std::string& key : c.keys()) {
        read_all_ways(c, key, false);
        if (depth < 16 && c.is_section(key)) quietly([&] { walk(c.section(key), depth + 1); });
    }
}

struct Input {
    std::string config, base;
    bool has_base = false;
    std::vector<std::string> overrides;
};

static Input split_input(const std::string& text) {
    Input in;
    std::string* part = &in.config;
    bool in_overrides = false;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        std::string line =
            text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        pos = end == std::string::npos ? text.size() : end + 1;
        if (line == "#--base") {
            part = &in.base, in.has_base = true, in_overrides = false;
        } else if (line == "#--set") {
            in_overrides = true;
        } else if (in_overrides) {
            in.overrides.push_back(line);
        } else {
            *part += line + "\n";
        }
    }
    return in;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in = split_input(std::string(reinterpret_cast<const char*>(data), size));
    quietly([&] { Config::from_string(in.config, "fuzz").to_yaml(); }); // walked below, via load

    write_file(g_config, in.config);
    if (in.has_base)
        write_file(g_base, in.base);
    else
        std::remove(g_base.c_str());
    std::unique_ptr<Config> config;
    try {
        config = std::make_unique<Config>(Config::load(g_config, in.overrides));
    } catch (const pg::Error&) { return 0; }
    walk(*config, 0);
    // Dotted lookups: the overridden keys (any text before '=') and a few the trainer reads.
    for (const std::string& o : in.overrides) read_all_ways(*config, o.substr(0, o.find('=')));
    for (const char* key : {"trainer.method", "dataset.train.crop.size", "net.num_classes", ""})
        read_all_ways(*config, key);

    // The effective config, as a run saves it, must parse back to itself. Not in a try: any
    // exception (pg::Error included) is a finding here.
    std::string yaml = config->to_yaml();
    std::string again = Config::from_string(yaml, "to_yaml").to_yaml();
    if (again != yaml)
        fail("to_yaml -> from_string -> to_yaml differs:\n" + yaml + "---\n" + again);

    // The key check on a copy; afterwards every read of an undeclared key is refused.
    Config checked = *config;
    quietly([&] { pg::seg::check_config_keys(checked); });
    walk(checked, 0);
    return 0;
}
