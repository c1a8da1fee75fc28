#include "vizrun_host/logger.h"

#include "vizrun_host/files.h"

namespace vizrun::host {

Logger::Logger(ProgressReporter& progress, bool quiet, bool verbose)
    : m_progress(progress), m_quiet(quiet), m_verbose(verbose) {}

void Logger::open(const std::string& path) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_file.open(path, std::ios::app);
}

void Logger::write(LogLevel level, const std::string& message) {
  static const char* const kNames[] = {"debug", "info", "warning"};
  const std::string line = std::string(kNames[static_cast<int>(level)]) + ": " + message;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_file) m_file << utc_timestamp_iso() << " " << line << std::endl;
  }
  const bool show = level == LogLevel::debug ? m_verbose : !m_quiet;
  if (show) m_progress.message("vizrun: " + line);
}

void Logger::error(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_file) m_file << utc_timestamp_iso() << " error: " << message << std::endl;
  }
  m_progress.message("vizrun: error: " + message);
}

}  // namespace vizrun::host
