#include "commands.h"

#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "vizrun_host/build_info.h"
#include "vizrun_host/config.h"
#include "vizrun_host/embedded.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/plugin_registry.h"
#include "vizrun_host/runner.h"
#include "vizrun_host/schema.h"

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

ConfigTree load_tree(const CommonOptions& o) {
  ConfigTree tree;
  if (o.config.empty()) {
    if (std::string(embedded::default_config).empty()) {
      throw ConfigError("no experiment file given, and this build has no built-in default experiment");
    }
    const std::string dir = default_config_dir();
    tree = parse_config(embedded::default_config, dir + "/" + embedded::default_config_name, dir);
  } else {
    tree = load_config_file(o.config);
  }
  for (const auto& assignment : o.overrides) apply_override(tree, assignment);
  if (!o.device.empty()) apply_override(tree, "device=" + o.device);
  return tree;
}

struct Prepared {
  Experiment experiment;
  std::unique_ptr<PluginRegistry> registry;
};

Prepared prepare(const CommonOptions& o) {
  Prepared p{resolve_experiment(load_tree(o)), nullptr};
  std::vector<std::string> extra = p.experiment.plugin_path;
  extra.insert(extra.end(), o.plugin_paths.begin(), o.plugin_paths.end());
  p.registry = std::make_unique<PluginRegistry>(PluginRegistry::default_directories(extra));
  validate_plugins(p.experiment, *p.registry);
  return p;
}

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
    if (p.value("type", "") == "object") print_options(p, name + ".");
  }
}

}  // namespace

int run_command(const CommonOptions& o) {
  try {
    Prepared p = prepare(o);
    RunSettings settings;
    settings.run_dir = o.out;
    settings.quiet = o.quiet;
    settings.verbose = o.verbose;
    settings.overrides = o.overrides;
    if (!o.device.empty()) settings.overrides.push_back("device=" + o.device);
    settings.command_line = o.command_line;
    install_stop_handlers();
    RunResult result = run_experiment(p.experiment, *p.registry, settings);
    if (result.exit_code != 0) {
      std::fprintf(stderr, "vizrun: run %s; see %s/manifest.json\n", result.status.c_str(), result.run_dir.c_str());
    } else if (!o.quiet) {
      std::fprintf(stderr, "vizrun: done: %s\n", result.run_dir.c_str());
    }
    return result.exit_code;
  } catch (const ConfigError& e) {
    print_error(e.what());
    return 2;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  }
}

int validate_command(const CommonOptions& o) {
  try {
    Prepared p = prepare(o);
    std::printf("%s: valid (model %s, %zu technique%s)\n", p.experiment.tree.file.c_str(),
                p.experiment.model.plugin.c_str(), p.experiment.techniques.size(),
                p.experiment.techniques.size() == 1 ? "" : "s");
    return 0;
  } catch (const ConfigError& e) {
    print_error(e.what());
    return 2;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 2;
  }
}

int plugins_command(const CommonOptions& o, const std::string& name, bool print_schema) {
  PluginRegistry registry(PluginRegistry::default_directories(o.plugin_paths));
  if (name.empty()) {
    std::printf("%-16s %-10s %-8s %-4s %s\n", "NAME", "KIND", "VERSION", "SDK", "FILE");
    for (const auto& d : registry.plugins()) {
      std::printf("%-16s %-10s %-8s %-4s %s\n", d.name.c_str(), d.kind.c_str(), d.version.c_str(),
                  d.sdk_version.c_str(), d.file.c_str());
    }
    for (const auto& r : registry.rejected()) std::fprintf(stderr, "vizrun: warning: skipped %s\n", r.reason.c_str());
    return 0;
  }
  const PluginDescriptor* d = nullptr;
  for (const auto& candidate : registry.plugins()) {
    if (candidate.name == name) d = &candidate;
  }
  if (!d) {
    std::vector<std::string> names;
    for (const auto& candidate : registry.plugins()) names.push_back(candidate.name);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    print_error("unknown plugin '" + name + "'; available: " + (list.empty() ? "none found" : list));
    return 2;
  }
  if (print_schema) {
    std::printf("%s\n", parse_schema(d->options_schema, d->file).dump(2).c_str());
    return 0;
  }
  std::printf("%s %s (%s plugin, SDK %s)\n%s\nfile: %s\nbuilt with: %s, %s\n\noptions:\n", d->name.c_str(),
              d->version.c_str(), d->kind.c_str(), d->sdk_version.c_str(), d->description.c_str(), d->file.c_str(),
              d->fingerprint.c_str(), d->compiler.c_str());
  print_options(parse_schema(d->options_schema, d->file), "");
  return 0;
}

}  // namespace vizrun::app
