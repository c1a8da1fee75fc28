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
  bool fixed_size = true;         ///< false: any size >= min_size is accepted
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
  /// Output shapes of every layer for an input of the given size.
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
};

}  // namespace vizrun
