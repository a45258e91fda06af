// Config (seg/config.h) on yaml-cpp. Dotted keys walk nested maps; every error names the full
// dotted key and where its value came from (the file, or the --set that gave it).
#include "seg/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "tensor/error.h"
#include "tensor/file_io.h"

namespace pg::seg {

struct Config::Impl {
    YAML::Node root;
};

static std::vector<std::string> split_key(const std::string& key) {
    std::vector<std::string> parts;
    std::stringstream in(key);
    std::string part;
    while (std::getline(in, part, '.')) parts.push_back(part);
    return parts;
}

Config::Config(std::unique_ptr<Impl> impl, std::string source, std::string prefix)
    : impl_(std::move(impl)), source_(std::move(source)), prefix_(std::move(prefix)) {}
Config::Config(const Config& other)
    : impl_(std::make_unique<Impl>(Impl{YAML::Clone(other.impl_->root)})), source_(other.source_),
      prefix_(other.prefix_), guard_(other.guard_), overridden_(other.overridden_) {}
Config& Config::operator=(const Config& other) {
    impl_ = std::make_unique<Impl>(Impl{YAML::Clone(other.impl_->root)});
    source_ = other.source_;
    prefix_ = other.prefix_;
    guard_ = other.guard_;
    overridden_ = other.overridden_;
    return *this;
}
Config::~Config() = default;

// Dotted lookups split on '.', and config.yaml must read back: a key is a plain name.
static bool is_plain_key(const std::string& key) {
    return !key.empty() && key.size() <= 64 &&
           std::all_of(key.begin(), key.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

// A value is printable text: yaml-cpp writes a scalar holding a control character (a lone carriage
// return, found by `make fuzz`) in a form that does not read back to itself, and config.yaml must.
static void check_printable(const YAML::Node& scalar, const std::string& name,
                            const std::string& key) {
    const std::string& text = scalar.Scalar();
    auto bad = std::find_if(text.begin(), text.end(),
                            [](unsigned char c) { return c < 0x20 || c == 0x7f; });
    if (bad == text.end()) return;
    char code[8];
    std::snprintf(code, sizeof code, "0x%02X", static_cast<unsigned char>(*bad));
    throw Error(str(name, ": line ", scalar.Mark().line + 1, ": the value of '", key,
                    "' holds the control character ", code,
                    "; a value is printable text on one line"));
}

// Keys are plain names and values printable text (above). yaml-cpp keeps both entries of a key
// written twice in one mapping and lookups see only the first, so a repeated section or key is an
// error instead of one copy silently ignored.
static void check_tree(const YAML::Node& node, const std::string& name, const std::string& prefix) {
    if (node.IsScalar()) return check_printable(node, name, prefix);
    if (node.IsSequence())
        for (const YAML::Node& item : node) check_tree(item, name, prefix);
    if (!node.IsMap()) return;
    std::map<std::string, int> line_of;
    for (const auto& kv : node) {
        int line = kv.first.Mark().line + 1;
        PG_CHECK(kv.first.IsScalar(), name, ": line ", line, ": a key ",
                 prefix.empty() ? "" : "under '" + prefix + "' ",
                 "is a list or mapping; keys must be plain names");
        std::string key = kv.first.Scalar();
        PG_CHECK(is_plain_key(key), name, ": line ", line, ": key '", key.substr(0, 64), "' ",
                 prefix.empty() ? "" : "under '" + prefix + "' ",
                 "is not a plain name (1-64 letters, digits, _ or -)");
        std::string full = prefix.empty() ? key : prefix + "." + key;
        auto [seen, fresh] = line_of.emplace(key, line);
        PG_CHECK(fresh, name, ": '", full, "' is given twice (lines ", seen->second, " and ", line,
                 "); merge the two");
        check_tree(kv.second, name, full);
    }
}

static YAML::Node parse_yaml(const std::string& yaml, const std::string& name) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml);
    } catch (const YAML::Exception& e) { throw Error(name + ": not valid YAML: " + e.what()); }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    PG_CHECK(root.IsMap(), name, ": the top level must be a mapping of sections");
    check_tree(root, name, "");
    return root;
}

Config Config::from_string(const std::string& yaml, const std::string& name) {
    return Config(std::make_unique<Impl>(Impl{parse_yaml(yaml, name)}), name, "");
}

