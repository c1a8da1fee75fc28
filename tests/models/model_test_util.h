#pragma once
/// Helpers for the model backend tests: plugin loading through the C entry point,
/// a minimal Host, the closed-form weights shared with tests/oracles/models, and
/// comparison with the oracle fixtures.

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vizrun/plugin.h"
#include "vizrun_models/graph.h"
#include "vizrun_models/keras_h5_writer.h"

namespace vizrun::models::testing {

/// A Host that resolves paths against a folder, logs into a vector and counts progress calls.
class SimpleHost : public Host {
 public:
  explicit SimpleHost(std::string base = ".");
  std::string resolve_path(const std::string& path) const override;
  std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) const override;
  at::Tensor load_image(const std::string& path) const override;
  Value read_config(const std::string& path) const override;
  std::string cache_dir() const override { return cache; }
  void log(LogLevel level, const std::string& message) const override;
  void progress(const std::string& stage, std::size_t done, std::size_t total) const override;
  void check_stop() const override;

  std::string cache;
  mutable std::vector<std::string> logs;
  mutable std::size_t progress_calls = 0;
  mutable std::size_t last_done = 0, last_total = 0;
  bool stop = false;

 private:
  std::string m_base;
};

/// The options schema a plugin declares, parsed.
nlohmann::json plugin_schema(const std::string& plugin);
/// Creates a model plugin from the build tree: options are completed with the
/// schema's defaults, as the host does. `device`: where its weights and tensors live.
std::shared_ptr<ModelBackend> create_model(const std::string& plugin, const Value& options,
                                           const std::string& weights, const Host* host = nullptr,
                                           std::uint64_t seed = 0, c10::Device device = c10::kCPU);

/// Closed-form values of the p-th weight tensor (Keras layout) for `role`
/// ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"), float32.
std::vector<float> formula(int p, const Shape& keras_shape, const std::string& role);
/// The oracle input: pixels in [0, 255] as a 1 x 3 x H x W float tensor (NCHW).
at::Tensor formula_pixels(std::int64_t height, std::int64_t width);

/// A layer list for write_keras_h5_layers built from an oracle *_h5_layout.json:
/// Keras' own names and shapes, formula values. `keras1_names` renames every
/// dataset to Keras-1 style `<layer>_W_1:0` / `<layer>_b_1:0`.
std::vector<H5OutLayer> layout_with_formula(const nlohmann::json& layout, bool keras1_names = false);

std::string fixture_path(const std::string& name);
nlohmann::json read_json(const std::string& path);
std::string temp_dir(const std::string& tag);

/// Sets an environment variable for as long as it lives, then puts back the old value
/// (or unsets it), also when a check throws.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string m_name;
  std::optional<std::string> m_old;
};

/// Largest |ours - reference| over the sampled values of a fixture layer, divided
/// by the reference's largest magnitude. Checks the shape (NCHW without batch) too.
double relative_error(const nlohmann::json& layer, const at::Tensor& ours);

Value value_from_json(const nlohmann::json& j);
/// A YAML (or JSON) file as a Value, the way the host reads configs.
Value value_from_yaml_file(const std::string& path);

}  // namespace vizrun::models::testing
