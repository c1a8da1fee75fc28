#include "vizrun_host/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace vizrun::host {

ProgressReporter::Mode ProgressReporter::mode_for(std::FILE* stream, bool quiet) {
  if (quiet) return Mode::off;
  return ::isatty(::fileno(stream)) ? Mode::bar : Mode::lines;
}

ProgressReporter::ProgressReporter(Mode mode, std::FILE* stream, double line_interval_seconds)
    : m_mode(mode), m_stream(stream), m_interval(line_interval_seconds) {}

void ProgressReporter::set_task(const std::string& task) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_task = task;
}

void RunProgress::begin_run(std::size_t techniques) {
  m_techniques = techniques;
  m_technique = 0;
}

void RunProgress::begin_technique(std::size_t index) {
  m_technique = index;
  m_stages_expected = 1;
  m_stages_done = 0;
  m_stage_fraction = 0.0;
  m_stage_counted = false;
}

void RunProgress::expect_stages(std::size_t count) { m_stages_expected = std::max<std::size_t>(1, count); }

void RunProgress::new_stage() { m_stage_counted = false; }

void RunProgress::stage_at(std::size_t done, std::size_t total) {
  if (total == 0) return;
  m_stage_fraction = static_cast<double>(done) / static_cast<double>(total);
  if (done == total) {  // a stage is complete once; the next one starts at 0
    if (!m_stage_counted) m_stages_done = std::min(m_stages_done + 1, m_stages_expected);
    m_stage_counted = true;
    m_stage_fraction = 0.0;
  }
}

double RunProgress::fraction() const {
  if (m_techniques == 0) return 0.0;
  const double within = std::min(1.0, (static_cast<double>(m_stages_done) + m_stage_fraction) /
                                          static_cast<double>(m_stages_expected));
  return std::min(1.0, (static_cast<double>(m_technique) + within) / static_cast<double>(m_techniques));
}

void ProgressReporter::begin_run(std::size_t techniques) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_run.begin_run(techniques);
  m_run_start = Clock::now();
}

void ProgressReporter::begin_technique(std::size_t index) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_run.begin_technique(index);
  m_stage.clear();
  m_last_done = 0;
}

void ProgressReporter::expect_stages(std::size_t count) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_run.expect_stages(count);
}

double ProgressReporter::run_fraction() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_run.fraction();
}

std::string ProgressReporter::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string ProgressReporter::render(const std::string& stage, std::size_t done, std::size_t total,
                                     bool for_bar) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - m_stage_start).count();
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : NAN;
  std::string line = m_task.empty() ? "" : "[" + m_task + "] ";
  line += stage + " " + std::to_string(done) + "/" + std::to_string(total);
  if (for_bar && total > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * done / total);
    line += " [" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
  } else if (total > 0) {
    line += " (" + std::to_string(100 * done / total) + "%)";
  }
  line += " elapsed " + format_duration(elapsed);
  if (done < total) line += " ETA " + format_duration(eta);
  if (m_run.started()) {
    // The whole run: elapsed over the fraction done, so early stages' speed predicts the rest.
    const double f = m_run.fraction();
    const double run_elapsed = std::chrono::duration<double>(Clock::now() - m_run_start).count();
    line += " | run " + std::to_string(static_cast<int>(100 * f)) + "%";
    if (f > 0 && f < 1) line += " ETA " + format_duration(run_elapsed * (1 - f) / f);
  }
  return line;
}

void ProgressReporter::update(const std::string& stage, std::size_t done, std::size_t total) {
  if (m_mode == Mode::off) return;
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto now = Clock::now();
  if (stage != m_stage || done < m_last_done) {
    m_stage = stage;
    m_stage_start = now;
    m_run.new_stage();
  }
  m_last_done = done;
  if (done > total) total = done;
  m_run.stage_at(done, total);
  if (m_mode == Mode::bar) {
    std::fprintf(m_stream, "\r\033[2K%s", render(stage, done, total, true).c_str());
    m_bar_open = true;
    if (done == total) {
      std::fputc('\n', m_stream);
      m_bar_open = false;
    }
  } else {
    const double since = std::chrono::duration<double>(now - m_last_print).count();
    if (since < m_interval && done != total) return;
    std::fprintf(m_stream, "vizrun: %s\n", render(stage, done, total, false).c_str());
    m_last_print = now;
  }
  std::fflush(m_stream);
}

void ProgressReporter::message(const std::string& line) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_bar_open) std::fputs("\r\033[2K", m_stream);
  std::fprintf(m_stream, "%s\n", line.c_str());
  m_bar_open = false;
  std::fflush(m_stream);
}

void ProgressReporter::finish() {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_bar_open) std::fputc('\n', m_stream);
  m_bar_open = false;
  std::fflush(m_stream);
}

}  // namespace vizrun::host
