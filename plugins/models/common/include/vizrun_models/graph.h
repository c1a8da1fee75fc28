#pragma once
/// \file graph.h
/// A graph of named layers in Keras order, evaluated functionally with LibTorch.
/// Each backend describes its architecture with the builder calls below; the graph
/// owns the parameters (allocated at build time and filled in place by the weight
/// loaders), infers output shapes, and runs forward passes that return any set of
/// named layer outputs while computing nothing past the last one requested.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vizrun/model.h"
#include "vizrun/model_extensions.h"

namespace vizrun::models {

using Shape = std::vector<std::int64_t>;

/// The most values one parameter tensor may hold (2^31 float32: 8 GiB).
constexpr std::int64_t kMaxParamValues = std::int64_t{1} << 31;

/// What a layer computes.
enum class OpKind {
  conv2d,           ///< Conv2D with optional bias and fused activation
  dense,            ///< Dense with optional bias and fused activation
  max_pool,
  avg_pool,
  zero_pad,         ///< ZeroPadding2D
  batch_norm,       ///< inference BatchNormalization with running statistics
  activation,       ///< a standalone Activation layer
  dropout,          ///< identity at inference
  flatten,          ///< NCHW -> N x (C*H*W), C,H,W order (Keras H,W,C rows are reordered at load)
  global_avg_pool,
  global_max_pool,
  add,
  separable_conv2d, ///< SeparableConv2D: depthwise kernel, then a 1x1 pointwise kernel, bias, activation
  crop,             ///< Cropping2D (amounts in pad_*)
  concat,           ///< Concatenate along channels
  subtract,         ///< first input minus the second
  multiply,         ///< element-wise product (Keras broadcasting: equal ranks, sizes equal or 1)
  average,
  maximum,
  rescale,          ///< x * scale + offset (scalars or one value per channel)
  normalize,        ///< (x - mean) / max(sqrt(variance), 1e-7), Keras Normalization
  reshape,          ///< Keras Reshape: in Keras (H, W, C) order, to a rank-1 or rank-3 target
  identity,         ///< the graph input or a nested model's output under its own name
  prelu,            ///< x or alpha * x below 0; alpha's LibTorch shape is attrs.target ({C, H', W'} or {C})
  layer_norm,       ///< LayerNormalization over the channels of each position
  conv2d_transpose, ///< Conv2DTranspose with TensorFlow's output sizes
  resize,           ///< Resizing to attrs.target {height, width}
};

/// "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus", "swish"/"silu", "gelu" or "linear".
using Activation = std::string;

/// Attributes of a layer; which ones matter depends on the kind.
struct OpAttrs {
  std::int64_t filters = 0;          ///< conv2d output channels / dense units
  std::int64_t kernel_h = 1, kernel_w = 1;  ///< conv kernel or pool window
  std::int64_t stride_h = 1, stride_w = 1;
  std::string padding = "valid";     ///< "valid" or "same" (TensorFlow rule: extra row/col at bottom/right)
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;  ///< zero_pad
  bool use_bias = true;
  Activation activation = "linear";
  double epsilon = 1e-3;             ///< batch_norm
  double rate = 0.0;                 ///< dropout (unused at inference)
  std::int64_t dilation_h = 1, dilation_w = 1;  ///< conv2d, separable_conv2d
  std::int64_t groups = 1;           ///< conv2d: groups (in channels for a depthwise convolution)
  std::int64_t depth_multiplier = 1; ///< separable_conv2d
  bool center = true, scale = true;  ///< batch_norm: beta / gamma present
  bool keepdims = false;             ///< global pools: keep 1x1 spatial dimensions
  /// activation node parameters (Keras ReLU, LeakyReLU, ELU layers): relu uses
  /// max_value (< 0: none), threshold and alpha as the negative slope;
  /// leaky_relu and elu use alpha.
  double alpha = 0.0, max_value = -1.0, threshold = 0.0;
  std::vector<double> scale_values{1.0}, offset_values{0.0};  ///< rescale
  Shape target;                      ///< reshape: target shape in Keras order, without batch; prelu, resize: see OpKind
  std::string interpolation = "bilinear";  ///< resize: "bilinear" or "nearest"
};

/// One learnable tensor (or BatchNorm statistic) of a layer.
struct ParamSpec {
  std::string layer;     ///< Keras layer name
  std::string keras_var; ///< "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"
  std::string torch_name;///< PyTorch-style key, e.g. "block1_conv1.weight", "post_bn.running_var"
  Shape shape;           ///< LibTorch shape (OIHW, (out, in), (C))
  /// For a Dense kernel fed by a flattened {C, H, W} map: that shape. Keras stores
  /// such kernels with rows in H,W,C order; the loader reorders them to C,H,W.
  Shape flattened_from;
  bool is_buffer = false;///< BatchNorm running statistics (not trainable in Keras)
  at::Tensor tensor;     ///< the storage the model computes with
  /// A copy in autocast's low precision, made on first use under autocast (see
  /// Graph::compute_param). Empty until then.
  mutable at::Tensor autocast_copy;
};

struct Node {
  std::string name;
  OpKind kind;
  std::vector<int> inputs;  ///< indices of earlier nodes; -1 is the graph input
  OpAttrs attrs;
  std::vector<int> params;  ///< indices into Graph::params(), in Keras weight order
  Shape shape;              ///< output shape (no batch) for the build-time input size
  std::string type;         ///< the type layers() reports; empty: the kind's name
};

class Graph {
 public:
  /// `input_shape` is {C, H, W} for the size the graph is built for.
  explicit Graph(Shape input_shape);

