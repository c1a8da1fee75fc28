#include "vizrun_host/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "vizrun_host/files.h"

namespace vizrun::host {

Manifest::Manifest(std::string path, RunRecord start, double min_seconds_between_saves)
    : m_path(std::move(path)), m_interval(min_seconds_between_saves), m_record(std::move(start)) {}

RunRecord Manifest::snapshot() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_record;
}

void Manifest::add_input(const InputRecord& input) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.inputs.push_back(input);
}

void Manifest::add_plugin(const PluginRecord& plugin) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.plugins.push_back(plugin);
}

void Manifest::set_model(const ModelRecord& model) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.model = model;
}

std::size_t Manifest::begin_technique(const TechniqueRecord& technique) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.techniques.push_back(technique);
  m_record.techniques.back().status = "running";
  return m_record.techniques.size() - 1;
}

void Manifest::set_precision(std::size_t technique, const std::string& precision, const std::string& note) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.techniques.at(technique).precision = precision;
  m_record.techniques.at(technique).precision_note = note;
}

void Manifest::add_output(std::size_t technique, const OutputRecord& output) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.techniques.at(technique).outputs.push_back(output);
}

void Manifest::set_record(std::size_t technique, const std::string& key, const nlohmann::json& value) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.techniques.at(technique).records[key] = value;
}

void Manifest::end_technique(std::size_t technique, const std::string& status, const std::string& error,
                             double wall_seconds) {
  std::lock_guard<std::mutex> lock(m_mutex);
  TechniqueRecord& t = m_record.techniques.at(technique);
  t.status = status;
  t.error = error;
  t.wall_seconds = wall_seconds;
}

void Manifest::add_nondeterministic_op(const std::string& what) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.environment.nondeterministic_ops.push_back(what);
}

void Manifest::finish(const std::string& status, const std::string& error) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_record.status = status;
  if (!error.empty()) m_record.error = error;
  m_record.finished_utc = utc_timestamp_iso();
}

void Manifest::save() {
  std::lock_guard<std::mutex> lock(m_mutex);
  save_locked(true);
}

void Manifest::save_soon() {
  std::lock_guard<std::mutex> lock(m_mutex);
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - m_last_save).count() >= m_interval) save_locked(false);
}

void Manifest::save_locked(bool may_use_reserve) {
  const std::string text = m_record.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  try {
    write_file_atomic(m_path, text);
  } catch (const Error&) {
    if (m_reserve.empty() || !may_use_reserve) throw;
    // Most likely the disk is full: give back the reserve and try once more.
    release_reserve_locked();
    write_file_atomic(m_path, text);
  }
  m_last_save = std::chrono::steady_clock::now();
}

std::string Manifest::reserve_file(const std::string& manifest_path) {
  const std::filesystem::path p(manifest_path);
  return (p.parent_path() / ("." + p.filename().string() + ".reserve")).string();
}

void Manifest::reserve_space(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const std::string path = reserve_file(m_path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  ::close(fd);
  if (rc != 0) {
    ::unlink(path.c_str());
    return;
  }
  m_reserve = path;
}

void Manifest::release_reserve() {
  std::lock_guard<std::mutex> lock(m_mutex);
  release_reserve_locked();
}

void Manifest::release_reserve_locked() {
  if (m_reserve.empty()) return;
  ::unlink(m_reserve.c_str());
  m_reserve.clear();
}

}  // namespace vizrun::host
