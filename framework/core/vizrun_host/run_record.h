#pragma once
/// \file run_record.h
/// The contents of manifest.json as types. The runner fills a RunRecord through
/// Manifest's methods; the report, the sweep summary and crash recovery read one.
/// The JSON key names live only in run_record.cpp, next to
/// schemas/manifest.schema.json, which every test run checks them against.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vizrun::host {

/// One file a technique wrote, relative to the run folder.
struct OutputRecord {
  std::string path;
  std::string kind;  ///< "image" or "array"
  std::string sha256;
  nlohmann::json meta = nlohmann::json::object();  ///< the plugin's description (layer, filter, loss...)
  bool recovered = false;  ///< found on disk after a crash rather than recorded by the run
};

struct TechniqueRecord {
  std::string id;
  std::string plugin;
  std::string status = "running";  ///< running | complete | failed | interrupted | crashed
  std::string error;               ///< empty unless it did not complete
  nlohmann::json options = nlohmann::json::object();
  std::optional<double> wall_seconds;
  /// The arithmetic the host ran the technique in ("fp32", "bf16"), and why when it
  /// is not what the experiment asked for; empty until the technique starts.
  std::string precision;
  std::string precision_note;
  std::vector<OutputRecord> outputs;
  nlohmann::json records = nlohmann::json::object();  ///< the technique's tables (predictions, losses)
  nlohmann::json extra = nlohmann::json::object();    ///< keys this version does not model, kept as read
};

struct PluginRecord {
  std::string name, kind, version, sdk_version, file, sha256, fingerprint;
};

struct InputRecord {
  std::string path, sha256;
};

struct LayerRecord {
  std::string name, type;
  std::vector<std::int64_t> shape;
};

struct WeightsRecord {
  std::string source;  ///< imagenet, random, a file...
  std::string file;
  std::string sha256;
  std::vector<std::string> skipped;
};

struct ModelRecord {
  std::string plugin;
  std::int64_t parameters = 0;
  WeightsRecord weights;
  std::vector<LayerRecord> layers;
  double load_seconds = 0;
};

/// Where and how the run computed.
struct EnvironmentRecord {
  std::string device;
  int threads = 1;
  std::string precision;  ///< the experiment's policy (fp32, bf16, auto)
  std::string command_line;
  nlohmann::json precision_choice;  ///< what the policy meant here and why
  nlohmann::json torch;             ///< the LibTorch build: version, CUDA runtime, cuDNN, GPUs
  nlohmann::json device_info;       ///< the device: a GPU's name and capability, or the CPU model
  bool deterministic = true;        ///< deterministic algorithms were asked for
  /// Operations that ran without a deterministic kernel although one was asked for (LibTorch's warnings).
  std::vector<std::string> nondeterministic_ops;
};

/// The vizrun build that ran.
struct BuildRecord {
  std::string version, git_revision, sdk_version, libtorch, build_fingerprint, compiler, build_type;
};

struct RunRecord {
  std::string experiment;
  std::string status = "running";  ///< running | complete | failed | interrupted | crashed
  std::string error;
  std::string started_utc, finished_utc;
  std::uint64_t seed = 0;
  std::string config_file;
  nlohmann::json config = nlohmann::json::object();  ///< the resolved experiment, as config.yaml
  std::string config_sha256;
  std::vector<std::string> overrides;
  nlohmann::json sweep;  ///< the sweep and job this run belongs to, or null
  EnvironmentRecord environment;
  BuildRecord vizrun;
  std::vector<PluginRecord> plugins;
  std::vector<InputRecord> inputs;
  std::optional<ModelRecord> model;  ///< absent until the model is loaded
  std::vector<TechniqueRecord> techniques;
  nlohmann::json extra = nlohmann::json::object();  ///< keys this version does not model (crash details...)

  /// The manifest.json document.
  nlohmann::json to_json() const;
  /// Reads a manifest; absent keys keep their defaults (a crashed run's manifest
  /// may lag), and keys this version does not model are kept in `extra`.
  static RunRecord from_json(const nlohmann::json& manifest);

  /// Every output of every technique, in order.
  std::vector<const OutputRecord*> all_outputs() const;
};

}  // namespace vizrun::host
