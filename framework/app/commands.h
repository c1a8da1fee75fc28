#pragma once
/// The vizrun subcommands, each returning the process exit code:
/// 0 success, 1 a run failed, 2 usage or configuration error.

#include <string>
#include <vector>

namespace vizrun::app {

struct CommonOptions {
  std::string config;                    ///< experiment file; empty: the embedded default
  std::vector<std::string> overrides;    ///< --set key.path=value
  std::vector<std::string> plugin_paths; ///< --plugin-path
  std::string out;                       ///< --out
  std::string device;                    ///< --device
  bool quiet = false;
  bool verbose = false;
  std::string command_line;
};

int run_command(const CommonOptions& options);
int validate_command(const CommonOptions& options);
int plugins_command(const CommonOptions& options, const std::string& name, bool print_schema);

}  // namespace vizrun::app
