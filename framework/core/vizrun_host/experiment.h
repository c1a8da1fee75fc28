#pragma once
/// \file experiment.h
/// A validated experiment: the config tree after overrides and defaults, and the
/// typed settings the runner needs. Validation happens in two steps, both before
/// any model is created: the file's shape (schemas/experiment.schema.json), then
/// each plugin's options against the schema that plugin declares.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "vizrun/value.h"
#include "vizrun_host/config.h"
#include "vizrun_host/plugin_registry.h"

namespace vizrun::host {

struct PluginUse {
  std::string plugin;
  std::string id;           ///< techniques: output folder name (unique)
  nlohmann::json options;   ///< validated, defaults filled
  std::string pointer;      ///< "/model" or "/techniques/2": where it is declared
};

struct Experiment {
  ConfigTree tree;  ///< the resolved config (what gets saved as config.yaml)
  std::string name;
  std::uint64_t seed = 0;
  std::string device;     ///< as written: cpu | cuda | cuda:N | auto
  std::string precision;  ///< fp32 | bf16
  int threads = 0;        ///< 0: every core
  bool deterministic = true;  ///< deterministic algorithms (cuDNN included); false lets LibTorch pick the fastest
  std::int64_t max_image_pixels = 100'000'000;  ///< image inputs above this are refused from their header
  int stall_timeout = 1800;  ///< seconds without progress before the worker is stopped as hung; 0: never
  std::string output;     ///< base folder for run folders, resolved
  std::vector<std::string> plugin_path;  ///< extra plugin folders or files, resolved
  std::string weights;
  PluginUse model;
  std::vector<PluginUse> techniques;
};

/// The JSON Schema of experiment files, compiled into the binary from
/// schemas/experiment.schema.json.
const nlohmann::json& experiment_schema();

/// Step 1: checks the shape of the file and fills top-level defaults.
/// Throws ConfigError pointing at the offending line.
Experiment resolve_experiment(ConfigTree tree);

/// Step 2: checks every plugin name and options block against `registry`, filling
/// option defaults. Throws ConfigError (an unknown plugin lists the available ones).
void validate_plugins(Experiment& experiment, const PluginRegistry& registry);

/// Step 3, for `vizrun validate`: asks each plugin that has one for its deep option
/// check (vizrun/option_check.h), e.g. small_convnet reads its architecture file.
/// Nothing is created and no weights are read. Throws ConfigError with
/// file:line:column and the key (in the experiment, or in the file the plugin read).
void check_plugin_options(const Experiment& experiment, const PluginRegistry& registry);

/// Plugin folders for this experiment: the defaults plus its `plugin_path`.
std::vector<std::string> plugin_directories(const Experiment& experiment);

/// JSON <-> the SDK's Value.
Value to_value(const nlohmann::json& json);
nlohmann::json to_json(const Value& value);

}  // namespace vizrun::host
