#pragma once
/// \file sweep.h
/// Sweeps: one experiment file expanded into many jobs (the cartesian product of
/// the values listed under `sweep:` or given with --sweep), each with a stable id
/// derived from its resolved config and its own folder in the sweep folder.
/// Jobs are split into disjoint shards for job arrays (SLURM, Kubernetes indexed
/// Jobs); a job already complete for the same config is skipped, anything else is
/// redone in a fresh temporary folder and swapped into place.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "vizrun_host/config.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/plugin_registry.h"

namespace vizrun::host {

struct SweepJob {
  std::size_t index = 0;               ///< position in the expansion
  std::string id;                      ///< first 12 hex digits of the resolved config's sha256
  std::vector<std::string> overrides;  ///< "key.path=value" in axis order
  std::vector<std::size_t> choice;     ///< index of this job's value on each axis
  Experiment experiment;               ///< validated, plugin defaults filled in
  std::string config_sha256;
};

struct SweepPlan {
  std::string id;         ///< of the whole sweep (base config + axes)
  std::string directory;  ///< absolute sweep folder; job folders live inside
  std::string definition; ///< the experiment file as expanded (YAML, with its sweep block)
  std::vector<SweepJob> jobs;
};

/// The most jobs one sweep expands to (each is resolved and validated before any runs).
constexpr std::size_t kMaxSweepJobs = 10000;

/// True when the tree has a `sweep:` block or `extra_axes` is not empty.
bool is_sweep(const ConfigTree& tree, const std::vector<std::string>& extra_axes);

/// Expands and validates every job. `extra_axes` are --sweep "key=a,b,c" arguments
/// (a later axis for the same key replaces an earlier one). `directory` overrides
/// the default sweep folder <output>/<experiment>/sweep-<id>.
SweepPlan plan_sweep(const ConfigTree& tree, const std::vector<std::string>& extra_axes, const PluginRegistry& registry,
                     const std::string& directory = "");

/// Which slice of the jobs this process runs: index in [0, count).
struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;
  std::string source;  ///< "--shard", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX" or "all"
};

/// From --shard K/N, else the SLURM array variables, else JOB_COMPLETION_INDEX with
/// `completion_count` (--shard-count). Throws ConfigError on malformed values.
Shard resolve_shard(const std::string& shard_argument, std::size_t completion_count);

/// The jobs of shard `index` of `count`, in expansion order. vizrun cannot know
/// what a job costs, but the cost is driven by the swept values (image size,
/// steps, layers). So jobs are dealt to keep shard sizes within one job and, among
/// the emptiest shards, to give each shard an equal share of every value of every
/// swept key: whichever key drives the cost, the costly values are spread over all
/// shards instead of piling up in one, as contiguous or round-robin slices of a
/// cartesian product allow.
std::vector<std::size_t> shard_jobs(const SweepPlan& plan, std::size_t index, std::size_t count);

/// The status recorded in a job folder's manifest ("complete", "failed",
/// "interrupted", "running"), or "missing"; "stale" when complete for another config.
std::string job_status(const SweepPlan& plan, const SweepJob& job);

/// The plan file `<sweep folder>/sweep.json` captures the expanded definition and
/// the folder its relative paths refer to, so tasks, `merge` and resubmissions all
/// work from the sweep folder alone, whatever happens to the original file.
std::string plan_file(const std::string& sweep_directory);
/// Creates the plan file once (the first task wins); throws ConfigError if the
/// folder already holds a different sweep.
/// `plugin_paths` (from --plugin-path) are recorded so later tasks and `merge`
/// find the same plugins.
void record_plan(const SweepPlan& plan, const ConfigTree& tree, const std::vector<std::string>& plugin_paths);
/// The plugin paths recorded with a sweep.
std::vector<std::string> recorded_plugin_paths(const std::string& sweep_directory);
/// Loads the definition recorded in a sweep folder as a config tree.
ConfigTree load_recorded_sweep(const std::string& sweep_directory);

struct RunSettings;
/// Runs the jobs of `shard`, skipping complete ones. Returns the exit code:
/// 0 when every job of the shard is complete, 1 otherwise (stops at an interruption).
int run_sweep(const SweepPlan& plan, const Shard& shard, const PluginRegistry& registry, const RunSettings& settings);

/// Writes sweep_manifest.json and index.html in the sweep folder and returns the
/// jobs that are not complete ("missing", "failed", ...), one line each.
std::vector<std::string> merge_sweep(const SweepPlan& plan);

struct SlurmOptions {
  std::string partition, time;
  int gpus = 0, cpus = 0;
  std::size_t tasks = 0;            ///< array size; 0: one task per job
  std::size_t parallelism = 0;      ///< %M limit; 0: none
};
/// The text of an sbatch script running the sweep as one job array.
std::string slurm_script(const SweepPlan& plan, const SlurmOptions& options, const std::string& vizrun_binary);

/// Writes `path` only if it does not exist yet (write a temporary, then link it
/// into place, which fails if another task got there first). Returns true if written.
bool write_file_once(const std::string& path, const std::string& bytes);

}  // namespace vizrun::host
