// The keys a run config may hold: every key that any part of pixelgrad reads, and which method
// reads it. check_config_keys() turns a misspelt or unknown key, a key that only another method
// reads, or a dataset split that nothing reads into an error naming the nearest known key, so a
// typo is never silently ignored. The table lives in config_keys.cpp; Config::guard_keys makes
// every read of an undeclared key an internal error, so the table cannot fall behind the code.
#pragma once

#include <string>
#include <vector>

#include "seg/config.h"

namespace pg::seg {

struct ConfigKey {
    std::string pattern; // dotted key; "<split>" stands for one dataset split name
    std::string method;  // "" = read whatever trainer.method is; else the one method that reads it
};

// The dataset splits a config may define: train, val, test, unlabeled.
const std::vector<std::string>& dataset_splits();
const std::vector<ConfigKey>& config_keys();

// The entry `key` (dotted, e.g. "dataset.train.crop.size") matches, or nullptr.
const ConfigKey* find_config_key(const std::string& key);
// The known key nearest to `key` by edit distance (splits filled in from `key`), for messages.
std::string nearest_config_key(const std::string& key);

// Every leaf of `config` must be a known key, read by trainer.method (default supervised).
// Errors name the config file, the key, the nearest known key or the method that reads it.
// Also arms config.guard_keys (reads of undeclared keys fail) for this config and its sections.
void check_config_keys(Config& config);

} // namespace pg::seg
