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

/// How far a whole run is: techniques done, and within the current one the stages
/// done (a stage counts once, when it reaches done == total) plus the current
/// stage's fraction. Plain arithmetic, no clock and no lock.
class RunProgress {
 public:
  void begin_run(std::size_t techniques);
  /// Technique `index` (0-based) starts; it has one stage until it says more.
  void begin_technique(std::size_t index);
  void expect_stages(std::size_t count);
  /// A new stage starts (another name, or a counter that went back).
  void new_stage();
  /// The current stage is at `done` of `total`.
  void stage_at(std::size_t done, std::size_t total);
  /// In [0, 1]; 0 before begin_run.
  double fraction() const;
  bool started() const { return m_techniques > 0; }

 private:
  std::size_t m_techniques = 0;
  std::size_t m_technique = 0;
  std::size_t m_stages_expected = 1;
  std::size_t m_stages_done = 0;
  double m_stage_fraction = 0.0;
  bool m_stage_counted = false;  ///< the current stage already counts as done
};

class ProgressReporter {
 public:
  enum class Mode { off, bar, lines };

  /// Picks `bar` when `stream` is a terminal, else `lines`; `off` when quiet.
  static Mode mode_for(std::FILE* stream, bool quiet);

  explicit ProgressReporter(Mode mode, std::FILE* stream = stderr, double line_interval_seconds = 10.0);

  /// Names the technique in front of every line ("gradcam").
  void set_task(const std::string& task);
  /// The whole run is `techniques` techniques; from now on lines also show the run's
  /// progress and ETA, estimated from the techniques and stages done so far.
  void begin_run(std::size_t techniques);
  /// Technique `index` (0-based) of the run starts; it has one stage until it says more.
  void begin_technique(std::size_t index);
  /// The current technique will report `count` stages (Host::expect_stages).
  void expect_stages(std::size_t count);
  /// The run's completed fraction in [0, 1] (0 before begin_run).
  double run_fraction() const;
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
  mutable std::mutex m_mutex;
  std::string m_task;
  std::string m_stage;
  std::size_t m_last_done = 0;
  Clock::time_point m_stage_start = Clock::now();
  Clock::time_point m_last_print{};
  bool m_bar_open = false;
  RunProgress m_run;
  Clock::time_point m_run_start = Clock::now();
};

}  // namespace vizrun::host
