#pragma once
/// \file logger.h
/// A run's log: every line goes to the run folder's vizrun.log with a timestamp,
/// and, by level and the -q/-v flags, to the terminal through the progress display.

#include <fstream>
#include <mutex>
#include <string>

#include "vizrun/host.h"
#include "vizrun_host/progress.h"

namespace vizrun::host {

class Logger {
 public:
  Logger(ProgressReporter& progress, bool quiet, bool verbose);
  /// Appends to `path` from now on (before, lines reach only the terminal).
  void open(const std::string& path);
  void write(LogLevel level, const std::string& message);
  /// An error line: always shown, whatever -q says.
  void error(const std::string& message);

 private:
  ProgressReporter& m_progress;
  bool m_quiet, m_verbose;
  std::mutex m_mutex;
  std::ofstream m_file;
};

}  // namespace vizrun::host
