#include "vizrun_models/graph.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

#include "vizrun/error.h"
#include "vizrun/suggest.h"
#include "vizrun_host/torch_compat.h"  // autocast's API differs between LibTorch 1.13 and 2.x

namespace vizrun::models {

namespace {

/// Guided backpropagation for the forward passes of this thread (GuidedReluMode).
thread_local bool t_guided_relu = false;

/// relu(x); under guided backpropagation its output's gradient is clamped at 0 first,
/// so relu's own backward then yields relu(grad) * (x > 0), as captum's hook on nn.ReLU.
at::Tensor guided_aware_relu(const at::Tensor& x) {
  at::Tensor y = torch::relu(x);
  if (t_guided_relu && y.requires_grad()) y.register_hook([](const at::Tensor& grad) { return grad.clamp_min(0); });
  return y;
}

/// The window a dilated kernel covers.
std::int64_t dilated(std::int64_t k, std::int64_t d) { return d * (k - 1) + 1; }

std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, const std::string& padding) {
  if (padding == "same") return (in + s - 1) / s;
  if (in < k) return 0;
  return (in - k) / s + 1;
}

/// Keras' output length of a transposed convolution (no output_padding): the input
/// times the stride, plus what of the window reaches past the last stride.
std::int64_t transposed_size(std::int64_t in, std::int64_t k, std::int64_t s, const std::string& padding) {
  if (padding == "same") return in * s;
  return in * s + std::max<std::int64_t>(k - s, 0);
}

/// TensorFlow's "same" rule: total padding split with the extra pixel at the end.
std::pair<std::int64_t, std::int64_t> same_pads(std::int64_t in, std::int64_t k, std::int64_t s,
                                                std::int64_t dilation = 1) {
  k = dilated(k, dilation);
  std::int64_t out = (in + s - 1) / s;
  std::int64_t total = std::max<std::int64_t>((out - 1) * s + k - in, 0);
  return {total / 2, total - total / 2};
}

at::Tensor apply_activation(const at::Tensor& x, const Activation& a) {
  if (a == "linear" || a.empty()) return x;
  if (a == "relu") return guided_aware_relu(x);
  if (a == "sigmoid") return torch::sigmoid(x);
  if (a == "softmax") return torch::softmax(x, 1);
  if (a == "tanh") return torch::tanh(x);
  if (a == "elu") return torch::elu(x);
  if (a == "selu") return torch::selu(x);
  if (a == "softplus") return torch::softplus(x);
  if (a == "swish" || a == "silu") return torch::silu(x);
  if (a == "gelu") return torch::gelu(x);
  if (a == "relu6") return torch::clamp(x, 0.0, 6.0);
  // Keras 3's hard_sigmoid (relu6(x + 3) / 6) and hard_swish / hard_silu (x * that).
  if (a == "hard_sigmoid") return torch::clamp(x + 3.0, 0.0, 6.0) / 6.0;
  // Keras 1 and 2 (tf.keras) called 0.2 x + 0.5, clipped to [0, 1], hard_sigmoid.
  if (a == "keras2_hard_sigmoid") return torch::clamp(0.2 * x + 0.5, 0.0, 1.0);
  if (a == "hard_swish" || a == "hard_silu") return x * (torch::clamp(x + 3.0, 0.0, 6.0) / 6.0);
  if (a == "leaky_relu") return torch::leaky_relu(x, 0.2);  // Keras' default negative slope
  if (a == "softsign") return torch::nn::functional::softsign(x);
  if (a == "exponential") return torch::exp(x);
  if (a == "mish") return torch::mish(x);
  throw Error("unknown activation '" + a +
              "'; expected relu, relu6, sigmoid, hard_sigmoid, keras2_hard_sigmoid, softmax, tanh, elu, selu, softplus, softsign, swish, "
              "silu, hard_swish, hard_silu, gelu, leaky_relu, mish, exponential or linear");
}

const char* kind_name(OpKind k) {
  switch (k) {
    case OpKind::conv2d: return "conv2d";
    case OpKind::dense: return "dense";
    case OpKind::max_pool: return "max_pool";
    case OpKind::avg_pool: return "avg_pool";
    case OpKind::zero_pad: return "zero_pad";
    case OpKind::batch_norm: return "batch_norm";
    case OpKind::activation: return "activation";
    case OpKind::dropout: return "dropout";
    case OpKind::flatten: return "flatten";
    case OpKind::global_avg_pool: return "global_avg_pool";
    case OpKind::global_max_pool: return "global_max_pool";
    case OpKind::add: return "add";
    case OpKind::separable_conv2d: return "separable_conv2d";
    case OpKind::crop: return "crop";
    case OpKind::concat: return "concat";
    case OpKind::subtract: return "subtract";
    case OpKind::multiply: return "multiply";
    case OpKind::average: return "average";
    case OpKind::maximum: return "maximum";
    case OpKind::rescale: return "rescale";
    case OpKind::normalize: return "normalize";
    case OpKind::reshape: return "reshape";
    case OpKind::identity: return "identity";
    case OpKind::prelu: return "prelu";
    case OpKind::layer_norm: return "layer_norm";
    case OpKind::conv2d_transpose: return "conv2d_transpose";
    case OpKind::resize: return "resize";
  }
  return "?";
}

}  // namespace

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

std::string shape_string(const Shape& shape) {
  std::ostringstream s;
  s << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ")";
  return s.str();
}

Graph::Graph(Shape input_shape) : m_input_shape(std::move(input_shape)) {
  if (m_input_shape.size() != 3) throw Error("graph input shape must be {C, H, W}");
}

