#pragma once
/// \file manifest.h
/// manifest.json: everything needed to reproduce a run and to check its outputs.
/// It is rewritten atomically as the run advances, so a run killed at any moment
/// leaves a valid manifest (status "running") that lists the files completed
/// up to its last save.

#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>
#include <string>

namespace vizrun::host {

class Manifest {
 public:
  explicit Manifest(std::string path, double min_seconds_between_saves = 1.0);

  /// Edits under the manifest's lock: `manifest.edit([](json& m) { ... });`
  template <class F>
  void edit(F&& f) {
    std::lock_guard<std::mutex> lock(m_mutex);
    f(m_data);
  }
  nlohmann::json snapshot() const;

  /// Writes now.
  void save();
  /// Writes unless the last write was less than the interval ago (per-output updates).
  void save_soon();
  const std::string& path() const { return m_path; }

 private:
  void save_locked();
  std::string m_path;
  double m_interval;
  mutable std::mutex m_mutex;
  nlohmann::json m_data = nlohmann::json::object();
  std::chrono::steady_clock::time_point m_last_save{};
};

}  // namespace vizrun::host
