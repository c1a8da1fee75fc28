#pragma once
/// \file model.h
/// The model-backend interface: what every model plugin (VGG16, ResNet50V2, a
/// YAML-declared convnet, ...) offers to techniques.
///
/// Conventions shared by every backend:
/// - tensors are NCHW, float32, on `device()`;
/// - images enter as RGB pixel values in [0, 255] and `preprocess` maps them to
///   the space the network was trained in (Keras "caffe", "tf", x/255, ...);
/// - the classifier's last layer returns *logits*; `output_activation()` says what
///   the original model applies to them (softmax, sigmoid or nothing);
/// - parameters never require gradients and the model is in eval mode, but
///   nothing is detached: a technique may take gradients with respect to the
///   input or to any tapped layer output.

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vizrun/export.h"
#include "vizrun/value.h"

namespace vizrun {

/// One addressable layer, in model order.
struct LayerInfo {
  std::string name;               ///< Keras-style name, e.g. "block3_conv1"
  std::string type;               ///< "conv2d", "max_pool", "dense", "add", ...
  std::vector<std::int64_t> shape;///< output shape without batch: {C, H, W} or {units}
};

/// What the model expects as input.
struct InputSpec {
  std::int64_t channels = 3;
  std::int64_t height = 224;      ///< default / required height
  std::int64_t width = 224;       ///< default / required width
  /// true: the whole network needs height x width (a classifier after a flatten); the
  /// layers before that part still run at any size >= min_size (see layers_for).
  /// false: any size >= min_size is accepted.
  bool fixed_size = true;
  std::int64_t min_size = 32;
};

/// Where the weights came from, for the run manifest.
struct WeightsInfo {
  std::string source;                  ///< "random", a path, or "imagenet"
  std::string file;                    ///< resolved file, empty for random
  std::string sha256;                  ///< of `file`, empty for random
  std::vector<std::string> skipped;    ///< tensors in the file the variant does not use
};

/// Tensors of the requested layers, by layer name.
using Activations = std::map<std::string, at::Tensor>;

class VIZRUN_SDK_API ModelBackend {
 public:
  virtual ~ModelBackend();

  /// Every named layer in forward order, with output shapes for `input_spec()`'s size.
  virtual std::vector<LayerInfo> layers() const = 0;
  /// The layers that run on an input of the given size, with their output shapes: all of
  /// them, or for a fixed-size model at another size those before its classifier.
  virtual std::vector<LayerInfo> layers_for(std::int64_t height, std::int64_t width) const = 0;
  virtual InputSpec input_spec() const = 0;

  /// RGB pixels in [0, 255], NCHW float -> the network's input space.
  virtual at::Tensor preprocess(const at::Tensor& rgb255) const = 0;
  /// Inverse of `preprocess`, for showing an optimised input as a picture.
  virtual at::Tensor deprocess(const at::Tensor& model_input) const = 0;

  /// One forward pass returning the outputs of `taps`. Computation stops at the
  /// last tapped layer: nothing past it runs. Throws vizrun::Error for an
  /// unknown layer name, listing close matches.
  virtual Activations forward(const at::Tensor& input, const std::vector<std::string>& taps) = 0;

  /// Class names of the classifier output, index = class id (empty without a classifier).
  virtual std::vector<std::string> class_names() const = 0;
  /// "softmax", "sigmoid" or "none": what the original model applies to its logits.
  virtual std::string output_activation() const = 0;
  /// Name of the layer whose output is the logits ("" without a classifier).
  virtual std::string logits_layer() const = 0;
  /// The deepest convolutional layer, the usual Grad-CAM target.
  virtual std::string last_conv_layer() const = 0;

  virtual c10::Device device() const = 0;
  virtual WeightsInfo weights_info() const = 0;
  /// Number of parameters (for the manifest and tests against published totals).
  virtual std::int64_t parameter_count() const = 0;

  // --- SDK 1.1. Virtuals are appended here, never above: the vtable only grows at its
  // end, so plugins built for an older minor version keep working.

  /// One channel of `layer` per batch item: item b of the result ({N, 1, H, W}) is
  /// channel `channels[b]` of `layer`'s output for input item b (`channels`: N
  /// int64 indices). Differentiable with respect to `input`, like `forward`.
  /// The default runs `forward` and gathers. (SDK 1.1)
  ///
  /// Kept for plugins built for SDK 1.1, which call this slot directly (the host makes
  /// that safe on 1.0 models with an adapter). New code calls
  /// `vizrun::forward_channels(model, ...)` (vizrun/model_extensions.h), and a backend
  /// that computes only the selected channels derives from `vizrun::ChannelForward`.
  virtual at::Tensor forward_channels(const at::Tensor& input, const std::string& layer, const at::Tensor& channels);

  // --- SDK 1.2: the last virtual ModelBackend gets. Every later capability is an
  // extension interface (vizrun/extension.h), so the vtable never grows again.

  /// The object's implementation of the extension interface with id `id`, or nullptr.
  /// Use `vizrun::query<I>(model)` rather than calling this. The default answers every
  /// interface of `vizrun::ModelExtensions` that the object's class derives from, so
  /// deriving is enough; override only to delegate (a wrapper answering for the model
  /// it wraps), and then fall back to `ModelBackend::query_interface(id)`. (SDK 1.2)
  virtual void* query_interface(std::string_view id);
};

}  // namespace vizrun
