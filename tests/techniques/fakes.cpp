#include "fakes.h"

#include <ATen/ATen.h>

#include "npy.h"
#include "vizrun/error.h"

namespace vizrun::testing {

std::string FakeHost::resolve_path(const std::string& path) const {
  if (pictures.count(path) || path.empty() || path[0] == '/') return path;
  return m_base + "/" + path;
}

std::vector<std::string> FakeHost::expand_inputs(const std::vector<std::string>& patterns) const {
  std::vector<std::string> out;
  for (const auto& p : patterns) out.push_back(resolve_path(p));
  return out;
}

at::Tensor FakeHost::load_image(const std::string& path) const {
  auto it = pictures.find(path);
  if (it != pictures.end()) return it->second.clone();
  return read_npy(path).to(at::kFloat);
}

Value FakeHost::read_config(const std::string& path) const {
  throw Error("FakeHost: read_config is not available in technique tests (" + path + ")");
}

void FakeHost::check_stop() const {
  ++stop_checks;
  if (stop_after && stop_checks >= stop_after) throw Interrupted();
}

const KeepOutput::Item* KeepOutput::find_image(const std::string& name) const {
  for (const auto& i : images)
    if (i.name == name) return &i;
  return nullptr;
}

const KeepOutput::Item* KeepOutput::find_array(const std::string& name) const {
  for (const auto& i : arrays)
    if (i.name == name) return &i;
  return nullptr;
}

const KeepOutput::Item* KeepOutput::find_array_of(const std::string& image, const std::string& method) const {
  for (const auto& i : arrays)
    if (i.meta.at("image").as_string() == image && i.meta.at("method").as_string() == method) return &i;
  return nullptr;
}

std::string technique_fixtures() { return VIZRUN_TECHNIQUE_FIXTURES; }

}  // namespace vizrun::testing
