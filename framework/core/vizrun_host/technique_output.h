#pragma once
/// \file technique_output.h
/// The runner's side of vizrun::Output for one technique: files land in the
/// technique's folder under sanitised names, are written atomically, and are
/// listed in the manifest with their sha256 and the plugin's description.

#include <cstddef>
#include <set>
#include <string>

#include "vizrun/host.h"
#include "vizrun_host/manifest.h"

namespace vizrun::host {

class TechniqueOutput final : public Output {
 public:
  /// `index` is the technique's place in the manifest. `write_error` is set when
  /// writing to the run folder fails, whatever the plugin then does with the exception.
  TechniqueOutput(std::string run_dir, std::string technique_id, std::size_t index, Manifest& manifest,
                  const Host& host, std::string& write_error);

  void image(const std::string& name, const at::Tensor& hwc_uint8, const Dict& meta) override;
  void array(const std::string& name, const at::Tensor& values, const Dict& meta) override;
  void record(const std::string& key, const Value& value) override;

  std::size_t files_written() const { return m_names.size(); }

 private:
  /// The file's path relative to the run folder; two outputs may not share one.
  std::string claim(const std::string& name, const std::string& extension);
  template <class F>
  void writing(F&& write);
  void record_file(const std::string& relative, const char* kind, const Dict& meta);

  std::string m_run_dir;
  std::string m_id;
  std::size_t m_index;
  Manifest& m_manifest;
  const Host& m_host;
  std::string& m_write_error;
  std::set<std::string> m_names;
};

}  // namespace vizrun::host
