#pragma once
/// \file determinism.h
/// Bit-identical runs: deterministic algorithms (cuDNN's included) for a run, and a
/// record of the operations that had no deterministic kernel.

#include <mutex>
#include <set>
#include <string>

#include "vizrun_host/logger.h"
#include "vizrun_host/manifest.h"
#include "vizrun_host/torch_compat.h"

namespace vizrun::host {

/// true: deterministic algorithms with warn_only (an operation without a deterministic
/// kernel warns and runs), deterministic cuDNN, no cuDNN benchmarking. false: LibTorch
/// and cuDNN pick the fastest kernels.
void set_determinism(bool deterministic);

/// While alive, LibTorch's "does not have a deterministic implementation" warnings go
/// into the manifest (each operation once) with one log line; other warnings pass on.
class NondeterminismRecorder final : public MessageWarningHandler {
 public:
  NondeterminismRecorder(Manifest& manifest, Logger& logger) : m_manifest(manifest), m_logger(logger) {}
  bool on_warning(const std::string& message) override;

 private:
  Manifest& m_manifest;
  Logger& m_logger;
  std::mutex m_mutex;
  std::set<std::string> m_seen;
};

}  // namespace vizrun::host
