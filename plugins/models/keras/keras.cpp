// keras: the user's own Keras model, from the file model.save() wrote (.keras or
// full-model .h5). The architecture stored in the file becomes the layer graph and
// every layer is a tap under its Keras name (vizrun_models/keras_model.h).

#include <torch/torch.h>

#include <fstream>

#include "vizrun/error.h"
#include "vizrun/plugin.h"
#include "vizrun/suggest.h"
#include "vizrun_models/backend.h"
#include "vizrun_models/hashing.h"
#include "vizrun_models/keras_model.h"
#include "vizrun_models/weights.h"

namespace {

using namespace vizrun;
using namespace vizrun::models;

const char* const kSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "keras options",
  "description": "A Keras model saved with model.save() (model.weights names the .keras or .h5 file); the architecture comes from the file.",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "input_size": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 4096}, "maxItems": 2, "default": [], "description": "[height, width] the model is fed; empty: the file's input size (224x224 when the file leaves it open)."},
    "preprocessing": {"default": "none", "description": "How RGB pixels in [0, 255] become network input. none: the model takes pixels (its own Rescaling/Normalization layers do the rest); caffe, tf, torch, divide_255 as in Keras applications; or {scale, mean, std}: (x * scale - mean) / std per RGB channel.",
      "oneOf": [
        {"type": "string", "enum": ["none", "caffe", "tf", "torch", "divide_255"]},
        {"type": "object", "additionalProperties": false, "properties": {
          "scale": {"type": "number", "default": 1},
          "mean": {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3, "default": [0]},
          "std": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 1, "maxItems": 3, "default": [1]}}}
      ]},
    "output_activation": {"type": "string", "enum": ["auto", "softmax", "sigmoid", "none"], "default": "auto", "description": "What follows the logits; auto: the model's own final softmax or sigmoid (taken off its last layer, which then returns logits)."},
    "classes": {"description": "Class names: a list, or the path of a text file with one name per line (relative to the experiment file). Empty: none.", "default": [],
                "oneOf": [{"type": "array", "items": {"type": "string"}, "maxItems": 100000}, {"type": "string"}]},
    "last_conv_layer": {"type": "string", "default": "", "description": "What gradcam's layer: auto takes; empty: the model's last convolution."},
    "channels_last": {"type": "boolean", "default": true, "description": "NHWC memory layout for convolutions on CPU (results equal NCHW up to float rounding)."}
  }
})json";

/// The explicit {scale, mean, std} form, per RGB channel (one value: all three).
struct Explicit {
  double scale = 1;
  std::vector<double> mean{0}, std{1};
};

std::vector<double> numbers(const Value& v) {
  std::vector<double> out;
  for (const auto& x : v.as_list()) out.push_back(x.as_double());
  return out;
}