void Graph::check_attrs(const Node& n) {
  const OpAttrs& a = n.attrs;
  auto fail = [&](const std::string& why) {
    throw Error("layer '" + n.name + "' (" + kind_name(n.kind) + "): " + why);
  };
  auto at_least = [&](const char* what, std::int64_t value, std::int64_t min) {
    if (value < min) fail(std::string(what) + " must be at least " + std::to_string(min) + ", got " + std::to_string(value));
  };
  switch (n.kind) {
    case OpKind::resize:
      if (a.target.size() != 2) fail("the target size must be {height, width}");
      for (auto d : a.target) at_least("target size", d, 1);
      if (a.interpolation != "bilinear" && a.interpolation != "nearest")
        fail("interpolation must be bilinear or nearest, got '" + a.interpolation + "'");
      break;
    case OpKind::layer_norm:
      if (!(a.epsilon > 0) || !std::isfinite(a.epsilon)) fail("epsilon must be a positive number");
      break;
    case OpKind::conv2d:
    case OpKind::separable_conv2d:
    case OpKind::conv2d_transpose:
      at_least("filters", a.filters, 1);
      at_least("dilation", a.dilation_h, 1);
      at_least("dilation", a.dilation_w, 1);
      at_least("groups", a.groups, 1);
      at_least("depth multiplier", a.depth_multiplier, 1);
      [[fallthrough]];
    case OpKind::max_pool:
    case OpKind::avg_pool:
      at_least(n.kind == OpKind::max_pool || n.kind == OpKind::avg_pool ? "pool height" : "kernel height", a.kernel_h, 1);
      at_least(n.kind == OpKind::max_pool || n.kind == OpKind::avg_pool ? "pool width" : "kernel width", a.kernel_w, 1);
      at_least("stride", a.stride_h, 1);
      at_least("stride", a.stride_w, 1);
      if (a.padding != "valid" && a.padding != "same") fail("padding must be valid or same, got '" + a.padding + "'");
      break;
    case OpKind::dense:
      at_least("units", a.filters, 1);
      break;
    case OpKind::zero_pad:
    case OpKind::crop:
      for (std::int64_t p : {a.pad_top, a.pad_bottom, a.pad_left, a.pad_right}) at_least("padding", p, 0);
      break;
    case OpKind::rescale:
      if (a.scale_values.empty() || a.offset_values.empty()) fail("scale and offset need at least one value");
      break;
    case OpKind::reshape:
      if (a.target.size() != 1 && a.target.size() != 3) fail("the target shape must have 1 or 3 dimensions");
      for (auto d : a.target) at_least("target size", d, 1);
      break;
    case OpKind::batch_norm:
      if (!(a.epsilon > 0) || !std::isfinite(a.epsilon)) fail("epsilon must be a positive number");
      break;
    default:
      break;
  }
}

const Shape& Graph::input_shape_of(const std::string& name, int input) const {
  if (input >= static_cast<int>(m_nodes.size()) || input < -1)
    throw Error("layer '" + name + "' refers to a layer that does not exist yet");
  const Shape& s = input < 0 ? m_input_shape : m_nodes[static_cast<std::size_t>(input)].shape;
  if (s.empty()) throw Error("layer '" + name + "' has an input without a shape");
  return s;
}

int Graph::push(Node node) {
  if (m_index.count(node.name)) throw Error("duplicate layer name '" + node.name + "'");
  if (node.name.empty()) throw Error("a layer needs a name");
  check_attrs(node);
  std::vector<Shape> in;
  for (int i : node.inputs) {
    if (i >= static_cast<int>(m_nodes.size()) || i < -1)
      throw Error("layer '" + node.name + "' refers to a layer that does not exist yet");
    in.push_back(i < 0 ? m_input_shape : m_nodes[i].shape);
  }
  node.shape = infer(node, in);
  int index = static_cast<int>(m_nodes.size());
  m_index[node.name] = index;
  m_nodes.push_back(std::move(node));
  return index;
}

int Graph::add_param(int node, const std::string& keras_var, const std::string& torch_suffix, Shape shape,
                     bool is_buffer) {
  // Refuse before allocating: a declared architecture can ask for any size.
  double values = 1;
  for (auto d : shape) values *= static_cast<double>(d);
  if (values > static_cast<double>(kMaxParamValues)) {
    char count[32];
    std::snprintf(count, sizeof count, "%.3g", values);
    throw Error("layer '" + m_nodes[node].name + "': its " + keras_var + " " + shape_string(shape) + " would hold " +
                count + " values; at most " + std::to_string(kMaxParamValues) + " (8 GiB of float32) are supported");
  }
  ParamSpec p;
  p.layer = m_nodes[node].name;
  p.keras_var = keras_var;
  p.torch_name = p.layer + "." + torch_suffix;
  p.shape = shape;
  p.is_buffer = is_buffer;
  // Uninitialised: the loaders write every value exactly once, so no page is touched twice.
  p.tensor = torch::empty(shape, torch::kFloat32);
  int index = static_cast<int>(m_params.size());
  m_params.push_back(std::move(p));
  m_nodes[node].params.push_back(index);
  return index;
}

