#pragma once
/// The vizrun subcommands, each returning the process exit code:
/// 0 success, 1 a run failed (or a sweep is incomplete), 2 usage or configuration error.

#include <cstdint>
#include <string>
#include <vector>

#include "vizrun_host/sweep.h"

namespace vizrun::app {

struct CommonOptions {
  std::string config;                    ///< experiment file or sweep folder; empty: the embedded default
  std::vector<std::string> overrides;    ///< --set key.path=value
  std::vector<std::string> sweeps;       ///< --sweep key.path=a,b,c
  std::vector<std::string> plugin_paths; ///< --plugin-path
  std::string out;                       ///< --out: run folder, or sweep folder for sweeps
  std::string device;                    ///< --device
  std::string stall_timeout;             ///< --stall-timeout SECONDS
  std::string shard;                     ///< --shard K/N
  std::size_t shard_count = 0;           ///< --shard-count N (with JOB_COMPLETION_INDEX)
  bool quiet = false;
  bool verbose = false;
  std::string command_line;
};

int run_command(const CommonOptions& options);
int validate_command(const CommonOptions& options);
int plan_command(const CommonOptions& options);
int merge_command(const CommonOptions& options);
int slurm_command(const CommonOptions& options, const host::SlurmOptions& slurm, bool submit);
/// What `vizrun plugins` shows: the list (no name) or one plugin's page, its schema, or JSON for scripts.
struct PluginsView {
  std::string name;
  bool schema = false;  ///< --schema: the options JSON Schema only
  bool json = false;    ///< --json: the list or the plugin as JSON
};
int plugins_command(const CommonOptions& options, const PluginsView& view);
/// What `vizrun layers` summarises: the config's model, or another plugin's.
struct LayersView {
  std::string model;     ///< --model: this model plugin (weights random unless --weights) instead of the config's
  std::string weights;   ///< --weights: same as --set model.weights=...
  std::int64_t size = 0; ///< --size: shapes at size x size (0: the model's input size)
  bool json = false;     ///< --json
};
int layers_command(const CommonOptions& options, const LayersView& view);

}  // namespace vizrun::app
