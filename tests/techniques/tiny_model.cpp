#include "tiny_model.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "npy.h"
#include "vizrun/error.h"

namespace vizrun::testing {

namespace {
const char* kNames[] = {"conv1", "conv2", "conv3", "logits"};
const std::vector<std::string> kOrder = {"conv1", "conv2", "pool1", "conv3", "gap", "logits"};
}  // namespace

TinyNet::TinyNet(const std::string& weights_dir, std::uint64_t seed, c10::Device device) : m_device(device) {
  const std::int64_t shapes[4][2] = {{8, 3}, {12, 8}, {16, 12}, {5, 16}};
  if (weights_dir.empty()) {
    at::manual_seed(seed);
    for (int i = 0; i < 4; ++i) {
      const bool dense = i == 3;
      const std::int64_t fan_in = shapes[i][1] * (dense ? 1 : 9);
      m_w[i] = dense ? at::randn({shapes[i][0], shapes[i][1]}) : at::randn({shapes[i][0], shapes[i][1], 3, 3});
      m_w[i] = m_w[i] * std::sqrt(2.0 / static_cast<double>(fan_in));
      m_b[i] = at::zeros({shapes[i][0]});
    }
    m_source = "random";
  } else {
    for (int i = 0; i < 4; ++i) {
      m_w[i] = read_npy(weights_dir + "/" + kNames[i] + "_weight.npy");
      m_b[i] = read_npy(weights_dir + "/" + kNames[i] + "_bias.npy");
    }
    m_source = weights_dir;
  }
  for (int i = 0; i < 4; ++i) {
    m_w[i] = m_w[i].to(device);
    m_b[i] = m_b[i].to(device);
  }
}

std::vector<LayerInfo> TinyNet::layers_for(std::int64_t h, std::int64_t w) const {
  return {{"conv1", "conv2d", {8, h, w}},      {"conv2", "conv2d", {12, h, w}},
          {"pool1", "max_pool", {12, h / 2, w / 2}}, {"conv3", "conv2d", {16, h / 2, w / 2}},
          {"gap", "global_average_pool", {16}}, {"logits", "dense", {5}}};
}

std::vector<LayerInfo> TinyNet::layers() const { return layers_for(32, 32); }

InputSpec TinyNet::input_spec() const {
  InputSpec s;
  s.height = s.width = 32;
  s.fixed_size = false;
  s.min_size = 8;
  return s;
}

at::Tensor TinyNet::preprocess(const at::Tensor& rgb255) const { return rgb255 / 255.0; }
at::Tensor TinyNet::deprocess(const at::Tensor& x) const { return x * 255.0; }

Activations TinyNet::forward(const at::Tensor& input, const std::vector<std::string>& taps) {
  ++forward_calls;
  std::size_t last = 0;
  for (const auto& t : taps) {
    auto it = std::find(kOrder.begin(), kOrder.end(), t);
    if (it == kOrder.end()) throw Error("tiny net: unknown layer " + t);
    last = std::max(last, static_cast<std::size_t>(it - kOrder.begin()));
  }
  deepest_tap = kOrder[last];
  Activations out;
  auto keep = [&](const std::string& name, const at::Tensor& t) {
    if (std::find(taps.begin(), taps.end(), name) != taps.end()) out[name] = t;
  };
  auto relu = [&](const at::Tensor& t) {
    at::Tensor y = at::relu(t);
    if (m_guided && y.requires_grad()) y.register_hook([](const at::Tensor& g) { return g.clamp_min(0); });
    return y;
  };
  at::Tensor x = relu(at::conv2d(input, m_w[0], m_b[0], 1, 1));
  keep("conv1", x);
  if (last == 0) return out;
  x = relu(at::conv2d(x, m_w[1], m_b[1], 1, 1));
  keep("conv2", x);
  if (last == 1) return out;
  x = at::max_pool2d(x, {2, 2});
  keep("pool1", x);
  if (last == 2) return out;
  x = relu(at::conv2d(x, m_w[2], m_b[2], 1, 1));
  keep("conv3", x);
  if (last == 3) return out;
  x = x.mean({2, 3});
  keep("gap", x);
  if (last == 4) return out;
  keep("logits", at::linear(x, m_w[3], m_b[3]));
  return out;
}

at::Tensor TinyNet::stage(std::size_t index, const at::Tensor& x) const {
  switch (index) {
    case 0: return at::relu(at::conv2d(x, m_w[0], m_b[0], 1, 1));
    case 1: return at::relu(at::conv2d(x, m_w[1], m_b[1], 1, 1));
    case 2: return at::max_pool2d(x, {2, 2});
    case 3: return at::relu(at::conv2d(x, m_w[2], m_b[2], 1, 1));
    case 4: return x.mean({2, 3});
    default: return at::linear(x, m_w[3], m_b[3]);
  }
}

Activations TinyNetReplace::forward_replaced(const at::Tensor&, const std::string& layer, const at::Tensor& replacement,
                                             const std::vector<std::string>& taps) {
  ++replaced_calls;
  const auto from = std::find(kOrder.begin(), kOrder.end(), layer);
  if (from == kOrder.end()) throw Error("tiny net: unknown layer " + layer);
  Activations out;
  at::Tensor x = replacement;
  std::size_t remaining = taps.size();
  for (std::size_t i = static_cast<std::size_t>(from - kOrder.begin());; ++i) {
    if (i > static_cast<std::size_t>(from - kOrder.begin())) x = stage(i, x);
    if (std::find(taps.begin(), taps.end(), kOrder[i]) != taps.end()) {
      out[kOrder[i]] = x;
      --remaining;
    }
    if (remaining == 0 || i + 1 == kOrder.size()) break;
  }
  if (remaining != 0) throw Error("tiny net: forward_replaced: a tap comes before " + layer);
  return out;
}

std::vector<std::string> TinyNet::class_names() const {
  return {"horizontal", "vertical", "diagonal", "red_blob", "checker"};
}

std::int64_t TinyNet::parameter_count() const {
  std::int64_t n = 0;
  for (int i = 0; i < 4; ++i) n += m_w[i].numel() + m_b[i].numel();
  return n;
}

void TinyNet::make_constant(const std::string& conv, double value) {
  for (int i = 0; i < 3; ++i)
    if (conv == kNames[i]) {
      m_w[i] = at::zeros_like(m_w[i]);
      m_b[i] = at::full_like(m_b[i], value);
    }
}

}  // namespace vizrun::testing
