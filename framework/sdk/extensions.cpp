// Extension interfaces (vizrun/extension.h): their key functions, the fallbacks for
// models that lack them, and the adapters that let the host hand plugins built for
// SDK 1.0 and 1.1 to code built for this SDK without calling a slot they lack.
#include <ATen/ATen.h>

#include <utility>

#include "vizrun/error.h"
#include "vizrun/extension.h"
#include "vizrun/model.h"
#include "vizrun/model_extensions.h"
#include "vizrun/technique.h"

namespace vizrun {

ChannelForward::~ChannelForward() = default;
PrecisionSupport::~PrecisionSupport() = default;
ModelCheck::~ModelCheck() = default;
LayerSummary::~LayerSummary() = default;
GuidedRelu::~GuidedRelu() = default;

at::Tensor gather_channels(const at::Tensor& act, const std::string& layer, const at::Tensor& channels) {
  if (act.dim() != 4)
    throw Error("forward_channels: layer " + layer + " has no spatial output (shape rank " + std::to_string(act.dim()) +
                "); choose a convolutional layer");
  if (channels.dim() != 1 || channels.size(0) != act.size(0))
    throw Error("forward_channels: " + std::to_string(channels.numel()) + " channel indices for a batch of " +
                std::to_string(act.size(0)));
  const at::Tensor index = channels.to(act.device(), at::kLong);
  if (index.numel() > 0 && (index.min().item<std::int64_t>() < 0 || index.max().item<std::int64_t>() >= act.size(1)))
    throw Error("forward_channels: channel index out of range for layer " + layer + " (" +
                std::to_string(act.size(1)) + " channels)");
  const at::Tensor rows = at::arange(act.size(0), index.options());
  // act[b, channels[b]] -> {N, H, W} -> {N, 1, H, W}
  return act.index({rows, index}).unsqueeze(1);
}

at::Tensor forward_channels(ModelBackend& model, const at::Tensor& input, const std::string& layer,
                            const at::Tensor& channels) {
  if (ChannelForward* extension = query<ChannelForward>(model)) return extension->forward_channels(input, layer, channels);
  const Activations acts = model.forward(input, {layer});
  return gather_channels(acts.at(layer), layer, channels);
}

namespace detail {
namespace {

/// A model plugin built for SDK `minor` < 1.2, seen through this SDK's full
/// ModelBackend. Every call goes to a slot the plugin's vtable has: the 1.0 ones
/// always, the 1.1 forward_channels only when minor >= 1.
class LegacyModel final : public ModelBackend, public ChannelForward {
 public:
  LegacyModel(std::shared_ptr<ModelBackend> inner, std::uint32_t minor) : m_inner(std::move(inner)), m_minor(minor) {}

  std::vector<LayerInfo> layers() const override { return m_inner->layers(); }
  std::vector<LayerInfo> layers_for(std::int64_t height, std::int64_t width) const override {
    return m_inner->layers_for(height, width);
  }
  InputSpec input_spec() const override { return m_inner->input_spec(); }
  at::Tensor preprocess(const at::Tensor& rgb255) const override { return m_inner->preprocess(rgb255); }
  at::Tensor deprocess(const at::Tensor& model_input) const override { return m_inner->deprocess(model_input); }
  Activations forward(const at::Tensor& input, const std::vector<std::string>& taps) override {
    return m_inner->forward(input, taps);
  }
  std::vector<std::string> class_names() const override { return m_inner->class_names(); }
  std::string output_activation() const override { return m_inner->output_activation(); }
  std::string logits_layer() const override { return m_inner->logits_layer(); }
  std::string last_conv_layer() const override { return m_inner->last_conv_layer(); }
  c10::Device device() const override { return m_inner->device(); }
  WeightsInfo weights_info() const override { return m_inner->weights_info(); }
  std::int64_t parameter_count() const override { return m_inner->parameter_count(); }

  // Overrides both ModelBackend's 1.1 slot (called by techniques built for 1.1) and
  // ChannelForward's (answered below only when the plugin has the 1.1 slot).
  at::Tensor forward_channels(const at::Tensor& input, const std::string& layer, const at::Tensor& channels) override {
    if (m_minor >= 1) return m_inner->forward_channels(input, layer, channels);
    const Activations acts = m_inner->forward(input, {layer});
    return gather_channels(acts.at(layer), layer, channels);
  }

  void* query_interface(std::string_view id) override {
    if (m_minor >= 1 && id == std::string_view(ChannelForward::kInterfaceId)) return static_cast<ChannelForward*>(this);
    return nullptr;  // a plugin built before 1.2 implements no other extension
  }

 private:
  std::shared_ptr<ModelBackend> m_inner;
  std::uint32_t m_minor;
};

/// A technique plugin built for SDK < 1.2: only `run` exists, and no extension.
class LegacyTechnique final : public Technique {
 public:
  explicit LegacyTechnique(std::shared_ptr<Technique> inner) : m_inner(std::move(inner)) {}
  void run(ModelBackend& model, Output& out) override { m_inner->run(model, out); }
  void* query_interface(std::string_view) override { return nullptr; }

 private:
  std::shared_ptr<Technique> m_inner;
};

}  // namespace

std::shared_ptr<ModelBackend> adapt_model(std::shared_ptr<ModelBackend> model, std::uint32_t sdk_minor) {
  if (!model || sdk_minor >= kQueryInterfaceMinor) return model;
  return std::make_shared<LegacyModel>(std::move(model), sdk_minor);
}

std::shared_ptr<Technique> adapt_technique(std::shared_ptr<Technique> technique, std::uint32_t sdk_minor) {
  if (!technique || sdk_minor >= kQueryInterfaceMinor) return technique;
  return std::make_shared<LegacyTechnique>(std::move(technique));
}

}  // namespace detail
std::vector<LayerDetails> layer_details(ModelBackend& model, std::int64_t height, std::int64_t width) {
  if (const auto* summary = query<LayerSummary>(model)) return summary->layer_details(height, width);
  std::vector<LayerDetails> details;
  for (const auto& layer : model.layers_for(height, width)) details.push_back({layer.name, layer.type, layer.shape, -1, {}});
  return details;
}

}  // namespace vizrun
