#include "test_support.h"

#include <glob.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "vizrun_host/config.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/files.h"
#include "vizrun_host/schema.h"
#include "vizrun_host/image_io.h"

namespace fs = std::filesystem;

namespace vizrun::testing {
namespace {

/// Problems with the manifests that runs wrote under `dir`: each finished manifest.json
/// (status other than running) must match schemas/manifest.schema.json. Files that are
/// not JSON are left alone: some tests damage manifests on purpose.
std::vector<std::string> manifest_problems(const std::string& dir) {
  static const nlohmann::json schema =
      nlohmann::json::parse(host::read_file(std::string(VIZRUN_TEST_SOURCE_DIR) + "/../schemas/manifest.schema.json"));
  std::vector<std::string> problems;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() != "manifest.json" || !it->is_regular_file()) continue;
    const auto m = nlohmann::json::parse(host::read_file(it->path().string()), nullptr, false);
    if (m.is_discarded() || !m.is_object() || m.value("status", "running") == "running") continue;
    if (auto v = host::check(m, schema, "")) problems.push_back(it->path().string() + ": " + v->pointer + ": " + v->message);
  }
  return problems;
}

struct TempDirs {
  std::vector<std::string> dirs;
  ~TempDirs() {
    // Every run a test makes is checked against the manifest schema before its folder goes.
    std::vector<std::string> problems;
    for (const auto& d : dirs) {
      for (auto& p : manifest_problems(d)) problems.push_back(std::move(p));
    }
    if (!std::getenv("VIZRUN_KEEP_TEST_FILES")) {
      for (const auto& d : dirs) {
        std::error_code ec;
        fs::remove_all(d, ec);
      }
    }
    if (!problems.empty()) {
      for (const auto& p : problems) std::fprintf(stderr, "manifest does not match schemas/manifest.schema.json: %s\n", p.c_str());
      std::fflush(stderr);
      std::_Exit(3);  // fails the test that made the run
    }
  }
};

TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}

}  // namespace

TestHost::TestHost(std::string base_dir) : cache(temp_dir("cache")), m_base(std::move(base_dir)) {}

std::string TestHost::resolve_path(const std::string& path) const {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(m_base) / path).lexically_normal().string();
}

std::vector<std::string> TestHost::expand_inputs(const std::vector<std::string>& patterns) const {
  std::vector<std::string> files;
  for (const auto& p : patterns) {
    glob_t g{};
    const std::string full = resolve_path(p);
    if (::glob(full.c_str(), 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    if (files.empty()) throw Error("input '" + p + "' matches no file");
  }
  return files;
}

at::Tensor TestHost::load_image(const std::string& path) const { return host::read_image(resolve_path(path)); }
Value TestHost::read_config(const std::string& path) const { return host::read_config_value(resolve_path(path)); }
std::string TestHost::cache_dir() const { return cache; }
void TestHost::log(LogLevel, const std::string& message) const { logs.push_back(message); }
void TestHost::progress(const std::string&, std::size_t, std::size_t) const { ++progress_calls; }
void TestHost::check_stop() const {
  if (m_stop) throw Interrupted();
}

void MemoryOutput::image(const std::string& name, const at::Tensor& hwc_uint8, const Dict& meta) {
  images.push_back({name, hwc_uint8, meta});
}
void MemoryOutput::array(const std::string& name, const at::Tensor& values, const Dict& meta) {
  arrays.push_back({name, values, meta});
}
void MemoryOutput::record(const std::string& key, const Value& value) { records[key] = value; }

const MemoryOutput::Item* MemoryOutput::find_image(const std::string& name) const {
  for (const auto& item : images) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

std::string build_plugin_dir() { return VIZRUN_BUILD_PLUGIN_DIR; }
std::string test_plugin_dir() { return VIZRUN_TEST_PLUGIN_DIR; }
std::string source_test_dir() { return VIZRUN_TEST_SOURCE_DIR; }

const host::PluginRegistry& registry() {
  static host::PluginRegistry r({build_plugin_dir()});
  return r;
}

Value with_defaults(const std::string& plugin, const Value& options) {
  for (const auto& d : registry().plugins()) {
    if (d.name != plugin) continue;
    nlohmann::json json = host::to_json(options);
    host::fill_defaults(json, host::parse_schema(d.options_schema, d.file));
    return host::to_value(json);
  }
  throw Error("with_defaults: no plugin named " + plugin);
}

std::string temp_dir(const std::string& tag) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::string pattern = (fs::temp_directory_path() / ("vizrun-test-" + tag + "-XXXXXX")).string();
  char* made = ::mkdtemp(pattern.data());
  if (!made) throw Error("cannot create a temporary folder for " + tag);
  temp_dirs().dirs.push_back(made);
  return made;
}

}  // namespace vizrun::testing
