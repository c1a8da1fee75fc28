#include "vizrun_host/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <climits>
#include <cstdint>
#include <map>
#include <regex>

#include "vizrun_host/files.h"
#include "vizrun_host/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vizrun::host {
namespace {

struct Axis {
  std::string key;
  json values;         // array
  std::string source;  // where the axis is written, for messages
};

/// Axes from the file's `sweep:` block (keys in sorted order, as stored) and then
/// from --sweep arguments; a later axis for the same key replaces the earlier.
std::vector<Axis> collect_axes(const ConfigTree& tree, const std::vector<std::string>& extra) {
  std::vector<Axis> axes;
  auto add = [&](Axis axis) {
    auto it = std::find_if(axes.begin(), axes.end(), [&](const Axis& a) { return a.key == axis.key; });
    if (it != axes.end()) *it = std::move(axis);
    else axes.push_back(std::move(axis));
  };
  if (tree.root.contains("sweep")) {
    const json& block = tree.root["sweep"];
    if (!block.is_object() || block.empty()) tree.fail("/sweep", "expected a mapping of key paths to lists of values");
    for (auto it = block.begin(); it != block.end(); ++it) {
      if (!it.value().is_array() || it.value().empty()) {
        tree.fail("/sweep/" + it.key(), "expected a non-empty list of values to try");
      }
      // Each job applies "key=value" as an override, split at the first '='.
      if (it.key().find('=') != std::string::npos) {
        tree.fail("/sweep/" + it.key(), "a swept key path cannot contain '='", true);
      }
      add({it.key(), it.value(), tree.origin_of("/sweep/" + it.key()).describe() + ": sweep"});
    }
  }
  for (const auto& argument : extra) {
    const auto eq = argument.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == argument.size()) {
      throw ConfigError("--sweep " + printable_utf8(argument) + ": expected key.path=value1,value2,...");
    }
    // "a,b,c" is read as the YAML list [a,b,c], so values keep their types.
    ConfigTree parsed = parse_config("values: [" + argument.substr(eq + 1) + "]", "--sweep " + argument, ".");
    // Brackets in the values can close the list early ("k=]" is an empty list, "k=], x: [1"
    // adds a key): what is read must be exactly one non-empty list.
    const json& values = parsed.root["values"];
    if (parsed.root.size() != 1 || !values.is_array() || values.empty()) {
      throw ConfigError("--sweep " + printable_utf8(argument) +
                        ": expected key.path=value1,value2,... (one or more values, brackets balanced)");
    }
    add({argument.substr(0, eq), values, "--sweep"});
  }
  return axes;
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

bool is_sweep(const ConfigTree& tree, const std::vector<std::string>& extra_axes) {
  return tree.root.contains("sweep") || !extra_axes.empty();
}

SweepPlan plan_sweep(const ConfigTree& tree, const std::vector<std::string>& extra_axes, const PluginRegistry& registry,
                     const std::string& directory) {
  const std::vector<Axis> axes = collect_axes(tree, extra_axes);
  ConfigTree base = tree;
  base.root.erase("sweep");

  SweepPlan plan;
  json definition = base.root;
  for (const auto& axis : axes) definition["sweep"][axis.key] = axis.values;
  plan.definition = to_yaml(definition);
  plan.id = sha256_hex(plan.definition).substr(0, 12);

  // Every job is resolved and validated up front: refuse a product that would not end
  // (or overflow) before expanding any of it.
  std::size_t total = 1;
  std::string sizes;
  for (const auto& axis : axes) {
    sizes += (sizes.empty() ? "" : " x ") + std::to_string(axis.values.size());
    total = total > kMaxSweepJobs ? total : total * axis.values.size();
  }
  if (total > kMaxSweepJobs) {
    throw ConfigError("sweep: " + sizes + " values make more than " + std::to_string(kMaxSweepJobs) +
                      " jobs, the most one sweep may have; split it into several sweeps");
  }
  for (std::size_t index = 0; index < total; ++index) {
    // Mixed-radix digits of the index: the last axis varies fastest.
    ConfigTree job_tree = base;
    std::vector<std::string> overrides(axes.size());
    std::size_t rest = index;
    for (std::size_t a = axes.size(); a-- > 0;) {
      const json& value = axes[a].values[rest % axes[a].values.size()];
      rest /= axes[a].values.size();
      overrides[a] = axes[a].key + "=" + value.dump();
    }
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const auto eq = overrides[a].find('=');
      apply_override(job_tree, overrides[a],
                     axes[a].source + " " + axes[a].key + "=" + value_text(json::parse(overrides[a].substr(eq + 1))));
    }
    SweepJob job;
    job.index = index;
    job.choice.resize(axes.size());
    for (std::size_t a = axes.size(), r = index; a-- > 0; r /= axes[a].values.size()) job.choice[a] = r % axes[a].values.size();
    for (const auto& o : overrides) {
      const auto eq = o.find('=');
      job.overrides.push_back(o.substr(0, eq) + "=" + value_text(json::parse(o.substr(eq + 1))));
    }
    job.experiment = resolve_experiment(std::move(job_tree));
    validate_plugins(job.experiment, registry);
    job.config_sha256 = sha256_hex(to_yaml(job.experiment.tree.root));
    job.id = job.config_sha256.substr(0, 12);
    plan.jobs.push_back(std::move(job));
  }
  std::map<std::string, std::size_t> first_with_id;
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    const auto [it, fresh] = first_with_id.emplace(plan.jobs[i].id, i);
    if (!fresh) {
      throw ConfigError("sweep: jobs " + std::to_string(it->second) + " and " + std::to_string(i) +
                        " resolve to the same config (" + join(plan.jobs[i].overrides, " ") + "); remove the duplicate values");
    }
  }
  if (!directory.empty()) {
    plan.directory = fs::absolute(directory).lexically_normal().string();
  } else {
    const Experiment& first = plan.jobs.front().experiment;
    plan.directory = (fs::path(first.output) / first.name / ("sweep-" + plan.id)).lexically_normal().string();
  }
  return plan;
}

