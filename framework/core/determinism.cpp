#include "vizrun_host/determinism.h"

#include <ATen/Context.h>

namespace vizrun::host {

void set_determinism(bool deterministic) {
  at::globalContext().setDeterministicAlgorithms(deterministic, /*warn_only=*/true);
  at::globalContext().setDeterministicCuDNN(deterministic);
  at::globalContext().setBenchmarkCuDNN(!deterministic);
}

bool NondeterminismRecorder::on_warning(const std::string& message) {
  if (message.find("does not have a deterministic implementation") == std::string::npos) return false;
  const std::string first_line = message.substr(0, message.find('\n'));
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_seen.insert(first_line).second) {
    m_manifest.add_nondeterministic_op(first_line);
    m_logger.write(LogLevel::warning, "not deterministic: " + first_line);
  }
  return true;
}

}  // namespace vizrun::host