Shape Graph::infer(const Node& n, const std::vector<Shape>& in) const {
  auto fail = [&](const std::string& why) -> Error {
    return Error("layer '" + n.name + "' (" + kind_name(n.kind) + "): " + why);
  };
  auto need4 = [&](const Shape& s) {
    if (s.size() != 3) throw fail("expects a {C, H, W} feature map, got " + shape_string(s));
  };
  const OpAttrs& a = n.attrs;
  switch (n.kind) {
    case OpKind::conv2d:
    case OpKind::separable_conv2d:
    case OpKind::max_pool:
    case OpKind::avg_pool: {
      need4(in[0]);
      const bool pool = n.kind == OpKind::max_pool || n.kind == OpKind::avg_pool;
      const std::int64_t kh = pool ? a.kernel_h : dilated(a.kernel_h, a.dilation_h);
      const std::int64_t kw = pool ? a.kernel_w : dilated(a.kernel_w, a.dilation_w);
      std::int64_t h = out_size(in[0][1], kh, a.stride_h, a.padding);
      std::int64_t w = out_size(in[0][2], kw, a.stride_w, a.padding);
      if (h <= 0 || w <= 0)
        throw fail("input " + std::to_string(in[0][1]) + "x" + std::to_string(in[0][2]) +
                   " is smaller than the window " + std::to_string(kh) + "x" + std::to_string(kw));
      if (n.kind == OpKind::conv2d && (in[0][0] % a.groups || a.filters % a.groups))
        throw fail(std::to_string(in[0][0]) + " input channels and " + std::to_string(a.filters) +
                   " filters must both be multiples of groups = " + std::to_string(a.groups));
      return {pool ? in[0][0] : a.filters, h, w};
    }
    case OpKind::conv2d_transpose: {
      need4(in[0]);
      return {a.filters, transposed_size(in[0][1], dilated(a.kernel_h, a.dilation_h), a.stride_h, a.padding),
              transposed_size(in[0][2], dilated(a.kernel_w, a.dilation_w), a.stride_w, a.padding)};
    }
    case OpKind::resize:
      need4(in[0]);
      return {in[0][0], a.target[0], a.target[1]};
    case OpKind::prelu:
      if (a.target.size() != in[0].size()) throw fail("alpha " + shape_string(a.target) + " does not fit the input " + shape_string(in[0]));
      for (std::size_t d = 0; d < a.target.size(); ++d)
        if (a.target[d] != in[0][d] && a.target[d] != 1)
          throw fail("alpha " + shape_string(a.target) + " does not fit the input " + shape_string(in[0]));
      return in[0];
    case OpKind::layer_norm:
      return in[0];
    case OpKind::crop: {
      need4(in[0]);
      const std::int64_t h = in[0][1] - a.pad_top - a.pad_bottom, w = in[0][2] - a.pad_left - a.pad_right;
      if (h <= 0 || w <= 0)
        throw fail("cropping leaves nothing of a " + std::to_string(in[0][1]) + "x" + std::to_string(in[0][2]) + " input");
      return {in[0][0], h, w};
    }
    case OpKind::concat: {
      Shape out = in[0];
      for (std::size_t k = 1; k < in.size(); ++k) {
        const bool same_rest = in[k].size() == out.size() && std::equal(in[k].begin() + 1, in[k].end(), out.begin() + 1);
        if (!same_rest)
          throw fail("inputs " + shape_string(in[0]) + " and " + shape_string(in[k]) +
                     " differ in more than the channel count");
        out[0] += in[k][0];
      }
      return out;
    }
    case OpKind::subtract:
    case OpKind::multiply:
    case OpKind::average:
    case OpKind::maximum: {
      // Keras broadcasting between equal ranks: each size equal, or 1 on one side.
      Shape out = in[0];
      for (const auto& s : in) {
        if (s.size() != out.size()) throw fail("inputs " + shape_string(in[0]) + " and " + shape_string(s) + " differ in rank");
        for (std::size_t d = 0; d < s.size(); ++d) {
          if (s[d] != out[d] && s[d] != 1 && out[d] != 1)
            throw fail("inputs have shapes " + shape_string(in[0]) + " and " + shape_string(s) + " that do not broadcast");
          out[d] = std::max(out[d], s[d]);
        }
      }
      return out;
    }
    case OpKind::rescale:
      for (const auto* v : {&a.scale_values, &a.offset_values})
        if (v->size() != 1 && static_cast<std::int64_t>(v->size()) != in[0].at(0))
          throw fail(std::to_string(v->size()) + " scale or offset values for " + std::to_string(in[0].at(0)) + " channels");
      return in[0];
    case OpKind::reshape: {
      std::int64_t from = 1, to = 1;
      for (auto d : in[0]) from *= d;
      for (auto d : a.target) to *= d;
      if (from != to) throw fail("cannot reshape " + shape_string(in[0]) + " (" + std::to_string(from) + " values) to " +
                                 shape_string(a.target) + " (Keras order)");
      if (a.target.size() == 1) return a.target;
      return {a.target[2], a.target[0], a.target[1]};
    }
    case OpKind::normalize:
    case OpKind::identity:
      return in[0];
    case OpKind::zero_pad:
      need4(in[0]);
      return {in[0][0], in[0][1] + a.pad_top + a.pad_bottom, in[0][2] + a.pad_left + a.pad_right};
    case OpKind::dense:
      if (in[0].size() != 1) throw fail("expects a flat input, got " + shape_string(in[0]) + " (add a flatten layer)");
      return {a.filters};
    case OpKind::flatten: {
      std::int64_t total = 1;
      for (auto d : in[0]) {
        if (d > 0 && total > std::numeric_limits<std::int64_t>::max() / d) throw fail("the flattened size overflows");
        total *= d;
      }
      return {total};
    }
    case OpKind::global_avg_pool:
    case OpKind::global_max_pool:
      need4(in[0]);
      if (a.keepdims) return {in[0][0], 1, 1};
      return {in[0][0]};
    case OpKind::add:
      if (in.size() < 2) throw fail("needs at least two inputs");
      for (const auto& s : in)
        if (s != in[0]) throw fail("inputs have different shapes " + shape_string(in[0]) + " and " + shape_string(s));
      return in[0];
    case OpKind::batch_norm:
    case OpKind::activation:
    case OpKind::dropout:
      return in[0];
  }
  return in[0];
}

int Graph::conv2d(const std::string& name, int input, std::int64_t filters, std::int64_t kernel_h,
                  std::int64_t kernel_w, std::int64_t stride, const std::string& padding, bool use_bias,
                  const Activation& activation) {
  OpAttrs a;
  a.filters = filters;
  a.kernel_h = kernel_h;
  a.kernel_w = kernel_w;
  a.stride_h = a.stride_w = stride;
  a.padding = padding;
  a.use_bias = use_bias;
  a.activation = activation;
  return layer(name, OpKind::conv2d, {input}, a);
}

int Graph::dense(const std::string& name, int input, std::int64_t units, bool use_bias,
                 const Activation& activation) {
  OpAttrs a;
  a.filters = units;
  a.use_bias = use_bias;
  a.activation = activation;
  return layer(name, OpKind::dense, {input}, a);
}