// `over` merged onto `base`: maps merge key by key (recursively), anything else replaces.
static YAML::Node merged(const YAML::Node& base, const YAML::Node& over) {
    if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
    YAML::Node out = YAML::Clone(base);
    for (const auto& kv : over) {
        std::string key = kv.first.as<std::string>();
        out[key] = out[key] ? merged(out[key], kv.second) : YAML::Clone(kv.second);
    }
    return out;
}

// Reads `path`; a top-level `base: other.yaml` (relative to this file) is read first and this
// file's keys are merged over it, so a split's config can state only what differs.
static YAML::Node load_with_bases(const std::string& path, int depth) {
    PG_CHECK(depth < 8, path, ": base: chain deeper than 8 files (a cycle?)");
    std::ifstream in(path);
    PG_CHECK(in.good(), path, ": cannot open the config file");
    std::stringstream text;
    text << in.rdbuf();
    YAML::Node root = parse_yaml(text.str(), path);
    if (!root["base"]) return root;
    PG_CHECK(root["base"].IsScalar(), path, ": base must be a file name");
    std::string base = root["base"].as<std::string>();
    size_t slash = path.find_last_of('/');
    if (base[0] != '/' && slash != std::string::npos) base = path.substr(0, slash + 1) + base;
    root.remove("base");
    return merged(load_with_bases(base, depth + 1), root);
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
    Config config(std::make_unique<Impl>(Impl{load_with_bases(path, 0)}), path, "");
    for (const std::string& o : overrides) {
        size_t eq = o.find('=');
        PG_CHECK(eq != std::string::npos && eq > 0, "--set ", o, ": expected key=value");
        config.set(o.substr(0, eq), o.substr(eq + 1));
        config.overridden_.emplace_back(o.substr(0, eq), "--set " + o.substr(0, eq));
    }
    return config;
}

std::string full_key(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
}

std::string Config::origin(const std::string& key) const {
    const std::string full = full_key(prefix_, key);
    // The last --set that wrote this key, a section above it or (for a section) a key in it.
    for (auto it = overridden_.rbegin(); it != overridden_.rend(); ++it) {
        const std::string& written = it->first;
        if (full == written || full.rfind(written + ".", 0) == 0 ||
            written.rfind(full + ".", 0) == 0)
            return it->second;
    }
    return source_;
}

std::string Config::origin_of_any(const std::vector<std::string>& keys) const {
    for (const std::string& key : keys)
        if (std::string o = origin(key); o != source_) return o;
    return source_;
}

bool Config::given_by_set(const std::string& key) const {
    return origin(key) == "--set " + full_key(prefix_, key);
}

void Config::set_by(const std::string& key, const std::string& yaml_value,
                    const std::string& option) {
    set(key, yaml_value);
    overridden_.emplace_back(full_key(prefix_, key), option);
}

void Config::set(const std::string& key, const std::string& yaml_value) {
    YAML::Node value;
    try {
        value = YAML::Load(yaml_value);
    } catch (const YAML::Exception& e) {
        throw Error("--set " + key + "=" + yaml_value + ": not a valid YAML value");
    }
    check_tree(value, "--set " + key, key);
    std::vector<std::string> parts = split_key(key);
    PG_CHECK(!parts.empty() && key.back() != '.' &&
                 std::all_of(parts.begin(), parts.end(), is_plain_key),
             "--set ", key,
             ": a key is dot-separated names, none empty, each of 1-64 letters, digits, _ or - "
             "(e.g. trainer.seed)");
    // yaml-cpp nodes are handles, and `a = b` writes b's value INTO a's node: walking down must
    // rebind with reset(). Missing or null parents become maps.
    YAML::Node node;
    node.reset(impl_->root);
    for (size_t i = 0; i + 1 < parts.size(); i++) {
        YAML::Node child = node[parts[i]];
        if (!child.IsDefined() || child.IsNull()) {
            node[parts[i]] = YAML::Node(YAML::NodeType::Map);
            child = node[parts[i]];
        }
        PG_CHECK(child.IsMap(), source_, ": --set ", key, ": '", parts[i],
                 "' is not a section (it holds a value)");
        node.reset(child);
    }
    node[parts.back()] = value;
}

