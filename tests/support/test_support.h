#pragma once
/// Test doubles for plugin tests: a Host that resolves paths against a folder and
/// decodes images with the real host code, an Output that keeps everything in
/// memory, and the registry of the build tree's plugins.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "vizrun/plugin.h"
#include "vizrun_host/plugin_registry.h"

namespace vizrun::testing {

class TestHost : public Host {
 public:
  explicit TestHost(std::string base_dir = ".");
  std::string resolve_path(const std::string& path) const override;
  std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) const override;
  at::Tensor load_image(const std::string& path) const override;
  Value read_config(const std::string& path) const override;
  std::string cache_dir() const override;
  void log(LogLevel level, const std::string& message) const override;
  void progress(const std::string& stage, std::size_t done, std::size_t total) const override;
  void check_stop() const override;

  void request_stop() { m_stop = true; }
  mutable std::vector<std::string> logs;
  mutable std::size_t progress_calls = 0;
  std::string cache;  ///< defaults to a fresh temporary folder

 private:
  std::string m_base;
  std::atomic<bool> m_stop{false};
};

class MemoryOutput : public Output {
 public:
  struct Item {
    std::string name;
    at::Tensor data;
    Dict meta;
  };
  void image(const std::string& name, const at::Tensor& hwc_uint8, const Dict& meta) override;
  void array(const std::string& name, const at::Tensor& values, const Dict& meta) override;
  void record(const std::string& key, const Value& value) override;

  const Item* find_image(const std::string& name) const;
  std::vector<Item> images;
  std::vector<Item> arrays;
  Dict records;
};

/// The build tree's plugin folder (lib/vizrun/plugins) and the test-only plugins.
std::string build_plugin_dir();
std::string test_plugin_dir();
/// A registry over the build tree's plugins (shared, loaded once per process).
const host::PluginRegistry& registry();
/// `options` completed with the defaults of the build-tree plugin `plugin`'s schema,
/// as the host does before creating a plugin.
Value with_defaults(const std::string& plugin, const Value& options);
/// Folder of tests/ in the source tree (for fixtures).
std::string source_test_dir();
/// A fresh empty temporary folder, removed at process exit.
std::string temp_dir(const std::string& tag);

}  // namespace vizrun::testing
