#pragma once
/// \file run_host.h
/// The runner's side of vizrun::Host: paths relative to the experiment file, input
/// expansion (globs and folders), image and config reading with every input
/// recorded in the manifest, logging, progress and the stop request.

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "vizrun/host.h"
#include "vizrun_host/logger.h"
#include "vizrun_host/manifest.h"
#include "vizrun_host/progress.h"

namespace vizrun::host {

class RunHost final : public Host {
 public:
  RunHost(std::string base_dir, Logger& logger, ProgressReporter& progress, Manifest& manifest);

  std::string resolve_path(const std::string& path) const override;
  /// A folder means every picture directly in it (see image_extensions), sorted by name.
  std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) const override;
  at::Tensor load_image(const std::string& path) const override;
  Value read_config(const std::string& path) const override;
  std::string cache_dir() const override { return m_cache; }
  void log(LogLevel level, const std::string& message) const override;
  void progress(const std::string& stage, std::size_t done, std::size_t total) const override;
  void expect_stages(std::size_t count) const override;
  void check_stop() const override;

  /// Pictures with more pixels are refused from their header (decompression bombs).
  void set_max_image_pixels(std::int64_t pixels) { m_max_image_pixels = pixels; }

 private:
  /// Lists `path` (with its sha256) among the manifest's inputs, once.
  void record_input(const std::string& path) const;

  std::string m_base;
  Logger& m_logger;
  ProgressReporter& m_progress;
  Manifest& m_manifest;
  std::string m_cache;
  std::int64_t m_max_image_pixels = 100'000'000;
  mutable std::mutex m_mutex;
  mutable std::set<std::string> m_inputs;
};

/// File name extensions taken as pictures when an input names a folder.
const std::vector<std::string>& image_extensions();

/// The cache folder: $VIZRUN_CACHE, $XDG_CACHE_HOME/vizrun, ~/.cache/vizrun, or a temporary one.
std::string default_cache_dir();

}  // namespace vizrun::host