// Returns the node at `key` (undefined when absent) without creating anything.
static YAML::Node find(const YAML::Node& root, const std::string& key) {
    YAML::Node node;
    node.reset(root);
    for (const std::string& part : split_key(key)) {
        if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
        YAML::Node child = static_cast<const YAML::Node&>(node)[part]; // const: creates nothing
        if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
        node.reset(child);
    }
    return node;
}

void Config::guard_keys(std::function<bool(const std::string&)> known) {
    guard_ = std::make_shared<std::function<bool(const std::string&)>>(std::move(known));
}

void Config::check_guard(const std::string& key) const {
    if (!guard_) return;
    std::string full = full_key(prefix_, key);
    PG_CHECK((*guard_)(full), "internal: config key '", full,
             "' is read but not declared in seg/config_keys.cpp");
}

bool Config::has(const std::string& key) const {
    check_guard(key);
    YAML::Node n = find(impl_->root, key);
    return n.IsDefined() && !n.IsNull();
}

template <class T>
static T convert(const YAML::Node& node, const std::string& source, const std::string& key,
                 const char* expected) {
    try {
        return node.as<T>();
    } catch (const YAML::Exception&) {
        std::string shown = node.IsScalar() ? "'" + node.Scalar() + "'" : "a list or section";
        throw Error(source + ": " + key + " is " + shown + ", expected " + expected);
    }
}

static YAML::Node require(const YAML::Node& root, const std::string& source,
                          const std::string& prefix, const std::string& key) {
    YAML::Node n = find(root, key);
    PG_CHECK(n.IsDefined() && !n.IsNull(), source, ": missing key '", full_key(prefix, key), "'");
    return n;
}

#define PG_CONFIG_GETTERS(Type, name, expected)                                                    \
    Type Config::name(const std::string& key) const {                                              \
        check_guard(key);                                                                          \
        return convert<Type>(require(impl_->root, origin(key), prefix_, key), origin(key),         \
                             full_key(prefix_, key), expected);                                    \
    }

PG_CONFIG_GETTERS(int64_t, get_int, "an integer")
PG_CONFIG_GETTERS(double, get_float, "a number")
PG_CONFIG_GETTERS(bool, get_bool, "true or false")
PG_CONFIG_GETTERS(std::string, get_string, "a string")
PG_CONFIG_GETTERS(std::vector<int64_t>, get_int_list, "a list of integers")
PG_CONFIG_GETTERS(std::vector<double>, get_float_list, "a list of numbers")
PG_CONFIG_GETTERS(std::vector<std::string>, get_string_list, "a list of strings")
#undef PG_CONFIG_GETTERS

int64_t Config::get_int(const std::string& key, int64_t fallback) const {
    return has(key) ? get_int(key) : fallback;
}
double Config::get_float(const std::string& key, double fallback) const {
    return has(key) ? get_float(key) : fallback;
}
bool Config::get_bool(const std::string& key, bool fallback) const {
    return has(key) ? get_bool(key) : fallback;
}
std::string Config::get_string(const std::string& key, const std::string& fallback) const {
    return has(key) ? get_string(key) : fallback;
}

Config Config::section(const std::string& key) const {
    check_guard(key);
    YAML::Node n = require(impl_->root, origin(key), prefix_, key);
    PG_CHECK(n.IsMap(), origin(key), ": '", full_key(prefix_, key), "' must be a section");
    Config out(std::make_unique<Impl>(Impl{YAML::Clone(n)}), source_, full_key(prefix_, key));
    out.guard_ = guard_;
    out.overridden_ = overridden_;
    return out;
}

bool Config::is_section(const std::string& key) const {
    YAML::Node n = find(impl_->root, key);
    return n.IsDefined() && n.IsMap();
}

std::vector<std::string> Config::keys() const {
    std::vector<std::string> out;
    for (const auto& kv : impl_->root) out.push_back(kv.first.as<std::string>());
    return out;
}

std::string Config::to_yaml() const {
    YAML::Emitter out;
    out << impl_->root;
    return std::string(out.c_str()) + "\n";
}

void Config::save(const std::string& path) const { write_file_atomic(path, "config", to_yaml()); }

} // namespace pg::seg
