// A tiny convnet used by the framework's tests in place of a real backend:
// conv1 (3->4) relu, pool1, conv2 (4->6) relu, gap, logits (6->3). Weights follow
// a closed formula of the seed, so every run and every machine gets the same model.
#include <torch/torch.h>

#include <cmath>

#include "vizrun/plugin.h"

namespace {

constexpr const char* kSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "size": {"type": "integer", "minimum": 4, "default": 16, "description": "Default input height and width."}
  }
})";

torch::Tensor formula_weights(std::vector<int64_t> shape, double phase) {
  auto w = torch::arange(0, c10::multiply_integers(shape), torch::kFloat32);
  return torch::sin(w * 0.37 + phase).mul(0.4).reshape(shape);
}

class TinyModel final : public vizrun::ModelBackend {
 public:
  explicit TinyModel(const vizrun::CreateArgs& args) : m_device(args.device), m_size(args.options.at("size").as_int()) {
    if (args.weights != "random") {
      throw vizrun::Error("tiny_model: weights must be 'random', got '" + args.weights + "'");
    }
    const double phase = static_cast<double>(args.seed % 1000);
    m_w1 = formula_weights({4, 3, 3, 3}, phase).to(m_device);
    m_b1 = formula_weights({4}, phase + 1).to(m_device);
    m_w2 = formula_weights({6, 4, 3, 3}, phase + 2).to(m_device);
    m_b2 = formula_weights({6}, phase + 3).to(m_device);
    m_w3 = formula_weights({3, 6}, phase + 4).to(m_device);
    m_b3 = formula_weights({3}, phase + 5).to(m_device);
  }

  std::vector<vizrun::LayerInfo> layers() const override { return layers_for(m_size, m_size); }
  std::vector<vizrun::LayerInfo> layers_for(int64_t h, int64_t w) const override {
    return {{"conv1", "conv2d", {4, h, w}},
            {"pool1", "max_pool", {4, h / 2, w / 2}},
            {"conv2", "conv2d", {6, h / 2, w / 2}},
            {"gap", "global_avg_pool", {6}},
            {"logits", "dense", {3}}};
  }
  vizrun::InputSpec input_spec() const override { return {3, m_size, m_size, false, 4}; }
  at::Tensor preprocess(const at::Tensor& rgb255) const override { return rgb255 / 255.0; }
  at::Tensor deprocess(const at::Tensor& x) const override { return x * 255.0; }

  vizrun::Activations forward(const at::Tensor& input, const std::vector<std::string>& taps) override {
    const auto table = layers();
    std::size_t last = 0;
    for (const auto& tap : taps) {
      auto it = std::find_if(table.begin(), table.end(), [&](const auto& l) { return l.name == tap; });
      if (it == table.end()) throw vizrun::Error("tiny_model: unknown layer '" + tap + "'");
      last = std::max(last, static_cast<std::size_t>(it - table.begin()));
    }
    vizrun::Activations out;
    auto keep = [&](const char* name, const torch::Tensor& t) {
      if (std::find(taps.begin(), taps.end(), name) != taps.end()) out[name] = t;
    };
    auto x = torch::relu(torch::conv2d(input, m_w1, m_b1, 1, 1));
    keep("conv1", x);
    if (last == 0) return out;
    x = torch::max_pool2d(x, 2, 2);
    keep("pool1", x);
    if (last == 1) return out;
    x = torch::relu(torch::conv2d(x, m_w2, m_b2, 1, 1));
    keep("conv2", x);
    if (last == 2) return out;
    x = x.mean({2, 3});
    keep("gap", x);
    if (last == 3) return out;
    keep("logits", torch::linear(x, m_w3, m_b3));
    return out;
  }

  std::vector<std::string> class_names() const override { return {"circle", "square", "triangle"}; }
  std::string output_activation() const override { return "softmax"; }
  std::string logits_layer() const override { return "logits"; }
  std::string last_conv_layer() const override { return "conv2"; }
  c10::Device device() const override { return m_device; }
  vizrun::WeightsInfo weights_info() const override { return {"random", "", "", {}}; }
  int64_t parameter_count() const override { return 4 * 27 + 4 + 6 * 36 + 6 + 18 + 3; }

 private:
  c10::Device m_device;
  int64_t m_size;
  torch::Tensor m_w1, m_b1, m_w2, m_b2, m_w3, m_b3;
};

}  // namespace

VIZRUN_PLUGIN(TinyModel, "tiny_model", "1.0.0", "Test-only tiny convnet with formula weights", kSchema)
