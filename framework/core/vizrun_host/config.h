#pragma once
/// \file config.h
/// Experiment files: YAML in, a JSON tree out, with the file, line and column of
/// every value kept so that any later error can point at its source. Command-line
/// overrides (`--set a.b=v`) are applied to the tree and remember that they came
/// from the command line.

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "vizrun/error.h"
#include "vizrun/value.h"

namespace vizrun::host {

/// Any problem with an experiment file or an override. The CLI exits with 2.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Where a value came from: a place in a file, or a command-line override.
struct Origin {
  std::string file;
  int line = 0;    ///< 1-based; 0 when unknown
  int column = 0;  ///< 1-based
  std::string override_text;  ///< "--set a.b=v" when the value came from the command line

  /// "configs/x.yaml:12:5" or "--set techniques.0.options.steps=ten".
  std::string describe() const;
};

/// A parsed experiment (or fragment) with the origin of every node.
struct ConfigTree {
  nlohmann::json root;
  std::map<std::string, Origin> value_origins;  ///< JSON pointer -> where the value is written
  std::map<std::string, Origin> key_origins;    ///< JSON pointer -> where its key is written
  std::string file;      ///< the path given, or a label such as "<embedded demo.yaml>"
  std::string base_dir;  ///< relative paths in the experiment are resolved against this

  /// The origin of the value at `pointer`, or of its nearest ancestor.
  Origin origin_of(const std::string& pointer) const;
  /// The origin of the key at `pointer` (falls back to the value's).
  Origin key_origin_of(const std::string& pointer) const;
  /// Throws ConfigError "<origin>: <key path>: <message>".
  [[noreturn]] void fail(const std::string& pointer, const std::string& message, bool at_key = false) const;
};

/// Parses YAML text. `label` names the source in messages; `base_dir` anchors relative paths.
ConfigTree parse_config(const std::string& yaml_text, const std::string& label, const std::string& base_dir);
/// Reads and parses a file (ConfigError if it cannot be read or parsed).
ConfigTree load_config_file(const std::string& path);

/// Reads a YAML file into the SDK's Value (for Host::read_config).
Value read_config_value(const std::string& path);

/// Applies "key.path=value" (value parsed as YAML: `3`, `true`, `[a, b]`, `{k: v}`).
/// Numeric path components index lists. Missing intermediate mappings are created;
/// validation later rejects keys the schema does not know.
/// `label` names the source in messages (default "--set <assignment>").
void apply_override(ConfigTree& tree, const std::string& assignment, const std::string& label = "");

/// "/techniques/0/options/steps" -> "techniques[0].options.steps" (how users write paths).
std::string display_path(const std::string& pointer);

/// Renders JSON as YAML (block style, keys in order) for the resolved config file.
std::string to_yaml(const nlohmann::json& value);

}  // namespace vizrun::host
