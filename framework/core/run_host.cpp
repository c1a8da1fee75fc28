#include "vizrun_host/run_host.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "vizrun/error.h"
#include "vizrun_host/config.h"
#include "vizrun_host/files.h"
#include "vizrun_host/image_io.h"
#include "vizrun_host/runner.h"
#include "vizrun_host/supervisor.h"
#include "vizrun_host/text.h"

namespace fs = std::filesystem;

namespace vizrun::host {
namespace {

/// Every picture directly inside `folder` (not in subfolders, not hidden), sorted by name.
std::vector<std::string> images_in_folder(const std::string& folder) {
  std::vector<std::string> images;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name.front() == '.') continue;
    if (std::find(image_extensions().begin(), image_extensions().end(), ext) != image_extensions().end()) {
      images.push_back(entry.path().lexically_normal().string());
    }
  }
  std::sort(images.begin(), images.end());
  return images;
}

/// Existing regular files matching a glob pattern, sorted.
std::vector<std::string> glob_files(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), GLOB_ERR | GLOB_NOCHECK, nullptr, &g);
  std::vector<std::string> matches;
  for (std::size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) {
    if (fs::is_regular_file(g.gl_pathv[i])) matches.emplace_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  std::sort(matches.begin(), matches.end());
  return matches;
}

}  // namespace

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp", ".tif",
                                                       ".tiff", ".webp", ".gif", ".ppm", ".pgm"};
  return kExtensions;
}

std::string default_cache_dir() {
  if (const char* v = std::getenv("VIZRUN_CACHE"); v && *v) return v;
  if (const char* v = std::getenv("XDG_CACHE_HOME"); v && *v) return std::string(v) + "/vizrun";
  if (const char* v = std::getenv("HOME"); v && *v) return std::string(v) + "/.cache/vizrun";
  return (fs::temp_directory_path() / "vizrun-cache").string();
}

RunHost::RunHost(std::string base_dir, Logger& logger, ProgressReporter& progress, Manifest& manifest)
    : m_base(std::move(base_dir)), m_logger(logger), m_progress(progress), m_manifest(manifest),
      m_cache(default_cache_dir()) {}

std::string RunHost::resolve_path(const std::string& path) const {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(m_base) / path).lexically_normal().string();
}

std::vector<std::string> RunHost::expand_inputs(const std::vector<std::string>& patterns) const {
  std::vector<std::string> files;
  for (const auto& pattern : patterns) {
    const std::string full = resolve_path(pattern);
    const bool folder = fs::is_directory(full);
    const auto matches = folder ? images_in_folder(full) : glob_files(full);
    if (matches.empty() && folder) {
      throw Error("input '" + pattern + "' is a folder with no image file (looked for " +
                  join(image_extensions(), ", ") + " in " + full + ")");
    }
    if (matches.empty()) throw Error("input '" + pattern + "' matches no file (looked for " + full + ")");
    files.insert(files.end(), matches.begin(), matches.end());
  }
  return files;
}

at::Tensor RunHost::load_image(const std::string& path) const {
  const std::string full = resolve_path(path);
  at::Tensor image = read_image(full, m_max_image_pixels);
  record_input(full);
  return image;
}

Value RunHost::read_config(const std::string& path) const {
  const std::string full = resolve_path(path);
  Value value = read_config_value(full);
  record_input(full);
  return value;
}

void RunHost::log(LogLevel level, const std::string& message) const { m_logger.write(level, message); }

void RunHost::progress(const std::string& stage, std::size_t done, std::size_t total) const {
  worker::set_stage(stage);
  m_progress.update(stage, done, total);
}

void RunHost::expect_stages(std::size_t count) const { m_progress.expect_stages(count); }

void RunHost::check_stop() const {
  worker::beat();
  if (stop_requested()) throw Interrupted();
}

void RunHost::record_input(const std::string& path) const {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_inputs.insert(path).second) return;
  }
  m_manifest.add_input({path, sha256_file(path)});
}

}  // namespace vizrun::host
