#pragma once
/// \file manifest.h
/// manifest.json: everything needed to reproduce a run and to check its outputs.
/// It is rewritten atomically as the run advances, so a run killed at any moment
/// leaves a valid manifest (status "running") that lists the files completed
/// up to its last save.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

#include "vizrun_host/run_record.h"

namespace vizrun::host {

/// A run's manifest as it is being written: the record, changed only through the
/// methods below (each under a lock: plugins may emit from several threads), and
/// the file it is saved to.
class Manifest {
 public:
  Manifest(std::string path, RunRecord start, double min_seconds_between_saves = 1.0);

  void add_input(const InputRecord& input);
  void add_plugin(const PluginRecord& plugin);
  void set_model(const ModelRecord& model);
  /// Appends a technique (status running) and returns its index for the calls below.
  std::size_t begin_technique(const TechniqueRecord& technique);
  void set_precision(std::size_t technique, const std::string& precision, const std::string& note);
  void add_output(std::size_t technique, const OutputRecord& output);
  void set_record(std::size_t technique, const std::string& key, const nlohmann::json& value);
  void end_technique(std::size_t technique, const std::string& status, const std::string& error, double wall_seconds);
  /// An operation that ran without a deterministic kernel (LibTorch's first warning line).
  void add_nondeterministic_op(const std::string& what);
  /// The run's final status (and first error), stamped with the time.
  void finish(const std::string& status, const std::string& error);

  RunRecord snapshot() const;

  /// Writes now; if that fails and there is a reserve (see reserve_space), gives it
  /// back and tries once more.
  void save();
  /// Writes unless the last write was less than the interval ago (per-output updates).
  /// Never uses the reserve: it is kept for recording how the run ended.
  void save_soon();

  /// Sets aside `bytes` of disk space (a preallocated hidden file beside the
  /// manifest, best effort) that save() gives back when a write fails, so that a run
  /// that fills the disk can still record that it failed and why.
  void reserve_space(std::size_t bytes);
  /// Removes the reserve (at the end of a run).
  void release_reserve();
  /// Where the reserve of the manifest at `manifest_path` lives.
  static std::string reserve_file(const std::string& manifest_path);
  const std::string& path() const { return m_path; }

 private:
  void save_locked(bool may_use_reserve);
  void release_reserve_locked();
  std::string m_path;
  double m_interval;
  mutable std::mutex m_mutex;
  RunRecord m_record;
  std::chrono::steady_clock::time_point m_last_save{};
  std::string m_reserve;  ///< path of the reserve file, "" when there is none
};

}  // namespace vizrun::host
