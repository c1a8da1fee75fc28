#include "vizrun_host/manifest.h"

#include "vizrun_host/files.h"

namespace vizrun::host {

Manifest::Manifest(std::string path, double min_seconds_between_saves)
    : m_path(std::move(path)), m_interval(min_seconds_between_saves) {}

nlohmann::json Manifest::snapshot() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_data;
}

void Manifest::save() {
  std::lock_guard<std::mutex> lock(m_mutex);
  save_locked();
}

void Manifest::save_soon() {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - m_last_save).count() >= m_interval) save_locked();
}

void Manifest::save_locked() {
  // Strings from outside (file names, plugin records) may not be UTF-8: a dump that
  // threw would leave the run without its record, so bad bytes become U+FFFD.
  write_file_atomic(m_path, m_data.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  m_last_save = std::chrono::steady_clock::now();
}

}  // namespace vizrun::host
