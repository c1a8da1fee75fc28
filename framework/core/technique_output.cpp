#include "vizrun_host/technique_output.h"

#include "vizrun/error.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/files.h"
#include "vizrun_host/image_io.h"

namespace vizrun::host {

TechniqueOutput::TechniqueOutput(std::string run_dir, std::string technique_id, std::size_t index,
                                 Manifest& manifest, const Host& host, std::string& write_error)
    : m_run_dir(std::move(run_dir)), m_id(std::move(technique_id)), m_index(index), m_manifest(manifest),
      m_host(host), m_write_error(write_error) {}

void TechniqueOutput::image(const std::string& name, const at::Tensor& hwc_uint8, const Dict& meta) {
  const std::string relative = claim(name, ".png");
  writing([&] { write_png(m_run_dir + "/" + relative, hwc_uint8); });
  record_file(relative, "image", meta);
}

void TechniqueOutput::array(const std::string& name, const at::Tensor& values, const Dict& meta) {
  const std::string relative = claim(name, ".npy");
  const std::string bytes = encode_npy(values);
  writing([&] { write_file_atomic(m_run_dir + "/" + relative, bytes); });
  record_file(relative, "array", meta);
}

void TechniqueOutput::record(const std::string& key, const Value& value) {
  m_host.check_stop();
  m_manifest.set_record(m_index, key, to_json(value));
  writing([&] { m_manifest.save_soon(); });
}

std::string TechniqueOutput::claim(const std::string& name, const std::string& extension) {
  m_host.check_stop();
  const std::string relative = m_id + "/" + safe_relative_path(name) + extension;
  if (!m_names.insert(relative).second) {
    throw Error("technique '" + m_id + "' wrote two outputs named '" + relative + "'");
  }
  return relative;
}

template <class F>
void TechniqueOutput::writing(F&& write) {
  try {
    write();
  } catch (const WriteError& e) {
    if (m_write_error.empty()) m_write_error = e.what();
    throw;
  }
}

void TechniqueOutput::record_file(const std::string& relative, const char* kind, const Dict& meta) {
  OutputRecord output{relative, kind, sha256_file(m_run_dir + "/" + relative), to_json(Value(meta))};
  m_manifest.add_output(m_index, output);
  writing([&] { m_manifest.save_soon(); });
}

}  // namespace vizrun::host
