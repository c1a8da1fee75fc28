#include "vizrun_models/backend.h"

#include <torch/torch.h>

#include <set>

#include "vizrun/error.h"

namespace vizrun::models {

std::vector<std::string> preprocessing_modes() { return {"caffe", "tf", "torch", "divide_255", "none"}; }

namespace {

at::Tensor to_channels(const at::Tensor& rgb, std::int64_t channels) {
  if (channels == 3) return rgb;
  if (channels == 1) {
    // ITU-R 601 luma, as PIL's convert("L") computes it.
    auto w = torch::tensor({0.299f, 0.587f, 0.114f}, rgb.options()).view({1, 3, 1, 1});
    return (rgb * w).sum(1, true);
  }
  throw Error("images are RGB; a model with " + std::to_string(channels) + " input channels cannot take them");
}

}  // namespace

at::Tensor preprocess_rgb255(const at::Tensor& rgb255, const std::string& mode, std::int64_t channels) {
  if (rgb255.dim() != 4 || rgb255.size(1) != 3)
    throw Error("preprocess expects RGB pixels as N x 3 x H x W, got " + shape_string(rgb255.sizes().vec()));
  at::Tensor x = rgb255.to(torch::kFloat32);
  if (mode == "caffe") {
    if (channels != 3) throw Error("'caffe' preprocessing needs 3 channels");
    auto mean = torch::tensor({103.939f, 116.779f, 123.68f}, x.options()).view({1, 3, 1, 1});
    return x.flip({1}) - mean;
  }
  x = to_channels(x, channels);
  if (mode == "tf") return x / 127.5 - 1.0;
  if (mode == "divide_255") return x / 255.0;
  if (mode == "none") return x;
  if (mode == "torch") {
    if (channels != 3) throw Error("'torch' preprocessing needs 3 channels");
    auto mean = torch::tensor({0.485f, 0.456f, 0.406f}, x.options()).view({1, 3, 1, 1});
    auto std = torch::tensor({0.229f, 0.224f, 0.225f}, x.options()).view({1, 3, 1, 1});
    return (x / 255.0 - mean) / std;
  }
  throw Error("unknown preprocessing '" + mode + "'; expected caffe, tf, torch, divide_255 or none");
}

at::Tensor deprocess_to_rgb255(const at::Tensor& x, const std::string& mode, std::int64_t channels) {
  at::Tensor y;
  if (mode == "caffe") {
    auto mean = torch::tensor({103.939f, 116.779f, 123.68f}, x.options()).view({1, 3, 1, 1});
    return (x + mean).flip({1});
  }
  if (mode == "tf") y = (x + 1.0) * 127.5;
  else if (mode == "divide_255") y = x * 255.0;
  else if (mode == "none") y = x;
  else if (mode == "torch") {
    auto mean = torch::tensor({0.485f, 0.456f, 0.406f}, x.options()).view({1, 3, 1, 1});
    auto std = torch::tensor({0.229f, 0.224f, 0.225f}, x.options()).view({1, 3, 1, 1});
    y = (x * std + mean) * 255.0;
  } else {
    throw Error("unknown preprocessing '" + mode + "'");
  }
  if (channels == 1) y = y.expand({y.size(0), 3, y.size(2), y.size(3)}).contiguous();
  return y;
}

InputSpec input_spec_from(std::int64_t height, std::int64_t width, std::int64_t channels, bool fixed,
                          std::int64_t default_size, std::int64_t min_size, const std::string& model) {
  InputSpec spec;
  spec.channels = channels;
  spec.height = height;
  spec.width = width;
  spec.fixed_size = fixed;
  spec.min_size = min_size;
  if (fixed && (height != default_size || width != default_size))
    throw Error(model + " with include_top: true takes exactly " + std::to_string(default_size) + "x" +
                std::to_string(default_size) + " inputs (got " + std::to_string(height) + "x" +
                std::to_string(width) + "); set include_top: false for other sizes");
  if (height < min_size || width < min_size)
    throw Error(model + " needs inputs of at least " + std::to_string(min_size) + "x" + std::to_string(min_size) +
                " (got " + std::to_string(height) + "x" + std::to_string(width) + ")");
  // The schemas say the same; this guards callers that bypass them.
  if (height > kMaxModelInputSize || width > kMaxModelInputSize)
    throw Error(model + " takes inputs of at most " + std::to_string(kMaxModelInputSize) + "x" +
                std::to_string(kMaxModelInputSize) + " (got " + std::to_string(height) + "x" + std::to_string(width) + ")");
  return spec;
}

GraphBackend::GraphBackend(std::unique_ptr<Graph> graph, BackendDescription description, const CreateArgs& args,
                           const WeightsPlan& plan)
    : m_graph(std::move(graph)), m_desc(std::move(description)), m_device(args.device) {
  // bf16 needs nothing here: techniques run the graph under autocast, and the graph
  // keeps low-precision copies of the weights it multiplies (Graph::compute_param).
  if (args.precision != "fp32" && args.precision != "bf16" && args.host)
    args.host->log(LogLevel::warning, plan.model + ": precision '" + args.precision +
                                          "' is not supported by this backend; computing in fp32");
  if (args.architecture_only) {
    // vizrun validate / layers: the graph's shapes are all they need. Seeded random
    // parameters are cheap and keep the model well-formed; no file is read or fetched.
    m_weights = load_weights(*m_graph, "random", args.host, args.seed, plan);
    m_weights.source = "none (architecture only)";
  } else {
    m_weights = load_weights(*m_graph, args.weights, args.host, args.seed, plan);
  }
  m_graph->finalize(m_device, m_desc.channels_last && m_device.is_cpu(), m_desc.fold_layers);
}

GraphBackend::GraphBackend(std::unique_ptr<Graph> graph, BackendDescription description, const CreateArgs& args,
                           WeightsInfo weights)
    : m_graph(std::move(graph)), m_desc(std::move(description)), m_device(args.device), m_weights(std::move(weights)) {
  if (args.precision != "fp32" && args.precision != "bf16" && args.host)
    args.host->log(LogLevel::warning, "precision '" + args.precision +
                                          "' is not supported by this backend; computing in fp32");
  m_graph->finalize(m_device, m_desc.channels_last && m_device.is_cpu(), m_desc.fold_layers);
}

std::vector<LayerInfo> GraphBackend::layers() const { return m_graph->layers(); }

std::vector<LayerInfo> GraphBackend::layers_for(std::int64_t height, std::int64_t width) const {
  // A fixed-size model at another size lists only the layers before its classifier.
  if (height < m_desc.input.min_size || width < m_desc.input.min_size)
    throw Error("this model needs inputs of at least " + std::to_string(m_desc.input.min_size) + " pixels (got " +
                std::to_string(height) + "x" + std::to_string(width) + ")");
  return m_graph->layers_for(height, width);
}

std::vector<LayerDetails> GraphBackend::layer_details(std::int64_t height, std::int64_t width) const {
  layers_for(height, width);  // the same size checks and messages
  return m_graph->layer_details(height, width);
}

at::Tensor GraphBackend::preprocess(const at::Tensor& rgb255) const {
  at::Tensor x = rgb255.dim() == 3 ? rgb255.unsqueeze(0) : rgb255;
  return preprocess_rgb255(x, m_desc.preprocessing, m_desc.input.channels).to(m_device);
}

at::Tensor GraphBackend::deprocess(const at::Tensor& model_input) const {
  at::Tensor x = model_input.dim() == 3 ? model_input.unsqueeze(0) : model_input;
  return deprocess_to_rgb255(x, m_desc.preprocessing, m_desc.input.channels);
}

void GraphBackend::check_input(const at::Tensor& input, const std::vector<std::string>& taps) const {
  const InputSpec& s = m_desc.input;
  if (input.dim() != 4 || input.size(1) != s.channels)
    throw Error("model input must be N x " + std::to_string(s.channels) + " x H x W, got " +
                shape_string(input.sizes().vec()));
  std::int64_t h = input.size(2), w = input.size(3);
  if (h < s.min_size || w < s.min_size)
    throw Error("this model needs inputs of at least " + std::to_string(s.min_size) + " pixels, got " +
                std::to_string(h) + "x" + std::to_string(w));
  if (input.scalar_type() != torch::kFloat32)
    throw Error("model input must be float32");
  if (s.fixed_size && (h != s.height || w != s.width)) {
    // Like a Keras model truncated before its classifier: other sizes run up to it.
    std::set<std::string> runnable;
    for (const auto& l : m_graph->layers_for(h, w)) runnable.insert(l.name);
    for (const auto& t : taps)
      if (!runnable.count(t))
        throw Error("layer '" + t + "' needs this model's " + std::to_string(s.height) + "x" + std::to_string(s.width) +
                    " input (got " + std::to_string(h) + "x" + std::to_string(w) +
                    "); at other sizes only the layers before its classifier run");
  }
}

Activations GraphBackend::forward(const at::Tensor& input, const std::vector<std::string>& taps) {
  check_input(input, taps);
  at::Tensor x = input.device() == m_device ? input : input.to(m_device);
  const GuidedReluMode guided(m_guided_relu);
  return m_graph->forward(x, taps);
}

Activations GraphBackend::forward_replaced(const at::Tensor& input, const std::string& layer,
                                           const at::Tensor& replacement, const std::vector<std::string>& taps) {
  check_input(input, taps);
  const at::Tensor x = input.device() == m_device ? input : input.to(m_device);
  const at::Tensor r = replacement.device() == m_device ? replacement : replacement.to(m_device);
  return m_graph->forward_replaced(x, layer, r, taps);
}

}  // namespace vizrun::models
