// vizrun: run experiments that show what convolutional networks learn.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <regex>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "vizrun_host/build_info.h"

namespace {

constexpr const char* kDescription =
    "vizrun: see what convolutional networks learn.\n"
    "  vizrun [run] CONFIG.yaml    run an experiment or a sweep (no CONFIG: the built-in demo)\n"
    "  vizrun validate CONFIG      check an experiment (every job of a sweep) without running\n"
    "  vizrun plan CONFIG          list the jobs of a sweep\n"
    "  vizrun merge SWEEP_DIR      collect a sweep's jobs into one manifest and report\n"
    "  vizrun slurm CONFIG         write (and --submit) a SLURM job array for a sweep\n"
    "  vizrun plugins [NAME]       list plugins, or show one plugin's options\n"
    "  vizrun layers [CONFIG]      list the model's layers: names, shapes, parameters\n"
    "Runs are written to ./runs/<experiment>/<UTC time>/ under the current directory, unless the\n"
    "config's `output:` names another folder (relative to the current directory) or --out names the run folder.\n"
    "Exit codes: 0 success, 1 a run failed or a sweep is incomplete, 2 usage or configuration error.";

/// `vizrun CONFIG` is short for `vizrun run CONFIG`; a bare `vizrun` runs the
/// embedded default experiment.
std::vector<std::string> normalise_arguments(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  static const std::set<std::string> first_words = {"run", "validate", "plan", "merge", "slurm", "plugins", "layers",
                                                    "-h", "--help", "--version"};
  if (args.empty() || !first_words.count(args.front())) args.insert(args.begin(), "run");
  return args;
}

/// An empty path would silently mean the current folder (or nothing at all).
const CLI::Validator kNonEmptyPath(
    [](std::string& v) { return v.empty() ? std::string("expected a path, got an empty string") : std::string(); },
    "PATH");

void add_config_options(CLI::App& cmd, vizrun::app::CommonOptions& o, bool config_required) {
  auto* config = cmd.add_option("config", o.config, "Experiment file (YAML) or sweep folder")->check(kNonEmptyPath);
  if (config_required) config->required();
  cmd.add_option("--set", o.overrides, "Override a config value: key.path=value (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  cmd.add_option("--sweep", o.sweeps, "Sweep a config value: key.path=v1,v2,... (repeatable; cartesian product)")
      ->type_name("KEY=V1,V2")
      ->allow_extra_args(false);
  cmd.add_option("--plugin-path", o.plugin_paths, "Extra plugin folder or file (repeatable)")
      ->check(kNonEmptyPath)
      ->allow_extra_args(false);
  cmd.add_option("--device", o.device, "cpu, cuda, cuda:N or auto (same as --set device=...)")
      ->check(CLI::Validator(
          [](std::string& v) {
            return v == "cpu" || v == "cuda" || v == "auto" || std::regex_match(v, std::regex("cuda:[0-9]{1,2}"))
                       ? std::string()
                       : "expected cpu, cuda, cuda:N or auto, got '" + v + "'";
          },
          "DEVICE"));
  cmd.add_option("--stall-timeout", o.stall_timeout,
                 "Stop a run whose worker shows no progress for this long, recorded as crashed (hung); "
                 "0 never (default 1800; same as --set stall_timeout=...)")
      ->type_name("SECONDS")
      ->check(CLI::NonNegativeNumber);
}

void add_shard_options(CLI::App& cmd, vizrun::app::CommonOptions& o) {
  cmd.add_option("--shard", o.shard, "Run slice K of N of a sweep (0 <= K < N); default from SLURM_ARRAY_TASK_ID")
      ->type_name("K/N");
  cmd.add_option("--shard-count", o.shard_count, "Number of slices, with JOB_COMPLETION_INDEX (Kubernetes)");
}

}  // namespace

int main(int argc, char** argv) {
  vizrun::app::CommonOptions run_o, validate_o, plan_o, merge_o, slurm_o, plugin_o, layers_o;
  vizrun::app::LayersView layers_view;
  vizrun::host::SlurmOptions slurm;
  vizrun::app::PluginsView plugins_view;
  bool submit = false;

  CLI::App app{kDescription, "vizrun"};
  app.set_version_flag("--version", std::string("vizrun ") + vizrun::host::build::version + " (" +
                                        vizrun::host::build::git_revision + ", " + vizrun::host::build::fingerprint + ")");
  app.require_subcommand(1);

  auto* run = app.add_subcommand("run", "Run an experiment, or the jobs of a sweep");
  add_config_options(*run, run_o, false);
  add_shard_options(*run, run_o);
  run->add_option("--out", run_o.out, "Run folder (default ./runs/<experiment>/<UTC time>), or sweep folder")
      ->check(kNonEmptyPath);
  run->add_flag("-q,--quiet", run_o.quiet, "Print only errors");
  run->add_flag("-v,--verbose", run_o.verbose, "Print debug messages too");

  auto* validate = app.add_subcommand("validate", "Check an experiment and its plugin options without running");
  add_config_options(*validate, validate_o, true);

  auto* plan = app.add_subcommand("plan", "Print the jobs of a sweep (id, status, overrides) without running");
  add_config_options(*plan, plan_o, true);
  add_shard_options(*plan, plan_o);
  plan->add_option("--out", plan_o.out, "Sweep folder")->check(kNonEmptyPath);

  auto* merge = app.add_subcommand("merge", "Write a sweep's manifest and report; exit 1 if any job is not complete");
  merge->add_option("sweep_dir", merge_o.config, "Sweep folder")->required()->check(kNonEmptyPath);
  merge->add_option("--plugin-path", merge_o.plugin_paths, "Extra plugin folder or file (repeatable)")->check(kNonEmptyPath);

  auto* sl = app.add_subcommand("slurm", "Write an sbatch script running a sweep as one job array");
  add_config_options(*sl, slurm_o, true);
  sl->add_option("--out", slurm_o.out, "Sweep folder")->check(kNonEmptyPath);
  sl->add_option("--partition", slurm.partition, "SLURM partition");
  sl->add_option("--time", slurm.time, "Time limit per task, e.g. 2:00:00");
  sl->add_option("--gpus", slurm.gpus, "GPUs per task");
  sl->add_option("--cpus", slurm.cpus, "CPUs per task");
  sl->add_option("--tasks", slurm.tasks, "Array tasks (default: one per job)");
  sl->add_option("--array-parallelism", slurm.parallelism, "At most this many tasks at once (%M)");
  sl->add_flag("--submit", submit, "Submit the script with sbatch");

  auto* plugins = app.add_subcommand("plugins", "List the plugins found, or show the options of one");
  plugins->add_option("name", plugins_view.name, "Plugin name");
  plugins->add_option("--plugin-path", plugin_o.plugin_paths, "Extra plugin folder or file (repeatable)")->check(kNonEmptyPath);
  plugins->add_flag("--schema", plugins_view.schema, "Print the plugin's options JSON Schema (as in schemas/plugins/)");
  plugins->add_flag("--json", plugins_view.json, "Print the list, or the plugin with its schema, as JSON (for scripts)");

  auto* layers = app.add_subcommand("layers", "List the model's layers (name, type, output shape, parameters, inputs)");
  layers->add_option("config", layers_o.config, "Experiment file (YAML); none: the built-in demo");
  layers->add_option("--model", layers_view.model, "This model plugin instead of the config's (weights random)");
  layers->add_option("--weights", layers_view.weights, "Weights to load (same as --set model.weights=...)")
      ->check(kNonEmptyPath);
  layers->add_option("--size", layers_view.size, "Shapes at SIZE x SIZE instead of the model's input size")
      ->check(CLI::Range(1, 4096));
  layers->add_option("--set", layers_o.overrides, "Override a config value: key.path=value (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  layers->add_option("--plugin-path", layers_o.plugin_paths, "Extra plugin folder or file (repeatable)")
      ->check(kNonEmptyPath)
      ->allow_extra_args(false);
  layers->add_flag("--json", layers_view.json, "Print the summary as JSON (for scripts)");

  std::vector<std::string> args = normalise_arguments(argc, argv);
  std::string command_line = "vizrun";
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  for (auto* o : {&run_o, &validate_o, &plan_o, &merge_o, &slurm_o}) o->command_line = command_line;

  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "vizrun: error: %s (see vizrun --help)\n", e.what());
    return 2;
  }

  if (*run) return vizrun::app::run_command(run_o);
  if (*validate) return vizrun::app::validate_command(validate_o);
  if (*plan) return vizrun::app::plan_command(plan_o);
  if (*merge) return vizrun::app::merge_command(merge_o);
  if (*sl) return vizrun::app::slurm_command(slurm_o, slurm, submit);
  if (*layers) return vizrun::app::layers_command(layers_o, layers_view);
  return vizrun::app::plugins_command(plugin_o, plugins_view);
}