int Graph::layer(const std::string& name, OpKind kind, const std::vector<int>& inputs, const OpAttrs& attrs,
                 const std::string& type) {
  const bool fused_activation = kind == OpKind::conv2d || kind == OpKind::separable_conv2d ||
                                kind == OpKind::conv2d_transpose || kind == OpKind::dense;
  if (fused_activation || kind == OpKind::activation)
    apply_activation(torch::zeros({1, 1}), attrs.activation);  // validates the name (softmax needs a dim 1)
  if (inputs.empty()) throw Error("layer '" + name + "' needs an input");
  if (kind == OpKind::subtract && inputs.size() != 2) throw Error("subtract layer '" + name + "' needs exactly two inputs");
  // A copy: push() may reallocate m_nodes, and the input's shape is read after it.
  const Shape in = input_shape_of(name, inputs[0]);
  Node n{name, kind, inputs, attrs, {}, {}, type};
  const int index = push(std::move(n));
  add_params_for(index, in);
  return index;
}

void Graph::add_params_for(int index, const Shape& in) {
  const Node& n = m_nodes[static_cast<std::size_t>(index)];
  const OpAttrs a = n.attrs;
  switch (n.kind) {
    case OpKind::conv2d:
      add_param(index, "kernel", "weight", {a.filters, in.at(0) / a.groups, a.kernel_h, a.kernel_w});
      if (a.use_bias) add_param(index, "bias", "bias", {a.filters});
      break;
    case OpKind::separable_conv2d: {
      const std::int64_t mid = in.at(0) * a.depth_multiplier;
      add_param(index, "depthwise_kernel", "depthwise.weight", {mid, 1, a.kernel_h, a.kernel_w});
      add_param(index, "pointwise_kernel", "pointwise.weight", {a.filters, mid, 1, 1});
      if (a.use_bias) add_param(index, "bias", "bias", {a.filters});
      break;
    }
    case OpKind::dense: {
      // Keras stores the kernel of a Dense that follows Flatten with rows in H,W,C order.
      Shape flattened_from;
      for (int j = n.inputs[0]; j >= 0;) {
        const Node& up = m_nodes[static_cast<std::size_t>(j)];
        if (up.kind == OpKind::flatten) {
          int src = up.inputs[0];
          const Shape& s = src < 0 ? m_input_shape : m_nodes[static_cast<std::size_t>(src)].shape;
          if (s.size() == 3) flattened_from = s;
          break;
        }
        if (up.kind != OpKind::dropout && up.kind != OpKind::activation && up.kind != OpKind::identity) break;
        j = up.inputs[0];
      }
      int k = add_param(index, "kernel", "weight", {a.filters, in.at(0)});
      m_params[static_cast<std::size_t>(k)].flattened_from = flattened_from;
      if (a.use_bias) add_param(index, "bias", "bias", {a.filters});
      break;
    }
    case OpKind::batch_norm: {
      const std::int64_t c = in.at(0);
      if (a.scale) add_param(index, "gamma", "weight", {c});
      if (a.center) add_param(index, "beta", "bias", {c});
      add_param(index, "moving_mean", "running_mean", {c}, true);
      add_param(index, "moving_variance", "running_var", {c}, true);
      break;
    }
    case OpKind::conv2d_transpose:
      add_param(index, "kernel", "weight", {in.at(0), a.filters, a.kernel_h, a.kernel_w});
      if (a.use_bias) add_param(index, "bias", "bias", {a.filters});
      break;
    case OpKind::prelu:
      add_param(index, "alpha", "weight", a.target);
      break;
    case OpKind::layer_norm:
      if (a.scale) add_param(index, "gamma", "weight", {in.at(0)});
      if (a.center) add_param(index, "beta", "bias", {in.at(0)});
      break;
    case OpKind::normalize:
      add_param(index, "mean", "mean", {in.at(0)}, true);
      add_param(index, "variance", "variance", {in.at(0)}, true);
      break;
    default:
      break;
  }
}

int Graph::max_pool(const std::string& name, int input, std::int64_t pool, std::int64_t stride,
                    const std::string& padding) {
  Node n{name, OpKind::max_pool, {input}, {}, {}, {}};
  n.attrs.kernel_h = n.attrs.kernel_w = pool;
  n.attrs.stride_h = n.attrs.stride_w = stride;
  n.attrs.padding = padding;
  return push(std::move(n));
}

int Graph::avg_pool(const std::string& name, int input, std::int64_t pool, std::int64_t stride,
                    const std::string& padding) {
  Node n{name, OpKind::avg_pool, {input}, {}, {}, {}};
  n.attrs.kernel_h = n.attrs.kernel_w = pool;
  n.attrs.stride_h = n.attrs.stride_w = stride;
  n.attrs.padding = padding;
  return push(std::move(n));
}

int Graph::zero_pad(const std::string& name, int input, std::int64_t top, std::int64_t bottom, std::int64_t left,
                    std::int64_t right) {
  Node n{name, OpKind::zero_pad, {input}, {}, {}, {}};
  n.attrs.pad_top = top;
  n.attrs.pad_bottom = bottom;
  n.attrs.pad_left = left;
  n.attrs.pad_right = right;
  return push(std::move(n));
}

int Graph::batch_norm(const std::string& name, int input, double epsilon) {
  OpAttrs a;
  a.epsilon = epsilon;
  return layer(name, OpKind::batch_norm, {input}, a);
}

int Graph::activation(const std::string& name, int input, const Activation& activation) {
  Node n{name, OpKind::activation, {input}, {}, {}, {}};
  n.attrs.activation = activation;
  apply_activation(torch::zeros({1, 1}), activation);
  return push(std::move(n));
}

int Graph::dropout(const std::string& name, int input, double rate) {
  Node n{name, OpKind::dropout, {input}, {}, {}, {}};
  n.attrs.rate = rate;
  return push(std::move(n));
}

int Graph::flatten(const std::string& name, int input) {
  return push(Node{name, OpKind::flatten, {input}, {}, {}, {}});
}

