// vizrun: run experiments that show what convolutional networks learn.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "vizrun_host/build_info.h"

namespace {

/// `vizrun CONFIG` is short for `vizrun run CONFIG`; a bare `vizrun` runs the
/// embedded default experiment.
std::vector<std::string> normalise_arguments(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  static const std::set<std::string> first_words = {"run", "validate", "plugins", "-h", "--help", "--version"};
  if (args.empty() || !first_words.count(args.front())) args.insert(args.begin(), "run");
  return args;
}

void add_common(CLI::App& cmd, vizrun::app::CommonOptions& o, bool config_required) {
  auto* config = cmd.add_option("config", o.config, "Experiment file (YAML)");
  if (config_required) config->required();
  cmd.add_option("--set", o.overrides, "Override a config value: key.path=value (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  cmd.add_option("--plugin-path", o.plugin_paths, "Extra plugin folder or file (repeatable)")->allow_extra_args(false);
  cmd.add_option("--device", o.device, "cpu, cuda or auto (same as --set device=...)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
}

}  // namespace

int main(int argc, char** argv) {
  vizrun::app::CommonOptions run_opts, validate_opts, plugin_opts;
  std::string plugin_name;

  CLI::App app{"vizrun: see what convolutional networks learn.\n"
               "  vizrun [run] CONFIG.yaml   run an experiment (no CONFIG: the built-in demo)\n"
               "  vizrun validate CONFIG     check an experiment without running it\n"
               "  vizrun plugins [NAME]      list plugins, or show one plugin's options\n"
               "Exit codes: 0 success, 1 a run failed, 2 usage or configuration error.",
               "vizrun"};
  app.set_version_flag("--version", std::string("vizrun ") + vizrun::host::build::version + " (" +
                                        vizrun::host::build::git_revision + ", " + vizrun::host::build::fingerprint + ")");
  app.require_subcommand(1);

  auto* run = app.add_subcommand("run", "Run an experiment");
  add_common(*run, run_opts, false);
  run->add_option("--out", run_opts.out, "Run folder to write (default: <output>/<experiment>/<UTC time>)");
  run->add_flag("-q,--quiet", run_opts.quiet, "Print only errors");
  run->add_flag("-v,--verbose", run_opts.verbose, "Print debug messages too");

  auto* validate = app.add_subcommand("validate", "Check an experiment file and its plugin options without running");
  add_common(*validate, validate_opts, true);

  auto* plugins = app.add_subcommand("plugins", "List the plugins found, or show the options of one");
  plugins->add_option("name", plugin_name, "Plugin name");
  plugins->add_option("--plugin-path", plugin_opts.plugin_paths, "Extra plugin folder or file (repeatable)");
  bool print_schema = false;
  plugins->add_flag("--schema", print_schema, "Print the plugin's options JSON Schema (as in schemas/plugins/)");

  std::vector<std::string> args = normalise_arguments(argc, argv);
  std::string command_line = "vizrun";
  for (int i = 1; i < argc; ++i) command_line += std::string(" ") + argv[i];
  run_opts.command_line = validate_opts.command_line = command_line;

  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
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

  if (*run) return vizrun::app::run_command(run_opts);
  if (*validate) return vizrun::app::validate_command(validate_opts);
  return vizrun::app::plugins_command(plugin_opts, plugin_name, print_schema);
}
