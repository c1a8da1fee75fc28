#include "commands.h"

#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "vizrun_host/build_info.h"
#include "vizrun_host/config.h"
#include "vizrun_host/embedded.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/model_check.h"
#include "vizrun_host/model_summary.h"
#include "vizrun_host/plugin_registry.h"
#include "vizrun_host/runner.h"
#include "vizrun_host/schema.h"
#include "vizrun_host/files.h"
#include "vizrun_host/sweep.h"
#include "vizrun_host/text.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

namespace fs = std::filesystem;
using nlohmann::json;
using namespace vizrun::host;

namespace vizrun::app {
namespace {

void print_error(const std::string& message) { std::fprintf(stderr, "vizrun: error: %s\n", message.c_str()); }

/// Where the built-in demo's relative paths point: the installed share/vizrun/configs,
/// or the source tree's configs/ when running from the build tree.
std::string default_config_dir() {
  const fs::path exe_dir = boost::dll::program_location().parent_path().string();
  const fs::path installed = exe_dir / ".." / "share" / "vizrun" / "configs";
  if (fs::exists(installed)) return installed.lexically_normal().string();
  return (fs::path(build::source_dir) / "configs").string();
}

bool is_sweep_folder(const std::string& path) {
  return !path.empty() && fs::is_directory(path) && fs::exists(plan_file(path));
}

ConfigTree load_tree(const CommonOptions& o) {
  ConfigTree tree;
  if (o.config.empty()) {
    if (std::string(embedded::default_config).empty()) {
      throw ConfigError("no experiment file given, and this build has no built-in default experiment");
    }
    const std::string dir = default_config_dir();
    tree = parse_config(embedded::default_config, dir + "/" + embedded::default_config_name, dir);
  } else if (is_sweep_folder(o.config)) {
    tree = load_recorded_sweep(o.config);
  } else {
    tree = load_config_file(o.config);
  }
  for (const auto& assignment : o.overrides) apply_override(tree, assignment);
  if (!o.device.empty()) apply_override(tree, "device=" + o.device);
  if (!o.stall_timeout.empty()) apply_override(tree, "stall_timeout=" + o.stall_timeout);
  return tree;
}

std::unique_ptr<PluginRegistry> make_registry(const ConfigTree& tree, const CommonOptions& o) {
  std::vector<std::string> extra;
  if (tree.root.contains("plugin_path") && tree.root["plugin_path"].is_array()) {
    for (const auto& p : tree.root["plugin_path"]) {
      if (!p.is_string()) continue;
      const fs::path path(p.get<std::string>());
      extra.push_back(path.is_absolute() ? path.string() : (fs::path(tree.base_dir) / path).lexically_normal().string());
    }
  }
  extra.insert(extra.end(), o.plugin_paths.begin(), o.plugin_paths.end());
  if (is_sweep_folder(o.config)) {
    for (const auto& p : recorded_plugin_paths(o.config)) extra.push_back(p);
  }
  auto registry = std::make_unique<PluginRegistry>(PluginRegistry::default_directories(extra));
  // A damaged file (truncated, garbage) is skipped, and a path that does not exist finds
  // nothing; say so, as `plugins` does.
  for (const auto& r : registry->rejected()) {
    if (o.quiet) break;
    if (r.damaged) std::fprintf(stderr, "vizrun: warning: skipped %s\n", r.reason.c_str());
    if (r.missing) std::fprintf(stderr, "vizrun: warning: %s\n", r.reason.c_str());
  }
  return registry;
}

struct Prepared {
  ConfigTree tree;
  std::unique_ptr<PluginRegistry> registry;
  std::optional<Experiment> single;  ///< a plain experiment
  std::optional<SweepPlan> sweep;    ///< or a sweep
};

/// Loads, overrides and validates everything (every job of a sweep) before any
/// model is created.
Prepared prepare(const CommonOptions& o) {
  Prepared p;
  p.tree = load_tree(o);
  p.registry = make_registry(p.tree, o);
  if (is_sweep(p.tree, o.sweeps)) {
    std::string dir = o.out;
    if (dir.empty() && is_sweep_folder(o.config)) dir = o.config;
    p.sweep = plan_sweep(p.tree, o.sweeps, *p.registry, dir);
  } else {
    p.single = resolve_experiment(p.tree);
    validate_plugins(*p.single, *p.registry);
  }
  return p;
}

RunSettings settings_for(const CommonOptions& o) {
  RunSettings settings;
  settings.quiet = o.quiet;
  settings.verbose = o.verbose;
  settings.overrides = o.overrides;
  if (!o.device.empty()) settings.overrides.push_back("device=" + o.device);
  if (!o.stall_timeout.empty()) settings.overrides.push_back("stall_timeout=" + o.stall_timeout);
  settings.command_line = o.command_line;
  return settings;
}

/// Runs `body`, mapping configuration errors to exit code 2 and other errors to 1.
template <class F>
int guarded(F&& body, int other_errors = 1) {
  try {
    return body();
  } catch (const ConfigError& e) {
    print_error(e.what());
    return 2;
  } catch (const std::exception& e) {
    print_error(e.what());
    return other_errors;
  }
}

/// True when `program` is an executable file in one of $PATH's folders.
bool program_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string dirs = path;
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path candidate = fs::path(dirs.substr(start, end - start).empty() ? "." : dirs.substr(start, end - start)) / program;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return true;
    start = end + 1;
  }
  return false;
}