int Graph::global_avg_pool(const std::string& name, int input) {
  return push(Node{name, OpKind::global_avg_pool, {input}, {}, {}, {}});
}

int Graph::global_max_pool(const std::string& name, int input) {
  return push(Node{name, OpKind::global_max_pool, {input}, {}, {}, {}});
}

int Graph::add(const std::string& name, const std::vector<int>& inputs) {
  if (inputs.size() < 2) throw Error("add layer '" + name + "' needs at least two inputs");
  return push(Node{name, OpKind::add, inputs, {}, {}, {}});
}

int Graph::find(const std::string& name) const {
  auto it = m_index.find(name);
  return it == m_index.end() ? -1 : it->second;
}

int Graph::require(const std::string& name) const {
  int i = find(name);
  if (i >= 0) return i;
  std::vector<std::string> names;
  for (const auto& n : m_nodes) names.push_back(n.name);
  const std::string suggestion = did_you_mean(name, names);
  std::string msg = "unknown layer '" + name + "'";
  if (!suggestion.empty())
    msg += "; " + suggestion;
  else
    msg += "; layers are " + (names.size() > 12 ? join({names.begin(), names.begin() + 6}) + ", ..., " +
                                                      join({names.end() - 3, names.end()})
                                                : join(names));
  throw Error(msg);
}

std::vector<LayerInfo> Graph::layers() const {
  std::vector<LayerInfo> out;
  out.reserve(m_nodes.size());
  for (const auto& n : m_nodes) out.push_back({n.name, n.type.empty() ? kind_name(n.kind) : n.type, n.shape});
  return out;
}

std::vector<LayerInfo> Graph::layers_for(std::int64_t height, std::int64_t width) const {
  Shape input{m_input_shape[0], height, width};
  std::vector<Shape> shapes;
  std::vector<LayerInfo> out;
  for (const auto& n : m_nodes) {
    std::vector<Shape> in;
    for (int i : n.inputs) in.push_back(i < 0 ? input : shapes[i]);
    // A dense layer's fan-in is fixed: at another size it, and all after it, cannot run.
    if (n.kind == OpKind::dense && in[0][0] != m_params[n.params[0]].shape[1]) break;
    shapes.push_back(infer(n, in));
    const Shape& s = shapes.back();
    out.push_back({n.name, n.type.empty() ? kind_name(n.kind) : n.type, s});
  }
  return out;
}

std::vector<LayerDetails> Graph::layer_details(std::int64_t height, std::int64_t width) const {
  std::vector<LayerDetails> details;
  for (const auto& layer : layers_for(height, width)) {
    const Node& n = m_nodes[find(layer.name)];
    std::int64_t parameters = 0;
    for (int p : n.params) {
      std::int64_t values = 1;
      for (auto d : m_params[p].shape) values *= d;
      parameters += values;
    }
    std::vector<std::string> inputs;
    for (int i : n.inputs) inputs.push_back(i < 0 ? "input" : m_nodes[i].name);
    details.push_back({layer.name, layer.type, layer.shape, parameters, inputs});
  }
  return details;
}

std::int64_t Graph::parameter_count() const {
  std::int64_t total = 0;
  for (const auto& p : m_params) {
    std::int64_t n = 1;
    for (auto d : p.shape) n *= d;
    total += n;
  }
  return total;
}

const at::Tensor& Graph::for_autocast(const at::Tensor& tensor, at::Tensor& copy) {
  std::optional<at::ScalarType> low;
  if (tensor.is_cpu() && vizrun::host::autocast_enabled(c10::kCPU)) low = vizrun::host::autocast_dtype(c10::kCPU);
  if (tensor.is_cuda() && vizrun::host::autocast_enabled(c10::kCUDA)) low = vizrun::host::autocast_dtype(c10::kCUDA);
  if (!low || tensor.scalar_type() != at::kFloat) return tensor;
  // Autocast would round the weights itself on every call (its cache keeps only leaves
  // that require a gradient, and these do not): the same rounding, once per experiment.
  if (!copy.defined() || copy.scalar_type() != *low) copy = tensor.to(*low);
  return copy;
}

const at::Tensor& Graph::compute_param(int index) const {
  const ParamSpec& p = m_params[static_cast<std::size_t>(index)];
  return for_autocast(p.tensor, p.autocast_copy);
}

void Graph::finalize(const c10::Device& device, bool channels_last, bool fold_layers) {
  m_channels_last = channels_last;
  for (auto& p : m_params) {
    p.autocast_copy = at::Tensor();
    p.tensor = p.tensor.to(device).detach().set_requires_grad(false);
    if (channels_last && p.tensor.dim() == 4) p.tensor = p.tensor.contiguous(at::MemoryFormat::ChannelsLast);
  }
  m_folded.clear();
  m_folds_into.assign(m_nodes.size(), -1);
  if (!fold_layers) return;
  std::vector<int> readers(m_nodes.size(), 0);
  for (const auto& n : m_nodes)
    for (int j : n.inputs)
      if (j >= 0) ++readers[j];
  for (std::size_t c = 0; c < m_nodes.size(); ++c) {
    const Node& conv = m_nodes[c];
    if (conv.kind != OpKind::conv2d || conv.attrs.padding != "valid" || conv.inputs[0] < 0) continue;
    const Node& pad = m_nodes[conv.inputs[0]];
    const OpAttrs& p = pad.attrs;
    if (pad.kind == OpKind::zero_pad && readers[conv.inputs[0]] == 1 && p.pad_top == p.pad_bottom &&
        p.pad_left == p.pad_right)
      m_folds_into[conv.inputs[0]] = static_cast<int>(c);
  }
  for (std::size_t b = 0; b < m_nodes.size(); ++b) {
    const Node& bn = m_nodes[b];
    if (bn.kind != OpKind::batch_norm || bn.inputs.size() != 1 || bn.inputs[0] < 0 || bn.params.size() != 4) continue;
    const int c = bn.inputs[0];
    const Node& conv = m_nodes[c];
    const bool linear = conv.attrs.activation.empty() || conv.attrs.activation == "linear";
    if (conv.kind != OpKind::conv2d || !linear || readers[c] != 1) continue;
    // y = gamma (conv(x) + b - mean) / sqrt(var + eps) + beta, in double before rounding.
    auto p = [&](const Node& n, std::size_t k) { return m_params[n.params[k]].tensor.to(at::kDouble); };
    const at::Tensor scale = p(bn, 0) / (p(bn, 3) + bn.attrs.epsilon).sqrt();
    const at::Tensor conv_bias = conv.attrs.use_bias ? p(conv, 1) : at::zeros_like(scale);
    Folded f;
    f.conv = c;
    f.weight = (p(conv, 0) * scale.view({-1, 1, 1, 1})).to(at::kFloat);
    if (channels_last) f.weight = f.weight.contiguous(at::MemoryFormat::ChannelsLast);
    f.bias = (p(bn, 1) + (conv_bias - p(bn, 2)) * scale).to(at::kFloat);
    m_folded[static_cast<int>(b)] = std::move(f);
    m_folds_into[c] = static_cast<int>(b);
  }
}