  // --- builders: each returns the new node's index; `input` -1 means the graph input.
  int conv2d(const std::string& name, int input, std::int64_t filters, std::int64_t kernel_h,
             std::int64_t kernel_w, std::int64_t stride, const std::string& padding, bool use_bias,
             const Activation& activation = "linear");
  int dense(const std::string& name, int input, std::int64_t units, bool use_bias = true,
            const Activation& activation = "linear");
  int max_pool(const std::string& name, int input, std::int64_t pool, std::int64_t stride,
               const std::string& padding = "valid");
  int avg_pool(const std::string& name, int input, std::int64_t pool, std::int64_t stride,
               const std::string& padding = "valid");
  int zero_pad(const std::string& name, int input, std::int64_t top, std::int64_t bottom,
               std::int64_t left, std::int64_t right);
  int batch_norm(const std::string& name, int input, double epsilon);
  int activation(const std::string& name, int input, const Activation& activation);
  int dropout(const std::string& name, int input, double rate);
  int flatten(const std::string& name, int input);
  int global_avg_pool(const std::string& name, int input);
  int global_max_pool(const std::string& name, int input);
  int add(const std::string& name, const std::vector<int>& inputs);
  /// Any kind with its attributes: the parameters the kind needs are allocated from
  /// the attributes and the input shapes. `type` is what layers() reports (empty: the
  /// kind's name), e.g. a Keras class name.
  int layer(const std::string& name, OpKind kind, const std::vector<int>& inputs, const OpAttrs& attrs,
            const std::string& type = "");

  /// Index of the most recently added node (the default input of the next one).
  int last() const { return static_cast<int>(m_nodes.size()) - 1; }

  const std::vector<Node>& nodes() const { return m_nodes; }
  std::vector<Node>& nodes() { return m_nodes; }
  const std::vector<ParamSpec>& params() const { return m_params; }
  std::vector<ParamSpec>& params() { return m_params; }
  const Shape& input_shape() const { return m_input_shape; }

  /// Node index by name, or -1.
  int find(const std::string& name) const;
  /// Node index by name; throws vizrun::Error listing close matches.
  int require(const std::string& name) const;

  /// Layers in order with their shapes for the build-time input size.
  std::vector<LayerInfo> layers() const;
  /// The layers that can run on another input size, with their shapes: all of them, or
  /// those before the first dense layer whose fixed fan-in the size does not fit (a
  /// classifier after a flatten). Throws when the size is too small for some layer.
  std::vector<LayerInfo> layers_for(std::int64_t height, std::int64_t width) const;

  /// layers_for with each layer's parameter count and the names of the layers it reads.
  std::vector<LayerDetails> layer_details(std::int64_t height, std::int64_t width) const;

  /// Total number of values in all parameters and statistics (Keras "Total params").
  std::int64_t parameter_count() const;

  /// Runs the graph on `input` (N, C, H, W, already preprocessed) and returns the
  /// outputs of `taps`. Nodes past the last tap, and nodes no tap depends on, are
  /// never computed; intermediate tensors are released as soon as possible.
  /// `standard_layout_taps` false leaves taps in the layout they were computed in
  /// (channels-last on CPU), for a caller that feeds them to a convolution itself.
  Activations forward(const at::Tensor& input, const std::vector<std::string>& taps,
                      bool standard_layout_taps = true) const;
  /// `forward` with the output of `layer` replaced by `replacement` (k times the
  /// input's items; see vizrun::LayerReplace): what only `layer` reads is not computed,
  /// branches that do not depend on it are repeated k times where they join it.
  Activations forward_replaced(const at::Tensor& input, const std::string& layer, const at::Tensor& replacement,
                               const std::vector<std::string>& taps) const;

