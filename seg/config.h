// Run configuration: a YAML file shaped like U2PL's (`dataset`, `net`, `trainer`, `saver`,
// `criterion`), `--set key=value` overrides with dotted keys, typed lookups whose errors name the
// file (or the --set), the key, the value and what was expected, and the effective config written
// back as YAML.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pg::seg {

class Config {
  public:
    // Reads `path` (and the file named by its top-level `base:` key, recursively, this file's
    // keys merged over the base's) then applies each "a.b.c=value" override in order (value parsed as YAML, so
    // "0.01", "true", "[6, 12, 18]" and "{p: 1}" all work; missing parents are created).
    static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
    static Config from_string(const std::string& yaml, const std::string& name = "<string>");
    Config(const Config& other);
    Config& operator=(const Config& other);
    ~Config();

    const std::string& source() const { return source_; }
    // Where `key` (relative to this section) got its value, for messages: "--set trainer.seed"
    // when a --set of load() wrote it, a section above it or (key a section) a key inside it,
    // else source().
    std::string origin(const std::string& key) const;
    // The same for a check of several keys: the first of them a --set wrote, else source().
    std::string origin_of_any(const std::vector<std::string>& keys) const;
    // Whether a --set of exactly this key gave its value (not one of a section above it).
    bool given_by_set(const std::string& key) const;
    void set(const std::string& key, const std::string& yaml_value);
    // set() for a command-line option that stands for a key (eval's --stride): origin(key) is then
    // `option`, so a bad value is blamed on it.
    void set_by(const std::string& key, const std::string& yaml_value, const std::string& option);
    bool has(const std::string& key) const;

    // Required lookups: a missing key or a value of the wrong type is an error.
    int64_t get_int(const std::string& key) const;
    double get_float(const std::string& key) const;
    bool get_bool(const std::string& key) const;
    std::string get_string(const std::string& key) const;
    std::vector<int64_t> get_int_list(const std::string& key) const;
    std::vector<double> get_float_list(const std::string& key) const;
    std::vector<std::string> get_string_list(const std::string& key) const;
    // With defaults (the key may be absent; a present value of the wrong type is still an error).
    int64_t get_int(const std::string& key, int64_t fallback) const;
    double get_float(const std::string& key, double fallback) const;
    bool get_bool(const std::string& key, bool fallback) const;
    std::string get_string(const std::string& key, const std::string& fallback) const;

    // The sub-tree under `key` as its own Config (same source name, keys relative to it).
    Config section(const std::string& key) const;
    std::vector<std::string> keys() const;         // the direct children of this (map) node
    bool is_section(const std::string& key) const; // present and a mapping
    // From now on every lookup (get_*, has, section) of this config and of the sections taken
    // from it passes its full dotted key to `known`; a key it rejects is an internal error (a
    // read that seg/config_keys.cpp does not declare).
    void guard_keys(std::function<bool(const std::string&)> known);
    std::string to_yaml() const; // the effective configuration
    void save(const std::string& path) const;

  private:
    struct Impl;
    Config(std::unique_ptr<Impl> impl, std::string source, std::string prefix);
    void check_guard(const std::string& key) const;
    std::unique_ptr<Impl> impl_;
    std::string source_;
    std::string prefix_; // dotted path of this section inside the file, for error messages
    std::shared_ptr<std::function<bool(const std::string&)>> guard_; // shared with sections
    // Full keys written by load()'s --set overrides and set_by(), in order, with the option that
    // wrote each ("--set trainer.seed", "--stride").
    std::vector<std::pair<std::string, std::string>> overridden_;
};

} // namespace pg::seg