GuidedReluMode::GuidedReluMode(bool enabled) : m_previous(t_guided_relu) { t_guided_relu = enabled; }
GuidedReluMode::~GuidedReluMode() { t_guided_relu = m_previous; }

at::Tensor Graph::activate(const at::Tensor& x, const Activation& activation) {
  return apply_activation(x, activation);
}

at::Tensor Graph::activate(const at::Tensor& x, const OpAttrs& a) {
  if (a.activation == "relu" && (a.max_value >= 0 || a.alpha != 0 || a.threshold != 0)) {
    // Keras ReLU: x above the threshold, negative_slope * (x - threshold) below it, capped at max_value.
    at::Tensor y = torch::where(x >= a.threshold, x, (x - a.threshold) * a.alpha);
    return a.max_value >= 0 ? torch::clamp_max(y, a.max_value) : y;
  }
  if (a.activation == "leaky_relu") return torch::leaky_relu(x, a.alpha);
  if (a.activation == "elu") return torch::elu(x, a.alpha);
  return apply_activation(x, a.activation);
}

at::Tensor Graph::convolve(const Node& n, at::Tensor x, const at::Tensor& weight, const at::Tensor& bias,
                           std::int64_t pad_h, std::int64_t pad_w) {
  const OpAttrs& a = n.attrs;
  std::int64_t ph = pad_h, pw = pad_w;
  if (a.padding == "same") {
    auto [t, b] = same_pads(x.size(2), a.kernel_h, a.stride_h, a.dilation_h);
    auto [l, r] = same_pads(x.size(3), a.kernel_w, a.stride_w, a.dilation_w);
    if (t == b && l == r) {
      ph = t;
      pw = l;
    } else {
      x = torch::constant_pad_nd(x, {l, r, t, b}, 0.0);
    }
  }
  // A separable convolution's depthwise step: one group per input channel.
  const std::int64_t groups = n.kind == OpKind::separable_conv2d ? x.size(1) : a.groups;
  return torch::conv2d(x, weight, bias, {a.stride_h, a.stride_w}, {ph, pw}, {a.dilation_h, a.dilation_w}, groups);
}

Activations Graph::forward(const at::Tensor& input, const std::vector<std::string>& taps,
                           bool standard_layout_taps) const {
  return run(input, taps, standard_layout_taps, -1, at::Tensor());
}

Activations Graph::forward_replaced(const at::Tensor& input, const std::string& layer, const at::Tensor& replacement,
                                    const std::vector<std::string>& taps) const {
  const int replaced = require(layer);
  if (replacement.dim() < 1 || input.size(0) == 0 || replacement.size(0) % input.size(0) != 0)
    throw Error("forward_replaced: the replacement of " + layer + " must have k times the " +
                std::to_string(input.size(0)) + " inputs' items, got " + shape_string(replacement.sizes().vec()));
  for (const auto& t : taps)
    if (require(t) < replaced)
      throw Error("forward_replaced: tap " + t + " comes before the replaced layer " + layer);
  return run(input, taps, true, replaced, replacement);
}

