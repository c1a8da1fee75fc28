#pragma once
/// \file supervisor.h
/// A run happens in a worker process watched by the process that started it, so
/// that a plugin which crashes (a segfault, abort(), an exception escaping a
/// destructor, exit()) cannot take the record of the run down with it. The worker
/// keeps a few facts about what it is doing (run folder, plugin, technique, stage)
/// in memory it shares with the parent; when the worker dies without reporting a
/// result, the parent rewrites the manifest as "crashed", naming the plugin and the
/// signal and listing every complete output file.
///
/// Nothing in the parent touches LibTorch or CUDA: each worker starts clean.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "vizrun_host/runner.h"

namespace vizrun::host {

/// What the worker was doing; lives in a MAP_SHARED page (fixed-size, NUL-terminated).
struct WorkerState {
  char run_dir[4096];
  char plugin[256];
  char kind[16];  ///< "model" or "technique"
  char technique[256];
  char stage[512];  ///< loading, running, the last progress stage (often a layer), unloading
  /// CLOCK_MONOTONIC milliseconds of the worker's last sign of life (every call of the
  /// worker:: functions below: progress, stage changes, check_stop). Read and written
  /// with __atomic builtins; the parent's watchdog compares it with stall_timeout.
  std::int64_t last_beat_ms;
};

namespace worker {
/// No-ops unless this process is a supervised worker.
void set_run_dir(const std::string& run_dir);
void set_activity(const std::string& kind, const std::string& plugin, const std::string& technique,
                  const std::string& stage);
void set_stage(const std::string& stage);
/// A sign of life without news (Host::check_stop): resets the watchdog's clock.
void beat();
}  // namespace worker

/// Milliseconds of CLOCK_MONOTONIC (the same clock in every process).
std::int64_t monotonic_ms();

/// Forks a worker that calls run_experiment_in_process, forwards SIGINT/SIGTERM to
/// it and waits. A ConfigError or other error of the worker is rethrown here with
/// its message. A worker that dies of a signal, or exits without a result, gives
/// status "crashed" (exit code 1) after the manifest has been rewritten.
/// Watchdog: when the worker shows no sign of life for experiment.stall_timeout
/// seconds (0: never), it gets SIGTERM, then SIGKILL after a grace period, and the
/// run is "crashed" with crash.hung = true, naming plugin, technique, stage and time.
RunResult run_supervised(const Experiment& experiment, const PluginRegistry& registry, const RunSettings& settings);

/// Rewrites the manifest in `run_dir` (atomically) for a run whose worker ended
/// without finishing it: removes the worker's temporary files and the manifest's
/// reserve, lists complete files the manifest had not caught up with (by sha256,
/// "recovered": true), marks running techniques and the run `status`, and stores
/// `error` and `details` (under "crash" when status is "crashed"). Writes index.html
/// and a line in vizrun.log, best effort.
void record_unfinished_run(const std::string& run_dir, const std::string& status, const std::string& error,
                           nlohmann::json details);

/// "SIGSEGV" for 11 and so on; "signal N" for numbers without a name.
std::string signal_name(int signal_number);

/// The runner's signal handlers forward SIGINT/SIGTERM to `pid` (0: to nobody).
void forward_stop_signals_to(int pid);

}  // namespace vizrun::host