std::string this_executable() { return boost::dll::program_location().string(); }

void print_options(const json& schema, const std::string& prefix) {
  if (!schema.contains("properties")) return;
  for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
    const json& p = it.value();
    const std::string name = prefix + it.key();
    std::string line = "  " + name + "\n      type: " + describe_expected(p);
    if (p.contains("default")) line += "\n      default: " + p["default"].dump();
    else if (schema.contains("required") && std::find(schema["required"].begin(), schema["required"].end(), it.key()) != schema["required"].end()) {
      line += "\n      required";
    }
    if (p.contains("description")) line += "\n      " + p["description"].get<std::string>();
    std::printf("%s\n", line.c_str());
    // "type" may be a list (["number", "null"]): only a plain object type has nested options.
    if (p.contains("type") && p["type"] == "object") print_options(p, name + ".");
  }
}

}  // namespace

int run_command(const CommonOptions& o) {
  return guarded([&] {
    Prepared p = prepare(o);
    install_stop_handlers();
    if (p.sweep) {
      if (!o.shard.empty() && o.shard_count) throw ConfigError("give either --shard or --shard-count, not both");
      const Shard shard = resolve_shard(o.shard, o.shard_count);
      record_plan(*p.sweep, p.tree, o.plugin_paths);
      if (!o.quiet) {
        std::fprintf(stderr, "vizrun: sweep %s: %zu jobs, shard %zu/%zu (%s), folder %s\n", p.sweep->id.c_str(),
                     p.sweep->jobs.size(), shard.index, shard.count, shard.source.c_str(), p.sweep->directory.c_str());
      }
      return run_sweep(*p.sweep, shard, *p.registry, settings_for(o));
    }
    RunSettings settings = settings_for(o);
    settings.run_dir = o.out;
    RunResult result = run_experiment(*p.single, *p.registry, settings);
    if (result.exit_code != 0) {
      std::fprintf(stderr, "vizrun: run %s; see %s/manifest.json\n", result.status.c_str(), result.run_dir.c_str());
    } else if (!o.quiet) {
      std::fprintf(stderr, "vizrun: done: %s (open index.html)\n", result.run_dir.c_str());
    }
    return result.exit_code;
  });
}

int validate_command(const CommonOptions& o) {
  return guarded(
      [&] {
        Prepared p = prepare(o);
        // Deeper than the schemas: what a plugin can check without being created
        // (small_convnet reads its architecture file).
        std::vector<const Experiment*> experiments;
        if (p.sweep) {
          for (const auto& job : p.sweep->jobs) experiments.push_back(&job.experiment);
        } else {
          experiments.push_back(&*p.single);
        }
        for (const Experiment* e : experiments) check_plugin_options(*e, *p.registry);
        // Deepest: the techniques' options against the model's graph (layer names,
        // images, classes, sizes), without reading weights where the backend can.
        check_against_models(experiments, *p.registry);
        if (p.sweep) {
          std::printf("%s: valid sweep of %zu jobs\n", p.tree.file.c_str(), p.sweep->jobs.size());
        } else {
          std::printf("%s: valid (model %s, %zu technique%s)\n", p.tree.file.c_str(), p.single->model.plugin.c_str(),
                      p.single->techniques.size(), p.single->techniques.size() == 1 ? "" : "s");
        }
        return 0;
      },
      2);
}

