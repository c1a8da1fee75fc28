#pragma once
/// \file runner.h
/// Runs one validated experiment: creates the run folder, loads the model once,
/// runs each technique on it, writes every output atomically and keeps the
/// manifest current. SIGINT/SIGTERM end the run cleanly with status "interrupted".
/// The run happens in a supervised worker process (see supervisor.h): a plugin that
/// crashes gives status "crashed", recorded by the parent.

#include <nlohmann/json.hpp>

#include <exception>
#include <string>
#include <vector>

#include "vizrun_host/experiment.h"
#include "vizrun_host/plugin_registry.h"

namespace vizrun::host {

struct RunSettings {
  std::string run_dir;                 ///< explicit run folder (--out); empty: <output>/<name>/<timestamp>
  bool quiet = false;                  ///< -q: no progress, only errors
  bool verbose = false;                ///< -v: debug messages too
  std::vector<std::string> overrides;  ///< the --set assignments, for the manifest
  std::string command_line;
  nlohmann::json sweep;                ///< for sweep jobs: sweep id, job id, overrides, shard
  /// Run in a worker process watched by this one (off also with VIZRUN_IN_PROCESS=1,
  /// e.g. under a debugger).
  bool supervised = true;
};

struct RunResult {
  std::string run_dir;
  std::string status;  ///< complete | failed | interrupted | crashed
  int exit_code = 0;   ///< 0 complete, 1 otherwise
};

/// The device `requested` resolves to here ("auto": cuda when usable, else cpu).
/// Throws ConfigError when cuda is requested but unusable.
std::string resolve_device(const std::string& requested);

/// What a failed plugin call says, on one line: LibTorch's message without its
/// backtrace, std::bad_alloc as "out of memory", line breaks folded.
std::string one_line_error(const std::exception& error);

/// Runs the experiment, in a supervised worker unless settings.supervised is off.
RunResult run_experiment(const Experiment& experiment, const PluginRegistry& registry, const RunSettings& settings);
/// Runs the experiment in this process (what the worker does).
RunResult run_experiment_in_process(const Experiment& experiment, const PluginRegistry& registry,
                                    const RunSettings& settings);

/// Installs SIGINT/SIGTERM handlers that ask a running experiment to stop.
void install_stop_handlers();
/// True once a stop was requested (by a signal or request_stop()).
bool stop_requested();
void request_stop();
void reset_stop();

}  // namespace vizrun::host
