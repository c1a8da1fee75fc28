// Running, merging and submitting sweeps (see sweep.h).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "vizrun_host/files.h"
#include "vizrun_host/report.h"
#include "vizrun_host/run_record.h"
#include "vizrun_host/runner.h"
#include "vizrun_host/sweep.h"
#include "vizrun_host/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vizrun::host {
namespace {

std::string hostname() {
  char name[256] = "host";
  ::gethostname(name, sizeof name - 1);
  return name;
}

void remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

/// Temporary folders of `job` left by killed tasks.
void remove_leftovers(const fs::path& dir, const std::string& id) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("." + id + ".tmp-", 0) == 0 || name.rfind("." + id + ".old-", 0) == 0) remove_quietly(entry.path());
  }
}

/// Puts a finished job folder in place of whatever was there before.
void swap_into_place(const fs::path& fresh, const fs::path& final_dir) {
  const fs::path old = final_dir.parent_path() / ("." + final_dir.filename().string() + ".old-" + std::to_string(::getpid()));
  if (fs::exists(final_dir)) fs::rename(final_dir, old);
  fs::rename(fresh, final_dir);
  remove_quietly(old);
}

json job_row(const SweepPlan& plan, const SweepJob& job) {
  json row = {{"index", job.index}, {"id", job.id}, {"overrides", job.overrides}, {"status", job_status(plan, job)}};
  const fs::path manifest = fs::path(plan.directory) / job.id / "manifest.json";
  if (row["status"] == "missing") return row;
  try {
    const RunRecord run = RunRecord::from_json(json::parse(read_file(manifest.string())));
    double seconds = 0;
    json outputs = json::array();
    for (const auto& t : run.techniques) {
      seconds += t.wall_seconds.value_or(0.0);
      for (const auto& o : t.outputs) outputs.push_back({{"path", job.id + "/" + o.path}, {"sha256", o.sha256}});
    }
    row["started_utc"] = run.started_utc;
    row["finished_utc"] = run.finished_utc;
    row["technique_seconds"] = seconds;
    row["outputs"] = outputs;
    if (!run.error.empty()) row["error"] = run.error;
  } catch (const std::exception& e) {
    row["error"] = std::string("unreadable manifest: ") + e.what();
  }
  return row;
}

std::string render_sweep_report(const json& s) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sweep " << html_escape(s["id"])
     << "</title><style>body{font:15px/1.45 system-ui,sans-serif;background:#15171c;color:#e6e6e6;margin:24px 32px}"
        "table{border-collapse:collapse}td,th{padding:4px 14px 4px 0;text-align:left}th{color:#9aa0aa}"
        "a{color:#7cc4ff}.complete{color:#6fd08c}.failed,.crashed,.missing,.stale{color:#ff8f8f}.running,.interrupted{color:#e6c35c}"
        "code{font-size:12.5px}</style></head><body>\n<h1>sweep " << html_escape(s["id"]) << "</h1>\n<p>"
     << s["jobs"].size() << " jobs, " << s["complete"] << " complete. Folder <code>" << html_escape(s["directory"])
     << "</code>.</p>\n<table><tr><th>#</th><th>job</th><th>overrides</th><th>status</th><th>time (s)</th><th>files</th></tr>\n";
  for (const auto& row : s["jobs"]) {
    const std::string status = row["status"];
    const std::string id = row["id"];
    std::string overrides;
    for (const auto& o : row["overrides"]) overrides += "<code>" + html_escape(o) + "</code> ";
    os << "<tr><td>" << row["index"] << "</td><td>"
       << (status == "missing" ? html_escape(id) : "<a href=\"" + id + "/index.html\">" + id + "</a>") << "</td><td>"
       << overrides << "</td><td class=\"" << status << "\">" << status
       << (row.contains("error") ? ": " + html_escape(row["error"].get<std::string>()) : "") << "</td><td>"
       << (row.contains("technique_seconds") ? std::to_string(static_cast<int>(row["technique_seconds"].get<double>() + 0.5)) : "")
       << "</td><td>" << row.value("outputs", json::array()).size() << "</td></tr>\n";
  }
  os << "</table></body></html>\n";
  return os.str();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string plan_file(const std::string& sweep_directory) { return sweep_directory + "/sweep.json"; }

void record_plan(const SweepPlan& plan, const ConfigTree& tree, const std::vector<std::string>& plugin_paths) {
  std::vector<std::string> absolute;
  for (const auto& p : plugin_paths) absolute.push_back(fs::absolute(p).lexically_normal().string());
  json record = {{"vizrun_sweep", 1},
                 {"id", plan.id},
                 {"config_file", tree.file},
                 {"base_dir", tree.base_dir},
                 {"definition", parse_config(plan.definition, "definition", tree.base_dir).root},
                 {"plugin_path", absolute},
                 {"jobs", plan.jobs.size()}};
  fs::create_directories(plan.directory);
  const std::string path = plan_file(plan.directory);
  if (!write_file_once(path, record.dump(2, ' ', false, json::error_handler_t::replace) + "\n")) {
    const json existing = json::parse(read_file(path));
    if (existing.value("id", "") != plan.id) {
      throw ConfigError(plan.directory + " already holds sweep " + existing.value("id", "?") + ", not " + plan.id +
                        "; choose another folder with --out");
    }
  }
}

std::vector<std::string> recorded_plugin_paths(const std::string& sweep_directory) {
  try {
    return json::parse(read_file(plan_file(sweep_directory))).value("plugin_path", std::vector<std::string>{});
  } catch (const std::exception&) {
    return {};
  }
}

