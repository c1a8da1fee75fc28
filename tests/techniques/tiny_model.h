#pragma once
// A test-only model backend: the tiny convnet of tests/oracles/techniques/tiny_net.py
// (conv1 3->8, conv2 8->12, pool1, conv3 12->16, gap, logits 16->5; input x / 255).
#include <ATen/core/Tensor.h>

#include <string>

#include "vizrun/model.h"
#include "vizrun/model_extensions.h"

namespace vizrun::testing {

class TinyNet : public ModelBackend, public GuidedRelu {
 public:
  /// Weights from the fixture folder (tests/fixtures/techniques/tiny_net), or random when
  /// empty, held on `device`.
  explicit TinyNet(const std::string& weights_dir = "", std::uint64_t seed = 0, c10::Device device = c10::kCPU);
  std::vector<LayerInfo> layers() const override;
  std::vector<LayerInfo> layers_for(std::int64_t height, std::int64_t width) const override;
  InputSpec input_spec() const override;
  at::Tensor preprocess(const at::Tensor& rgb255) const override;
  at::Tensor deprocess(const at::Tensor& model_input) const override;
  Activations forward(const at::Tensor& input, const std::vector<std::string>& taps) override;
  std::vector<std::string> class_names() const override;
  std::string output_activation() const override { return "softmax"; }
  std::string logits_layer() const override { return "logits"; }
  std::string last_conv_layer() const override { return "conv3"; }
  c10::Device device() const override { return m_device; }
  WeightsInfo weights_info() const override { return {m_source, "", "", {}}; }
  std::int64_t parameter_count() const override;

  /// Sets a convolution's weights to zero and its bias to `value`: constant channels.
  void make_constant(const std::string& conv, double value);
  /// GuidedRelu: guided backpropagation through the three ReLUs (captum hooks nn.ReLU).
  void set_guided_relu(bool enabled) override { m_guided = enabled; }
  int forward_calls = 0;
  std::string deepest_tap;  ///< deepest layer computed by the last forward
  /// Layer `index` of the net's order (conv1, conv2, pool1, conv3, gap, logits) on the previous one's output.
  at::Tensor stage(std::size_t index, const at::Tensor& x) const;

 private:
  at::Tensor m_w[4], m_b[4];
  std::string m_source;
  c10::Device m_device;
  bool m_guided = false;
};

/// The tiny net with vizrun::LayerReplace, as the graph backend has it (Ablation-CAM's fast path).
class TinyNetReplace final : public TinyNet, public LayerReplace {
 public:
  using TinyNet::TinyNet;
  Activations forward_replaced(const at::Tensor& input, const std::string& layer, const at::Tensor& replacement,
                               const std::vector<std::string>& taps) override;
  int replaced_calls = 0;
};

}  // namespace vizrun::testing