Shard resolve_shard(const std::string& argument, std::size_t completion_count) {
  auto number = [](const std::string& text, const std::string& what) -> std::size_t {
    if (!std::regex_match(text, std::regex("[0-9]+"))) throw ConfigError(what + ": expected a non-negative integer, got '" + text + "'");
    return std::stoull(text);
  };
  Shard shard;
  if (!argument.empty()) {
    std::smatch m;
    if (!std::regex_match(argument, m, std::regex("([0-9]+)/([0-9]+)"))) {
      throw ConfigError("--shard " + argument + ": expected K/N with 0 <= K < N");
    }
    shard = {std::stoull(m[1]), std::stoull(m[2]), "--shard"};
  } else if (const char* id = std::getenv("SLURM_ARRAY_TASK_ID")) {
    const std::size_t task = number(id, "SLURM_ARRAY_TASK_ID");
    std::size_t min = 0, count = 0;
    if (const char* v = std::getenv("SLURM_ARRAY_TASK_MIN")) min = number(v, "SLURM_ARRAY_TASK_MIN");
    if (const char* v = std::getenv("SLURM_ARRAY_TASK_COUNT")) {
      count = number(v, "SLURM_ARRAY_TASK_COUNT");
    } else if (const char* v = std::getenv("SLURM_ARRAY_TASK_MAX")) {
      count = number(v, "SLURM_ARRAY_TASK_MAX") - min + 1;
    } else {
      throw ConfigError("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is");
    }
    shard = {task - min, count, "SLURM_ARRAY_TASK_ID"};
  } else if (const char* index = std::getenv("JOB_COMPLETION_INDEX")) {
    if (completion_count == 0) {
      throw ConfigError("JOB_COMPLETION_INDEX is set: give the number of indexes with --shard-count N");
    }
    shard = {number(index, "JOB_COMPLETION_INDEX"), completion_count, "JOB_COMPLETION_INDEX"};
  } else {
    return {0, 1, "all"};
  }
  if (shard.count == 0 || shard.index >= shard.count) {
    throw ConfigError(shard.source + ": shard " + std::to_string(shard.index) + " of " + std::to_string(shard.count) +
                      " is out of range (expected 0 <= K < N)");
  }
  return shard;
}

std::vector<std::size_t> shard_jobs(const SweepPlan& plan, std::size_t index, std::size_t count) {
  // taken[shard][axis][value]: jobs with that value already dealt to that shard.
  std::vector<std::vector<std::map<std::size_t, std::size_t>>> taken(count);
  std::vector<std::size_t> size(count, 0);
  std::vector<std::size_t> mine;
  for (const SweepJob& job : plan.jobs) {
    std::size_t best = 0;
    std::pair<std::size_t, std::size_t> best_key{SIZE_MAX, SIZE_MAX};
    for (std::size_t s = 0; s < count; ++s) {
      taken[s].resize(job.choice.size());
      std::size_t overlap = 0;
      for (std::size_t a = 0; a < job.choice.size(); ++a) overlap += taken[s][a][job.choice[a]];
      const std::pair<std::size_t, std::size_t> key{size[s], overlap};
      if (key < best_key) {
        best_key = key;
        best = s;
      }
    }
    ++size[best];
    for (std::size_t a = 0; a < job.choice.size(); ++a) ++taken[best][a][job.choice[a]];
    if (best == index) mine.push_back(job.index);
  }
  return mine;
}

std::string job_status(const SweepPlan& plan, const SweepJob& job) {
  const fs::path manifest = fs::path(plan.directory) / job.id / "manifest.json";
  if (!fs::exists(manifest)) return "missing";
  try {
    const json m = json::parse(read_file(manifest.string()));
    const std::string status = m.value("status", "running");
    if (status == "complete" && m.value("config_sha256", "") != job.config_sha256) return "stale";
    return status;
  } catch (const std::exception&) {
    return "running";  // unreadable: treat as unfinished and redo
  }
}

bool write_file_once(const std::string& path, const std::string& bytes) {
  if (fs::exists(path)) return false;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  write_file_atomic(tmp, bytes);
  const bool created = ::link(tmp.c_str(), path.c_str()) == 0;  // fails with EEXIST if another task won
  ::unlink(tmp.c_str());
  return created;
}

}  // namespace vizrun::host
