#pragma once
/// \file progress.h
/// Progress of long work on stderr: a bar redrawn in place on a terminal, a plain
/// line every few seconds otherwise (logs of batch jobs stay readable), nothing
/// with -q. Shows what is being done, item i/N, elapsed time and ETA.

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace vizrun::host {

class ProgressReporter {
 public:
  enum class Mode { off, bar, lines };

  /// Picks `bar` when `stream` is a terminal, else `lines`; `off` when quiet.
  static Mode mode_for(std::FILE* stream, bool quiet);

  explicit ProgressReporter(Mode mode, std::FILE* stream = stderr, double line_interval_seconds = 10.0);

  /// Names the technique in front of every line ("gradcam").
  void set_task(const std::string& task);
  void update(const std::string& stage, std::size_t done, std::size_t total);
  /// Prints a message line without mangling a bar being drawn.
  void message(const std::string& line);
  /// Ends a bar line so that later output starts on a fresh line.
  void finish();

  /// "1:05", "12:03:09" for seconds.
  static std::string format_duration(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  std::string render(const std::string& stage, std::size_t done, std::size_t total, bool for_bar) const;

  Mode m_mode;
  std::FILE* m_stream;
  double m_interval;
  std::mutex m_mutex;
  std::string m_task;
  std::string m_stage;
  std::size_t m_last_done = 0;
  Clock::time_point m_stage_start = Clock::now();
  Clock::time_point m_last_print{};
  bool m_bar_open = false;
};

}  // namespace vizrun::host
