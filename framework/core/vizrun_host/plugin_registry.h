#pragma once
/// \file plugin_registry.h
/// Finds plugin files, checks their handshake and creates plugin objects.
/// Libraries are loaded once and never unloaded while the registry lives; every
/// object handed out also holds its library, so it can safely outlive a lookup.

#include <memory>
#include <string>
#include <vector>

#include "vizrun/error.h"
#include "vizrun/option_check.h"
#include "vizrun/plugin.h"
#include "vizrun_host/plugin_file.h"

namespace vizrun::host {

/// A plugin that passed the handshake.
struct PluginDescriptor {
  std::string name;
  std::string kind;         ///< "model" or "technique"
  std::string version;
  std::string sdk_version;  ///< "major.minor" the plugin was built against
  std::string description;
  std::string fingerprint;
  std::string compiler;
  std::string file;         ///< absolute path of the .vizplugin.so
  std::string options_schema;
  /// Ids of the extension interfaces the plugin declares (VizrunPluginInfo::extensions;
  /// empty for plugins built before SDK 1.2).
  std::vector<std::string> extensions;
};

/// A plugin file that was found but refused, with the one-line reason.
struct RejectedPlugin {
  std::string file;
  std::string reason;
  bool damaged = false;  ///< not a loadable ELF file of this machine (truncated, garbage): never handed to dlopen
  bool missing = false;  ///< a search path entry that does not exist (`file` is the entry)
};

/// Thrown for a file that fails check_plugin_file (plugin_file.h).
class DamagedPlugin : public Error {
 public:
  using Error::Error;
};

class PluginRegistry {
 public:
  /// Scans `directories` in order for `*.vizplugin.so`; the first plugin of a name wins.
  explicit PluginRegistry(std::vector<std::string> directories);
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  /// The default search path: the plugin folder beside the executable
  /// (`<exe>/../lib/vizrun/plugins`, the same in the build and install trees),
  /// then each entry of $VIZRUN_PLUGIN_PATH (colon-separated), then `extra`.
  static std::vector<std::string> default_directories(const std::vector<std::string>& extra = {});

  /// Loads one file and checks its handshake. Throws vizrun::Error with a one-line
  /// message naming the file, what was found and what was expected.
  static PluginDescriptor inspect(const std::string& file);

  const std::vector<PluginDescriptor>& plugins() const;
  const std::vector<RejectedPlugin>& rejected() const;
  /// Throws vizrun::Error listing the available plugins of that kind when absent.
  const PluginDescriptor& find(const std::string& name, const std::string& kind) const;

  /// Objects of plugins built for SDK 1.0 or 1.1 come wrapped (vizrun/extension.h), so
  /// every virtual of this SDK, query_interface included, is safe to call on them.
  std::shared_ptr<ModelBackend> create_model(const std::string& name, const CreateArgs& args) const;
  std::shared_ptr<Technique> create_technique(const std::string& name, const CreateArgs& args) const;
  /// The plugin's deep option check (vizrun/option_check.h), without creating it.
  /// Returns true and fills `problem` when the check found one; false when the options
  /// are fine or the plugin has no check (older plugins, or none declared).
  bool check_options(const std::string& name, const std::string& kind, const CreateArgs& args,
                     OptionProblem& problem) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace vizrun::host
