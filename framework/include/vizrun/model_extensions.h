#pragma once
/// \file model_extensions.h
/// Extension interfaces of model backends (the mechanism: vizrun/extension.h), and
/// the SDK's fallbacks for models that lack them. A backend implements one by
/// deriving from it; a technique asks with `vizrun::query<I>(model)` or calls the
/// fallback-providing helper below.
///
/// Adding one: declare it here, following the rules in vizrun/extension.h, append
/// it to `ModelExtensions`, define its destructor in framework/sdk/extensions.cpp,
/// and note it in the SDK history of vizrun/plugin_abi.h.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vizrun/export.h"
#include "vizrun/extension.h"
#include "vizrun/model.h"

namespace vizrun {

/// One channel of a layer per batch item, computed without the rest of the layer
/// (a convolution needs only the selected filters), which makes filter
/// visualisation cheaper. (SDK 1.2; the same contract as the SDK 1.1 slot
/// ModelBackend::forward_channels.)
class VIZRUN_SDK_API ChannelForward {
 public:
  static constexpr char kInterfaceId[] = "vizrun.ChannelForward/1";

  /// Item b of the result ({N, 1, H, W}) is channel `channels[b]` of `layer`'s output
  /// for input item b (`channels`: N int64 indices). Differentiable with respect to
  /// `input`, and equal (to rounding) to `forward` followed by a gather.
  virtual at::Tensor forward_channels(const at::Tensor& input, const std::string& layer, const at::Tensor& channels) = 0;

 protected:
  /// The key function (defined in the SDK library, which thus owns the vtable and
  /// typeinfo); protected: objects are destroyed through their ModelBackend.
  virtual ~ChannelForward();
};

/// A layer as a model summary lists it (as Keras's `summary()` does).
struct LayerDetails {
  std::string name;
  std::string type;
  std::vector<std::int64_t> shape;  ///< output shape without batch, at the size asked for
  std::int64_t parameters = -1;     ///< learnable values and statistics it owns; -1: unknown
  std::vector<std::string> inputs;  ///< names of the layers it reads, "input" for the model's input; empty: unknown
};

/// Per-layer details beyond LayerInfo: parameter counts and connections. (SDK 1.2)
class VIZRUN_SDK_API LayerSummary {
 public:
  static constexpr char kInterfaceId[] = "vizrun.LayerSummary/1";

  /// The layers that run at height x width, in model order (those of
  /// ModelBackend::layers_for), with their details.
  virtual std::vector<LayerDetails> layer_details(std::int64_t height, std::int64_t width) const = 0;

 protected:
  virtual ~LayerSummary();
};

/// Guided backpropagation (Springenberg et al.; captum's GuidedBackprop): a mode in
/// which every ReLU of the model passes back only positive gradients, and only where
/// its input was positive (relu(grad) * (x > 0)). It applies to the autograd graphs of
/// forward calls made while it is on; a backward run later still follows it. (SDK 1.4)
class VIZRUN_SDK_API GuidedRelu {
 public:
  static constexpr char kInterfaceId[] = "vizrun.GuidedRelu/1";

  /// Turns the mode on or off. Throws vizrun::Error (one line naming the backend) when
  /// the backend cannot change its ReLUs' backward.
  virtual void set_guided_relu(bool enabled) = 0;

 protected:
  virtual ~GuidedRelu();
};

/// The SDK's extension interfaces for models. Append only.
using ModelExtensions = ExtensionList<ChannelForward, LayerSummary, GuidedRelu>;

/// `LayerSummary::layer_details` of `model` when it has the interface, otherwise the
/// fallback: `layers_for(height, width)` with parameters and inputs unknown.
VIZRUN_SDK_API std::vector<LayerDetails> layer_details(ModelBackend& model, std::int64_t height, std::int64_t width);

/// `ChannelForward::forward_channels` of `model` when it has the interface, otherwise
/// the fallback: `model.forward(input, {layer})` and a gather of the channels.
VIZRUN_SDK_API at::Tensor forward_channels(ModelBackend& model, const at::Tensor& input, const std::string& layer,
                                           const at::Tensor& channels);

/// The fallback alone: item b of the result is channel `channels[b]` of `activation`
/// ({N, C, H, W}) for item b, as {N, 1, H, W}. Throws vizrun::Error naming `layer` for
/// a non-spatial activation or a count of channels that is not the batch size.
VIZRUN_SDK_API at::Tensor gather_channels(const at::Tensor& activation, const std::string& layer,
                                          const at::Tensor& channels);

}  // namespace vizrun