std::vector<std::string> read_classes(const Value& classes, const Host* host) {
  std::vector<std::string> out;
  if (!classes.is_string()) {
    for (const auto& c : classes.as_list()) out.push_back(c.as_string());
    return out;
  }
  const std::string path = host ? host->resolve_path(classes.as_string()) : classes.as_string();
  std::ifstream in(path);
  if (!in) throw Error("keras: classes: cannot read " + path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

struct Loaded {
  KerasModel model;
  BackendDescription description;
  WeightsInfo weights;
  std::optional<Explicit> explicit_preprocessing;
};

Loaded load(const CreateArgs& args) {
  if (args.weights.empty() || args.weights == "random" || args.weights == "imagenet")
    throw Error("keras: model.weights must name the file model.save() wrote (.keras or .h5), not '" + args.weights + "'");
  const Value& o = args.options;
  const std::string path = args.host ? args.host->resolve_path(args.weights) : args.weights;
  KerasModelFile file(path);
  std::int64_t height = 0, width = 0;
  const auto& size = o.at("input_size").as_list();
  if (size.size() == 1) throw Error("keras: input_size needs [height, width]");
  if (size.size() == 2) {
    height = size[0].as_int();
    width = size[1].as_int();
  }
  Loaded l;
  l.model = build_keras_model(file.config_json(), "keras: " + path, height, width, file.keras_version());
  // vizrun validate / layers need the architecture only: the weights are neither read nor
  // hashed (seeded random parameters keep the model well-formed, as the graph backends do).
  if (args.architecture_only) init_random(*l.model.graph, args.seed);
  else load_keras_model_weights(l.model, file);
  const KerasModel& m = l.model;
  const Shape& in = m.graph->input_shape();
  BackendDescription& d = l.description;
  d.input.channels = m.channels;
  d.input.height = in[1];
  d.input.width = in[2];
  d.input.fixed_size = m.fixed_size;
  d.input.min_size = std::min<std::int64_t>({32, in[1], in[2]});
  const Value& pre = o.at("preprocessing");
  if (pre.is_dict()) {
    Explicit e;
    e.scale = pre.get("scale", 1.0).as_double();
    if (pre.as_dict().count("mean")) e.mean = numbers(pre.at("mean"));
    if (pre.as_dict().count("std")) e.std = numbers(pre.at("std"));
    for (double s : e.std)
      if (!(s > 0)) throw Error("keras: preprocessing.std values must be positive");
    for (const auto* v : {&e.mean, &e.std})
      if (v->size() != 1 && static_cast<std::int64_t>(v->size()) != m.channels)
        throw Error("keras: preprocessing.mean and .std need 1 or " + std::to_string(m.channels) +
                    " values (one per input channel)");
    l.explicit_preprocessing = e;
    d.preprocessing = "none";
  } else {
    d.preprocessing = pre.as_string();
  }
  const std::string out = o.at("output_activation").as_string();
  d.output_activation = out == "auto" ? m.output_activation : out;
  d.logits_layer = m.logits_layer;
  d.last_conv_layer = o.at("last_conv_layer").as_string();
  if (d.last_conv_layer.empty()) {
    d.last_conv_layer = m.last_conv_layer;
  } else if (m.graph->find(d.last_conv_layer) < 0) {
    std::vector<std::string> names;
    for (const auto& n : m.graph->nodes()) names.push_back(n.name);
    throw Error("keras: last_conv_layer '" + d.last_conv_layer + "' is not a layer of the model" +
                did_you_mean(d.last_conv_layer, names));
  }
  d.class_names = read_classes(o.at("classes"), args.host);
  d.channels_last = o.at("channels_last").as_bool();
  l.weights = args.architecture_only ? WeightsInfo{"none (architecture only)", "", "", {}}
                                     : WeightsInfo{args.weights, path, digest_file(path).sha256, {}};
  return l;
}

class KerasBackend final : public GraphBackend {
 public:
  explicit KerasBackend(const CreateArgs& args) : KerasBackend(args, load(args)) {}

  at::Tensor preprocess(const at::Tensor& rgb255) const override {
    if (!m_explicit) return GraphBackend::preprocess(rgb255);
    const at::Tensor x = GraphBackend::preprocess(rgb255);  // "none": pixels, batched, on the device
    return (x * m_explicit->scale - channel(m_explicit->mean, x)) / channel(m_explicit->std, x);
  }

  at::Tensor deprocess(const at::Tensor& model_input) const override {
    if (!m_explicit) return GraphBackend::deprocess(model_input);
    const at::Tensor x = model_input.dim() == 3 ? model_input.unsqueeze(0) : model_input;
    return GraphBackend::deprocess((x * channel(m_explicit->std, x) + channel(m_explicit->mean, x)) / m_explicit->scale);
  }

 private:
  KerasBackend(const CreateArgs& args, Loaded l)
      : GraphBackend(std::move(l.model.graph), std::move(l.description), args, std::move(l.weights)),
        m_explicit(l.explicit_preprocessing) {}

  static at::Tensor channel(const std::vector<double>& v, const at::Tensor& like) {
    return torch::tensor(v, like.options().dtype(at::kDouble)).to(like.scalar_type()).view({1, -1, 1, 1});
  }

  std::optional<Explicit> m_explicit;
};

}  // namespace

VIZRUN_PLUGIN(KerasBackend, "keras", "1.0.0",
              "Your own Keras model (.keras or .h5 from model.save()); layers are its Keras layer names", kSchema)