Activations Graph::run(const at::Tensor& input, const std::vector<std::string>& taps, bool standard_layout_taps,
                       int replaced, const at::Tensor& replacement) const {
  if (input.dim() != 4 || input.size(1) != m_input_shape[0])
    throw Error("model input must be N x " + std::to_string(m_input_shape[0]) +
                " x H x W (NCHW float), got " + shape_string(input.sizes().vec()));
  Activations result;
  if (taps.empty()) return result;
  int last = -1;
  std::vector<int> tap_index;
  for (const auto& t : taps) {
    int i = require(t);
    tap_index.push_back(i);
    last = std::max(last, i);
  }
  std::vector<char> needed(last + 1, 0), tapped(last + 1, 0);
  for (int i : tap_index) needed[i] = tapped[i] = 1;
  // A replaced layer is given: what only it reads is never computed.
  for (int i = last; i >= 0; --i)
    if (needed[i] && i != replaced)
      for (int j : m_nodes[i].inputs)
        if (j >= 0) needed[j] = 1;
  std::vector<int> uses(last + 1, 0);
  for (int i = 0; i <= last; ++i)
    if (needed[i] && i != replaced)
      for (int j : m_nodes[i].inputs)
        if (j >= 0) ++uses[j];

  // A folded layer is computed by the one that reads it, unless it is tapped itself.
  std::vector<char> deferred(last + 1, 0);
  for (int i = 0; i <= last; ++i) {
    const int b = i < static_cast<int>(m_folds_into.size()) ? m_folds_into[i] : -1;
    deferred[i] = needed[i] && !tapped[i] && i != replaced && b >= 0 && b <= last && needed[b];
  }
  auto release_inputs = [&](const Node& n, std::vector<at::Tensor>& values) {
    for (int j : n.inputs)
      if (j >= 0 && --uses[j] == 0 && !tapped[j]) values[j] = at::Tensor();
  };
  std::vector<at::Tensor> values(last + 1);
  const at::Tensor x_in = m_channels_last ? input.contiguous(at::MemoryFormat::ChannelsLast) : input;
  // The tensor convolution `conv` reads, and the padding of a folded zero_pad before it.
  auto conv_input = [&](const Node& conv, std::vector<at::Tensor>& values) {
    const int j = conv.inputs[0];
    if (j < 0) return std::make_tuple(x_in, std::int64_t{0}, std::int64_t{0});
    if (!deferred[j]) return std::make_tuple(values[j], std::int64_t{0}, std::int64_t{0});
    const Node& pad = m_nodes[j];
    at::Tensor x = pad.inputs[0] < 0 ? x_in : values[pad.inputs[0]];
    release_inputs(pad, values);
    return std::make_tuple(x, pad.attrs.pad_top, pad.attrs.pad_left);
  };
  for (int i = 0; i <= last; ++i) {
    if (!needed[i] || deferred[i]) continue;
    if (i == replaced) {
      values[i] = replacement;
      continue;
    }
    const Node& n = m_nodes[i];
    const OpAttrs& a = n.attrs;
    // Past a replaced layer with k variants per input, a layer that joins a branch of
    // k * N items with one of N (a skip connection) repeats the latter k times.
    std::int64_t batch = 0;
    for (int j : n.inputs) {
      const at::Tensor& t = j < 0 ? x_in : values[j];
      if (t.defined()) batch = std::max(batch, t.size(0));  // a folded (deferred) input is undefined
    }
    auto in = [&](std::size_t k) -> at::Tensor {
      int j = n.inputs[k];
      const at::Tensor& t = j < 0 ? x_in : values[j];
      return t.defined() && t.size(0) < batch ? t.repeat_interleave(batch / t.size(0), 0) : t;
    };
    auto param = [&](std::size_t k) -> const at::Tensor& { return m_params[n.params[k]].tensor; };
    auto compute_param_of = [&](std::size_t k) -> const at::Tensor& { return compute_param(n.params[k]); };
    at::Tensor x = in(0);
    at::Tensor y;
    switch (n.kind) {
      case OpKind::conv2d: {
        auto [input, ph, pw] = conv_input(n, values);
        y = convolve(n, input, compute_param_of(0), a.use_bias ? compute_param_of(1) : at::Tensor(), ph, pw);
        y = apply_activation(y, a.activation);
        break;
      }
      case OpKind::separable_conv2d: {
        at::Tensor mid = convolve(n, x, compute_param_of(0), at::Tensor());
        y = torch::conv2d(mid, compute_param_of(1), a.use_bias ? compute_param_of(2) : at::Tensor());
        y = apply_activation(y, a.activation);
        break;
      }
      case OpKind::dense: {
        at::Tensor bias = a.use_bias ? compute_param_of(1) : at::Tensor();
        y = apply_activation(torch::linear(x, compute_param_of(0), bias), a.activation);
        break;
      }
      case OpKind::max_pool:
      case OpKind::avg_pool: {
        bool is_max = n.kind == OpKind::max_pool;
        if (a.padding == "same") {
          auto [t, b] = same_pads(x.size(2), a.kernel_h, a.stride_h);
          auto [l, r] = same_pads(x.size(3), a.kernel_w, a.stride_w);
          if (is_max) {
            if (t || b || l || r)
              x = torch::constant_pad_nd(x, {l, r, t, b}, -std::numeric_limits<double>::infinity());
            y = torch::max_pool2d(x, {a.kernel_h, a.kernel_w}, {a.stride_h, a.stride_w});
          } else {
            // TensorFlow averages over the valid pixels only.
            at::Tensor padded = torch::constant_pad_nd(x, {l, r, t, b}, 0.0);
            at::Tensor ones = torch::constant_pad_nd(torch::ones({1, 1, x.size(2), x.size(3)}, x.options()),
                                                     {l, r, t, b}, 0.0);
            y = torch::avg_pool2d(padded, {a.kernel_h, a.kernel_w}, {a.stride_h, a.stride_w}) /
                torch::avg_pool2d(ones, {a.kernel_h, a.kernel_w}, {a.stride_h, a.stride_w});
          }
        } else if (is_max) {
          y = torch::max_pool2d(x, {a.kernel_h, a.kernel_w}, {a.stride_h, a.stride_w});
        } else {
          y = torch::avg_pool2d(x, {a.kernel_h, a.kernel_w}, {a.stride_h, a.stride_w});
        }
        break;
      }
      case OpKind::zero_pad:
        y = torch::constant_pad_nd(x, {a.pad_left, a.pad_right, a.pad_top, a.pad_bottom}, 0.0);
        break;
      case OpKind::batch_norm:
        if (deferred[n.inputs[0]]) {
          const Folded& f = m_folded.at(i);
          const Node& conv = m_nodes[f.conv];
          auto [input, ph, pw] = conv_input(conv, values);
          y = convolve(conv, input, for_autocast(f.weight, f.weight_copy), for_autocast(f.bias, f.bias_copy), ph, pw);
          release_inputs(conv, values);
          break;
        }
        {
          // gamma and beta are absent when the Keras layer has scale / center off.
          std::size_t k = 0;
          const at::Tensor gamma = a.scale ? param(k++) : at::Tensor();
          const at::Tensor beta = a.center ? param(k++) : at::Tensor();
          const at::Tensor& mean = param(k++);
          y = torch::batch_norm(x, gamma, beta, mean, param(k), /*training=*/false, 0.0, a.epsilon,
                                /*cudnn_enabled=*/true);
        }
        break;
      case OpKind::activation:
        y = activate(x, a);
        break;
      case OpKind::identity:
        y = x;
        break;
      case OpKind::prelu: {
        const at::Tensor alpha = param(0).unsqueeze(0);
        y = torch::where(x >= 0, x, x * alpha);
        break;
      }
      case OpKind::layer_norm: {
        const at::Tensor mean = x.mean(1, true);
        const at::Tensor var = (x - mean).pow(2).mean(1, true);
        y = (x - mean) * torch::rsqrt(var + a.epsilon);
        const std::vector<std::int64_t> view = x.dim() == 4 ? std::vector<std::int64_t>{1, -1, 1, 1}
                                                            : std::vector<std::int64_t>{1, -1};
        std::size_t k = 0;
        if (a.scale) y = y * param(k++).view(view);
        if (a.center) y = y + param(k).view(view);
        break;
      }
      case OpKind::conv2d_transpose: {
        // The full transposed convolution, then TensorFlow's window of it: "same" drops
        // half the overhang at the top/left; a window past the end reads zeros.
        // The bias comes after the window: positions past the full output get it too.
        at::Tensor full = torch::conv_transpose2d(x, compute_param_of(0), at::Tensor(), {a.stride_h, a.stride_w}, 0, 0, 1,
                                                  {a.dilation_h, a.dilation_w});
        const std::int64_t out_h = transposed_size(x.size(2), dilated(a.kernel_h, a.dilation_h), a.stride_h, a.padding);
        const std::int64_t out_w = transposed_size(x.size(3), dilated(a.kernel_w, a.dilation_w), a.stride_w, a.padding);
        std::int64_t top = 0, left = 0;
        if (a.padding == "same") {
          top = std::max<std::int64_t>(dilated(a.kernel_h, a.dilation_h) - a.stride_h, 0) / 2;
          left = std::max<std::int64_t>(dilated(a.kernel_w, a.dilation_w) - a.stride_w, 0) / 2;
        }
        full = torch::constant_pad_nd(full, {0, std::max<std::int64_t>(left + out_w - full.size(3), 0), 0,
                                             std::max<std::int64_t>(top + out_h - full.size(2), 0)}, 0.0);
        y = full.slice(2, top, top + out_h).slice(3, left, left + out_w);
        if (a.use_bias) y = y + compute_param_of(1).view({1, -1, 1, 1});
        y = apply_activation(y, a.activation);
        break;
      }
      case OpKind::resize:
        // Half-pixel centres, as tf.image.resize (Keras' Resizing) computes.
        y = a.interpolation == "nearest" ? at::_upsample_nearest_exact2d(x, {a.target[0], a.target[1]})
                                         : torch::upsample_bilinear2d(x, {a.target[0], a.target[1]}, false);
        break;
      case OpKind::crop:
        y = x.slice(2, a.pad_top, x.size(2) - a.pad_bottom).slice(3, a.pad_left, x.size(3) - a.pad_right);
        break;
      case OpKind::concat: {
        std::vector<at::Tensor> parts;
        for (std::size_t k = 0; k < n.inputs.size(); ++k) parts.push_back(in(k));
        y = torch::cat(parts, 1);
        break;
      }
      case OpKind::subtract:
        y = in(0) - in(1);
        break;
      case OpKind::multiply:
        y = in(0);
        for (std::size_t k = 1; k < n.inputs.size(); ++k) y = y * in(k);
        break;
      case OpKind::average:
        y = in(0);
        for (std::size_t k = 1; k < n.inputs.size(); ++k) y = y + in(k);
        y = y / static_cast<double>(n.inputs.size());
        break;
      case OpKind::maximum:
        y = in(0);
        for (std::size_t k = 1; k < n.inputs.size(); ++k) y = torch::maximum(y, in(k));
        break;
      case OpKind::rescale: {
        // One value per channel: channels are dim 1 in NCHW and in N x C.
        auto per_channel = [&](const std::vector<double>& v) {
          at::Tensor t = torch::tensor(v, x.options().dtype(at::kDouble)).to(x.scalar_type());
          return x.dim() == 4 ? t.view({1, -1, 1, 1}) : t.view({1, -1});
        };
        y = x * per_channel(a.scale_values) + per_channel(a.offset_values);
        break;
      }
      case OpKind::normalize: {
        const at::Tensor& mean = param(0);
        const at::Tensor& variance = param(1);
        const std::vector<std::int64_t> view = x.dim() == 4 ? std::vector<std::int64_t>{1, -1, 1, 1}
                                                            : std::vector<std::int64_t>{1, -1};
        y = (x - mean.view(view)) / torch::clamp_min(variance.sqrt(), 1e-7).view(view);
        break;
      }
      case OpKind::reshape: {
        // In Keras order (N, H, W, C), back to NCHW for a rank-3 target.
        at::Tensor keras = x.dim() == 4 ? x.permute({0, 2, 3, 1}) : x;
        Shape target{x.size(0)};
        target.insert(target.end(), a.target.begin(), a.target.end());
        y = keras.reshape(target);
        if (y.dim() == 4) y = y.permute({0, 3, 1, 2});
        break;
      }
      case OpKind::dropout:
        y = x;
        break;
      case OpKind::flatten:
        y = x.flatten(1);
        break;
      case OpKind::global_avg_pool:
        y = x.mean({2, 3}, a.keepdims);
        break;
      case OpKind::global_max_pool:
        y = std::get<0>(x.flatten(2).max(2));
        if (a.keepdims) y = y.unsqueeze(2).unsqueeze(3);
        break;
      case OpKind::add: {
        y = in(0);
        for (std::size_t k = 1; k < n.inputs.size(); ++k) y = y + in(k);
        break;
      }
    }
    // Taps are handed out in the standard layout (safe for view()); later layers use
    // the same tensor, so gradients with respect to a tap still reach it.
    if (standard_layout_taps && m_channels_last && tapped[i] && y.dim() == 4) y = y.contiguous();
    values[i] = std::move(y);
    release_inputs(n, values);
  }
  const std::int64_t items = replaced >= 0 ? replacement.size(0) : input.size(0);
  for (std::size_t k = 0; k < taps.size(); ++k) {
    const at::Tensor& t = values[tap_index[k]];
    result[taps[k]] = t.size(0) < items ? t.repeat_interleave(items / t.size(0), 0) : t;
  }
  return result;
}

}  // namespace vizrun::models