int plan_command(const CommonOptions& o) {
  return guarded(
      [&] {
        Prepared p = prepare(o);
        if (!p.sweep) {
          std::printf("1 job (no sweep): %s\n", p.tree.file.c_str());
          return 0;
        }
        const Shard shard = resolve_shard(o.shard, o.shard_count);
        const auto mine = shard_jobs(*p.sweep, shard.index, shard.count);
        std::printf("sweep %s: %zu jobs in %s\n", p.sweep->id.c_str(), p.sweep->jobs.size(), p.sweep->directory.c_str());
        if (shard.count > 1) std::printf("shard %zu/%zu (%s): %zu jobs\n", shard.index, shard.count, shard.source.c_str(), mine.size());
        std::printf("%-5s %-12s %-10s %s\n", "#", "ID", "STATUS", "OVERRIDES");
        for (std::size_t i : mine) {
          const SweepJob& job = p.sweep->jobs[i];
          std::printf("%-5zu %-12s %-10s %s\n", job.index, job.id.c_str(), job_status(*p.sweep, job).c_str(),
                      join(job.overrides, " ").c_str());
        }
        return 0;
      },
      2);
}

int merge_command(const CommonOptions& o) {
  return guarded([&] {
    if (!is_sweep_folder(o.config)) throw ConfigError(o.config + ": not a sweep folder (no sweep.json)");
    Prepared p = prepare(o);
    const auto problems = merge_sweep(*p.sweep);
    std::printf("sweep %s: %zu of %zu jobs complete; wrote %s/sweep_manifest.json and index.html\n", p.sweep->id.c_str(),
                p.sweep->jobs.size() - problems.size(), p.sweep->jobs.size(), p.sweep->directory.c_str());
    for (const auto& line : problems) std::printf("  %s\n", line.c_str());
    return problems.empty() ? 0 : 1;
  });
}

int slurm_command(const CommonOptions& o, const SlurmOptions& slurm, bool submit) {
  return guarded([&] {
    Prepared p = prepare(o);
    if (!p.sweep) throw ConfigError(p.tree.file + ": no sweep: block and no --sweep; `vizrun slurm` submits sweeps");
    record_plan(*p.sweep, p.tree, o.plugin_paths);
    const std::string script = p.sweep->directory + "/vizrun-array.sbatch";
    write_file_atomic(script, slurm_script(*p.sweep, slurm, this_executable()));
    fs::permissions(script, fs::perms::owner_exec, fs::perm_options::add);
    std::printf("%s\n", script.c_str());
    if (!submit) return 0;
    if (!program_on_path("sbatch")) {
      throw Error("sbatch is not installed (not found on PATH); the script is written: submit it on a SLURM login node with `sbatch " + script + "`");
    }
    const std::string command = "sbatch --parsable " + script;
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) throw Error("cannot run sbatch");
    char buf[256] = {0};
    std::string out;
    while (std::fgets(buf, sizeof buf, pipe)) out += buf;
    const int status = ::pclose(pipe);
    if (status != 0) throw Error("sbatch failed (exit status " + std::to_string(WEXITSTATUS(status)) + ")");
    std::printf("submitted job %s", out.c_str());
    return 0;
  });
}