  /// Moves every parameter to `device`, disables gradients (all tensors become leaves).
  /// With `channels_last`, conv kernels and the input use the NHWC memory layout
  /// (still NCHW-indexed tensors), which oneDNN convolutions prefer on CPU. With
  /// `fold_layers`, a convolution read only by an inference BatchNorm runs as one
  /// convolution with the BatchNorm folded into its kernels and bias, and a symmetric
  /// zero padding read only by a "valid" convolution becomes that convolution's own
  /// padding (the same function up to float rounding; every layer stays tappable, and a
  /// tapped layer is computed as itself).
  void finalize(const c10::Device& device, bool channels_last = false, bool fold_layers = false);

  /// Convolution node `n` applied to `x` with the given kernel and bias, with its
  /// padding rule ("same" as TensorFlow pads) but without its activation. `pad_h`/`pad_w`:
  /// a folded zero padding in front of a "valid" convolution.
  static at::Tensor convolve(const Node& n, at::Tensor x, const at::Tensor& weight, const at::Tensor& bias,
                             std::int64_t pad_h = 0, std::int64_t pad_w = 0);
  /// A Keras activation by name (throws vizrun::Error for an unknown one).
  static at::Tensor activate(const at::Tensor& x, const Activation& activation);
  /// An activation node's function, with its parameters (max_value, alpha, threshold).
  static at::Tensor activate(const at::Tensor& x, const OpAttrs& attrs);
  bool channels_last() const { return m_channels_last; }

 private:
  /// The forward pass; node `replaced` (>= 0) takes `replacement` as its output.
  Activations run(const at::Tensor& input, const std::vector<std::string>& taps, bool standard_layout_taps,
                  int replaced, const at::Tensor& replacement) const;
  int push(Node node);
  /// The parameters a node of its kind computes with, in Keras weight order.
  void add_params_for(int index, const Shape& in);
  /// Throws vizrun::Error naming the layer when an attribute is out of range (a
  /// window or stride below 1 would divide by zero in the shape rules).
  static void check_attrs(const Node& node);
  /// The output shape of node `input` (-1: the graph input), or an Error naming layer
  /// `name` when no such node exists yet. The reference lives in m_nodes: it is only
  /// valid until the next push().
  const Shape& input_shape_of(const std::string& name, int input) const;
  int add_param(int node, const std::string& keras_var, const std::string& torch_suffix, Shape shape,
                bool is_buffer = false);
  Shape infer(const Node& node, const std::vector<Shape>& in) const;
  /// The parameter a convolution or dense layer computes with: under autocast, a
  /// low-precision copy kept across calls (not thread-safe: one forward at a time).
  const at::Tensor& compute_param(int index) const;
  /// `tensor` itself, or under autocast its low-precision copy kept in `copy`.
  static const at::Tensor& for_autocast(const at::Tensor& tensor, at::Tensor& copy);
  /// Convolution node `n` on `x` with the given kernel and bias: padding and activation.

  /// A convolution folded into the BatchNorm that alone reads it.
  struct Folded {
    int conv = -1;
    at::Tensor weight, bias;
    mutable at::Tensor weight_copy, bias_copy;  ///< autocast copies
  };
  std::map<int, Folded> m_folded;  ///< by BatchNorm node index
  std::vector<int> m_folds_into;   ///< per node: the node it is folded into, or -1

  Shape m_input_shape;
  std::vector<Node> m_nodes;
  std::vector<ParamSpec> m_params;
  std::map<std::string, int> m_index;
  bool m_channels_last = false;
};

/// While alive, the ReLUs of Graph::forward on this thread (activation "relu", plain)
/// get guided backpropagation's backward (vizrun::GuidedRelu); restores the previous mode.
class GuidedReluMode {
 public:
  explicit GuidedReluMode(bool enabled);
  ~GuidedReluMode();
  GuidedReluMode(const GuidedReluMode&) = delete;
  GuidedReluMode& operator=(const GuidedReluMode&) = delete;

 private:
  bool m_previous;
};

/// "a, b, c" from a list.
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");
/// "(3, 3, 64, 128)".
std::string shape_string(const Shape& shape);

}  // namespace vizrun::models