ConfigTree load_recorded_sweep(const std::string& sweep_directory) {
  const std::string path = plan_file(sweep_directory);
  json record;
  try {
    record = json::parse(read_file(path));
  } catch (const std::exception& e) {
    throw ConfigError(sweep_directory + ": not a sweep folder (cannot read sweep.json: " + e.what() + ")");
  }
  ConfigTree tree;
  tree.file = path;
  tree.base_dir = record.value("base_dir", sweep_directory);
  tree.root = record.at("definition");
  return tree;
}

int run_sweep(const SweepPlan& plan, const Shard& shard, const PluginRegistry& registry, const RunSettings& base) {
  const std::vector<std::size_t> mine = shard_jobs(plan, shard.index, shard.count);
  int exit_code = 0;
  for (std::size_t n = 0; n < mine.size(); ++n) {
    const SweepJob& job = plan.jobs[mine[n]];
    const std::string status = job_status(plan, job);
    const std::string label = "job " + std::to_string(n + 1) + "/" + std::to_string(mine.size()) + " " + job.id + " (" +
                              join(job.overrides, " ") + ")";
    if (status == "complete") {
      if (!base.quiet) std::fprintf(stderr, "vizrun: %s: already complete, skipped\n", label.c_str());
      continue;
    }
    if (!base.quiet) std::fprintf(stderr, "vizrun: %s: %s\n", label.c_str(), status == "missing" ? "running" : ("redoing (was " + status + ")").c_str());
    const fs::path dir(plan.directory);
    remove_leftovers(dir, job.id);
    RunSettings settings = base;
    settings.run_dir = (dir / ("." + job.id + ".tmp-" + hostname() + "-" + std::to_string(::getpid()))).string();
    settings.sweep = {{"id", plan.id},
                      {"job", job.id},
                      {"index", job.index},
                      {"jobs", plan.jobs.size()},
                      {"overrides", job.overrides},
                      {"shard", {{"index", shard.index}, {"count", shard.count}, {"source", shard.source}}}};
    RunResult result = run_experiment(job.experiment, registry, settings);
    swap_into_place(settings.run_dir, dir / job.id);
    if (result.status == "interrupted") return 1;
    if (result.exit_code != 0) exit_code = 1;
  }
  return exit_code;
}

std::vector<std::string> merge_sweep(const SweepPlan& plan) {
  json summary = {{"vizrun_sweep_manifest", 1}, {"id", plan.id}, {"directory", plan.directory},
                  {"merged_utc", utc_timestamp_iso()}, {"jobs", json::array()}};
  std::vector<std::string> problems;
  std::size_t complete = 0;
  for (const auto& job : plan.jobs) {
    json row = job_row(plan, job);
    if (row["status"] == "complete") {
      ++complete;
    } else {
      problems.push_back("job " + std::to_string(job.index) + " " + job.id + " (" + join(job.overrides, " ") + "): " +
                         row["status"].get<std::string>() + (row.contains("error") ? ": " + row["error"].get<std::string>() : ""));
    }
    summary["jobs"].push_back(row);
  }
  summary["complete"] = complete;
  summary["status"] = problems.empty() ? "complete" : "incomplete";
  write_file_atomic(plan.directory + "/sweep_manifest.json", summary.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  write_file_atomic(plan.directory + "/index.html", render_sweep_report(summary));
  return problems;
}

std::string slurm_script(const SweepPlan& plan, const SlurmOptions& o, const std::string& vizrun_binary) {
  const std::size_t tasks = std::max<std::size_t>(1, o.tasks ? std::min(o.tasks, plan.jobs.size()) : plan.jobs.size());
  std::ostringstream os;
  os << "#!/bin/bash\n"
     << "# vizrun sweep " << plan.id << ": " << plan.jobs.size() << " jobs in " << tasks << " array tasks.\n"
     << "# Resubmitting this script finishes whatever is not complete; `vizrun merge` checks the result.\n"
     << "#SBATCH --job-name=vizrun-" << plan.id << "\n"
     << "#SBATCH --array=0-" << tasks - 1 << (o.parallelism ? "%" + std::to_string(o.parallelism) : "") << "\n"
     << "#SBATCH --output=" << plan.directory << "/slurm-%A_%a.out\n"
     << "#SBATCH --chdir=" << plan.directory << "\n";
  if (!o.partition.empty()) os << "#SBATCH --partition=" << o.partition << "\n";
  if (!o.time.empty()) os << "#SBATCH --time=" << o.time << "\n";
  if (o.gpus > 0) os << "#SBATCH --gpus=" << o.gpus << "\n";
  if (o.cpus > 0) os << "#SBATCH --cpus-per-task=" << o.cpus << "\n";
  // SIGTERM reaches vizrun itself (exec below); it stops after the current step and
  // marks the job interrupted, so a resubmission redoes exactly that job.
  os << "set -euo pipefail\n";
  for (const char* name : {"VIZRUN_PLUGIN_PATH", "VIZRUN_CACHE", "XDG_CACHE_HOME", "LD_LIBRARY_PATH"}) {
    if (const char* value = std::getenv(name)) os << "export " << name << "=" << shell_quote(value) << "\n";
  }
  os << "exec " << shell_quote(vizrun_binary) << " run " << shell_quote(plan.directory) << " -q\n";
  return os.str();
}

}  // namespace vizrun::host