namespace {

json describe_plugin(const PluginDescriptor& d) {
  return {{"name", d.name},           {"kind", d.kind},
          {"version", d.version},     {"sdk_version", d.sdk_version},
          {"description", d.description}, {"file", d.file},
          {"build_fingerprint", d.fingerprint}, {"compiler", d.compiler},
          {"extensions", d.extensions},
          {"options_schema", parse_schema(d.options_schema, d.file)}};
}

void print_plugin_list(const PluginRegistry& registry, bool as_json) {
  if (as_json) {
    json list = json::array();
    for (const auto& d : registry.plugins()) list.push_back(describe_plugin(d));
    json rejected = json::array();
    for (const auto& r : registry.rejected()) rejected.push_back({{"file", r.file}, {"reason", r.reason}});
    std::printf("%s\n", json{{"plugins", list}, {"rejected", rejected}}.dump(2).c_str());
    return;
  }
  std::printf("%-16s %-10s %-8s %-4s %s\n", "NAME", "KIND", "VERSION", "SDK", "FILE");
  for (const auto& d : registry.plugins()) {
    std::printf("%-16s %-10s %-8s %-4s %s\n", d.name.c_str(), d.kind.c_str(), d.version.c_str(),
                d.sdk_version.c_str(), d.file.c_str());
  }
}

void print_plugin_page(const PluginDescriptor& d) {
  std::printf("%s %s (%s plugin, SDK %s)\n%s\nfile: %s\nbuilt with: %s, %s\nextensions: %s\n\noptions:\n",
              d.name.c_str(), d.version.c_str(), d.kind.c_str(), d.sdk_version.c_str(), d.description.c_str(),
              d.file.c_str(), d.fingerprint.c_str(), d.compiler.c_str(),
              d.extensions.empty() ? "none" : join(d.extensions, ", ").c_str());
  print_options(parse_schema(d.options_schema, d.file), "");
  if (d.kind == "model") {
    std::printf("\nlayers: vizrun layers --model %s --weights random   (names, shapes, parameters)\n", d.name.c_str());
  }
}

}  // namespace

int plugins_command(const CommonOptions& o, const PluginsView& view) {
  return guarded(
      [&] {
        PluginRegistry registry(PluginRegistry::default_directories(o.plugin_paths));
        for (const auto& r : registry.rejected())
          std::fprintf(stderr, "vizrun: warning: %s%s\n", r.missing ? "" : "skipped ", r.reason.c_str());
        if (view.name.empty()) {
          print_plugin_list(registry, view.json);
          return 0;
        }
        const PluginDescriptor* d = nullptr;
        for (const auto& candidate : registry.plugins()) {
          if (candidate.name == view.name) d = &candidate;
        }
        if (!d) {
          std::vector<std::string> names;
          for (const auto& candidate : registry.plugins()) names.push_back(candidate.name);
          std::string message = "unknown plugin '" + view.name + "'";
          const std::string close = closest_match(view.name, names);
          if (!close.empty()) message += " (did you mean '" + close + "'?)";
          throw ConfigError(message + "; available: " + (names.empty() ? "none found" : join(names, ", ")));
        }
        if (view.json) std::printf("%s\n", describe_plugin(*d).dump(2).c_str());
        else if (view.schema) std::printf("%s\n", parse_schema(d->options_schema, d->file).dump(2).c_str());
        else print_plugin_page(*d);
        return 0;
      },
      2);
}

int layers_command(const CommonOptions& o, const LayersView& view) {
  return guarded(
      [&] {
        CommonOptions base = o;
        base.overrides.clear();
        ConfigTree tree = load_tree(base);
        if (!view.model.empty()) {
          // Another model than the config's: its own options start empty.
          tree.root["model"] = json{{"plugin", view.model}, {"weights", "random"}, {"options", json::object()}};
        }
        if (!view.weights.empty()) {
          // A file named on the command line is relative to where the command runs, not
          // to the config (which may be the embedded default).
          const bool named_source = view.weights == "random" || view.weights == "imagenet" ||
                                    view.weights.find("://") != std::string::npos;
          const std::string weights =
              named_source ? view.weights : std::filesystem::absolute(view.weights).lexically_normal().string();
          apply_override(tree, "model.weights=" + weights);
        }
        for (const auto& assignment : o.overrides) apply_override(tree, assignment);
        auto registry = make_registry(tree, o);
        Experiment experiment = resolve_experiment(tree);  // validation fills the defaults in
        validate_plugins(experiment, *registry);
        const ModelSummary summary = summarize_model(experiment, *registry, view.size);
        if (view.json) std::printf("%s\n", summary_json(summary).dump(2).c_str());
        else std::fputs(format_summary(summary).c_str(), stdout);
        return 0;
      },
      2);
}

}  // namespace vizrun::app
