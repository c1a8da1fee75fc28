#include "vizrun_host/model_summary.h"

#include <torch/torch.h>

#include <algorithm>
#include <sstream>

#include "vizrun/plugin.h"
#include "vizrun_host/quiet_host.h"
#include "vizrun_host/runner.h"

namespace vizrun::host {
namespace {

/// 138357544 -> "138,357,544"; -1 (unknown) -> "?".
std::string grouped(std::int64_t n) {
  if (n < 0) return "?";
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out;
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? " x " : "") + std::to_string(shape[i]);
  return out;
}

std::string pad(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

std::string pad_left(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

}  // namespace

ModelSummary summarize_model(const Experiment& e, const PluginRegistry& registry, std::int64_t size) {
  QuietHost quiet(e);
  const Host& host = quiet.host;
  torch::manual_seed(e.seed);
  CreateArgs args{to_value(e.model.options), &host, c10::Device(resolve_device(e.device)), "fp32", e.seed, e.weights};
  args.architecture_only = true;  // shapes and counts only: no weights read or downloaded where the backend can
  const auto model = registry.create_model(e.model.plugin, args);

  ModelSummary s;
  s.plugin = e.model.plugin;
  s.weights = model->weights_info();
  s.input = model->input_spec();
  s.height = size > 0 ? size : s.input.height;
  s.width = size > 0 ? size : s.input.width;
  s.layers = layer_details(*model, s.height, s.width);
  s.parameters = model->parameter_count();
  s.last_conv_layer = model->last_conv_layer();
  s.logits_layer = model->logits_layer();
  s.output_activation = model->output_activation();
  s.classes = model->class_names().size();
  return s;
}

std::string format_summary(const ModelSummary& s) {
  std::size_t name_w = 5, type_w = 4, shape_w = 12, param_w = 7;
  for (const auto& l : s.layers) {
    name_w = std::max(name_w, l.name.size());
    type_w = std::max(type_w, l.type.size());
    shape_w = std::max(shape_w, shape_text(l.shape).size());
    param_w = std::max(param_w, grouped(l.parameters).size());
  }
  std::ostringstream os;
  os << "model " << s.plugin << " (weights " << s.weights.source << "), input " << s.input.channels << " x " << s.height
     << " x " << s.width << (s.height != s.input.height || s.width != s.input.width ? " (not its own size)" : "") << ", "
     << s.layers.size() << " layers\n\n";
  os << pad("layer", name_w) << "  " << pad("type", type_w) << "  " << pad("output shape", shape_w) << "  "
     << pad_left("params", param_w) << "  reads\n";
  for (const auto& l : s.layers) {
    std::string reads;
    for (const auto& i : l.inputs) reads += (reads.empty() ? "" : ", ") + i;
    os << pad(l.name, name_w) << "  " << pad(l.type, type_w) << "  " << pad(shape_text(l.shape), shape_w) << "  "
       << pad_left(grouped(l.parameters), param_w) << "  " << reads << "\n";
  }
  os << "\ntotal parameters: " << grouped(s.parameters) << "\n";
  if (!s.last_conv_layer.empty()) os << "last convolution: " << s.last_conv_layer << " (what gradcam's layer: auto takes)\n";
  if (!s.logits_layer.empty()) {
    os << "classifier: " << s.logits_layer << ", " << s.classes << " classes, " << s.output_activation << " on its logits\n";
  }
  os << "A layer's name is what a technique's `layer:` or `layers:` option takes (globs such as 'block*_conv*' too).\n";
  return os.str();
}

nlohmann::json summary_json(const ModelSummary& s) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : s.layers) {
    nlohmann::json j = {{"name", l.name}, {"type", l.type}, {"shape", l.shape}, {"inputs", l.inputs}};
    j["parameters"] = l.parameters >= 0 ? nlohmann::json(l.parameters) : nlohmann::json(nullptr);
    layers.push_back(j);
  }
  return {{"model", s.plugin},
          {"weights", s.weights.source},
          {"input", {s.input.channels, s.height, s.width}},
          {"layers", layers},
          {"parameters", s.parameters},
          {"last_conv_layer", s.last_conv_layer},
          {"logits_layer", s.logits_layer},
          {"output_activation", s.output_activation},
          {"classes", s.classes}};
}

}  // namespace vizrun::host
