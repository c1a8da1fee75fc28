// A Keras model file as a Graph: the architecture JSON (Keras 2 / tf.keras and Keras 3
// spellings) is translated layer by layer into graph nodes with the Keras names, and
// the weights are read from the same file and converted from Keras' layouts.
#include "vizrun_models/keras_model.h"

#include <torch/torch.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "vizrun/error.h"
#include "vizrun_models/keras_h5.h"
#include "vizrun_models/weights.h"

namespace vizrun::models {

namespace {

using json = nlohmann::json;

/// A nested model inside a nested model inside ...: a bound keeps hostile files finite.
constexpr int kMaxNesting = 32;
/// The most layers one model config may declare.
constexpr std::size_t kMaxLayers = 100000;
/// config.json in a .keras zip larger than this is refused (real ones are well under 1 MB).
constexpr std::uint64_t kMaxConfigBytes = 64ull << 20;
/// The largest size, count or amount a layer config may state.
constexpr std::uint64_t kMaxSize = 1u << 20;

const std::vector<std::string>& supported() {
  static const std::vector<std::string> names = {
      "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization", "Activation", "ReLU",
      "LeakyReLU", "ELU", "Softmax", "MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D",
      "GlobalAveragePooling2D", "ZeroPadding2D", "Cropping2D", "Flatten", "Reshape", "Dense", "Dropout",
      "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "Add", "Subtract", "Multiply", "Concatenate",
      "Average", "Maximum", "Rescaling", "Normalization", "PReLU", "LayerNormalization", "Conv2DTranspose",
      "Resizing", "Sequential", "Functional", "Model"};
  return names;
}

/// The Keras spellings of a pooling layer (Keras 2 also exported MaxPool2D etc.).
std::string canonical_class(const std::string& c) {
  static const std::map<std::string, std::string> aliases = {
      {"MaxPool2D", "MaxPooling2D"}, {"AvgPool2D", "AveragePooling2D"}, {"GlobalMaxPool2D", "GlobalMaxPooling2D"},
      {"GlobalAvgPool2D", "GlobalAveragePooling2D"}, {"Convolution2D", "Conv2D"},
      {"SeparableConvolution2D", "SeparableConv2D"}};
  auto it = aliases.find(c);
  return it == aliases.end() ? c : it->second;
}

/// "conv2d" from "Conv2D", "batch_normalization" from "BatchNormalization": how Keras
/// names layers by default, and what `vizrun layers` shows as their type.
std::string snake_case(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool upper = c >= 'A' && c <= 'Z';
    const bool after_lower = i > 0 && ((name[i - 1] >= 'a' && name[i - 1] <= 'z'));
    const bool before_lower = i + 1 < name.size() && name[i + 1] >= 'a' && name[i + 1] <= 'z' && i > 0 &&
                              name[i - 1] >= 'A' && name[i - 1] <= 'Z';
    if (upper && (after_lower || before_lower)) out += '_';
    out += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

/// A string member, or `fallback` when it is absent or not a string (json::value
/// would throw a type_error for the latter).
std::string string_or(const json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

class Builder {
 public:
  Builder(KerasModel& model, std::string origin, const std::string& keras_version)
      : m_model(model), m_origin(std::move(origin)),
        m_before_keras3(keras_version.rfind("1.", 0) == 0 || keras_version.rfind("2.", 0) == 0) {}

  /// The whole model: its input shape, then its layers.
  void build(const json& root, std::int64_t height, std::int64_t width) {
    if (!root.is_object()) fail("the model config is not a JSON object");
    const std::string cls = class_of(root);
    if (!is_model(cls)) fail("the top-level object is a '" + cls + "', not a Sequential or functional model");
    const json& cfg = config_of(root);
    m_model.name = string_or(cfg, "name", cls);
    const Shape keras_input = input_shape(cls, cfg);  // {H, W, C}, 0 for an open size
    m_model.channels = keras_input[2];
    if (m_model.channels != 1 && m_model.channels != 3)
      fail("the model takes " + std::to_string(m_model.channels) + " input channels; vizrun feeds images with 1 or 3");
    m_model.file_height = keras_input[0];
    m_model.file_width = keras_input[1];
    const std::int64_t h = height > 0 ? height : (keras_input[0] > 0 ? keras_input[0] : 224);
    const std::int64_t w = width > 0 ? width : (keras_input[1] > 0 ? keras_input[1] : 224);
    m_model.graph = std::make_unique<Graph>(Shape{m_model.channels, h, w});
    const std::vector<int> out = build_model(cls, cfg, {-1}, "", 0, "");
    if (out.size() != 1) fail("the model has " + std::to_string(out.size()) + " outputs; vizrun needs exactly one");
    if (m_model.graph->nodes().empty()) fail("the model has no layers");
    describe_output(out[0]);
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw Error(m_origin + ": " + why); }
  [[noreturn]] void fail_layer(const std::string& name, const std::string& cls, const std::string& why) const {
    throw Error(m_origin + ": layer '" + name + "' (" + cls + "): " + why);
  }

  static bool is_model(const std::string& cls) { return cls == "Sequential" || cls == "Functional" || cls == "Model"; }

  std::string class_of(const json& layer) const {
    const auto it = layer.find("class_name");
    if (it == layer.end() || !it->is_string()) fail("a layer entry has no class_name");
    return canonical_class(it->get<std::string>());
  }

  const json& config_of(const json& layer) const {
    static const json empty = json::object();
    const auto it = layer.find("config");
    if (it == layer.end()) return empty;
    if (!it->is_object()) fail("the config of a '" + class_of(layer) + "' entry is not an object");
    return *it;
  }

  std::string name_of(const json& layer) const {
    const json& cfg = config_of(layer);
    if (cfg.contains("name") && cfg["name"].is_string()) return cfg["name"].get<std::string>();
    if (layer.contains("name") && layer["name"].is_string()) return layer["name"].get<std::string>();
    fail("a '" + class_of(layer) + "' layer has no name");
  }

  // --- typed config values, each failing with the layer's name

  struct Ctx {
    std::string name, cls;
    const json* cfg;
    std::string saved_path;  ///< where a .keras weights file without layer names keeps it
  };

  const json* find(const Ctx& c, const char* key) const {
    const auto it = c.cfg->find(key);
    return it == c.cfg->end() || it->is_null() ? nullptr : &*it;
  }

  std::int64_t integer(const Ctx& c, const char* key, std::int64_t fallback) const {
    const json* v = find(c, key);
    if (!v) return fallback;
    if (!v->is_number_integer()) fail_layer(c.name, c.cls, std::string(key) + " must be an integer");
    return bounded(c, key, *v);
  }

  /// Sizes, counts and amounts: beyond 2^20 no real model goes, and the shape rules
  /// must not overflow.
  std::int64_t bounded(const Ctx& c, const char* key, const json& v) const {
    const bool fits = v.is_number_unsigned() ? v.get<std::uint64_t>() <= kMaxSize
                                             : std::llabs(v.get<std::int64_t>()) <= static_cast<long long>(kMaxSize);
    if (!fits) fail_layer(c.name, c.cls, std::string(key) + " " + v.dump() + " is out of range");
    return v.get<std::int64_t>();
  }

  double number(const Ctx& c, const char* key, double fallback) const {
    const json* v = find(c, key);
    if (!v) return fallback;
    if (!v->is_number()) fail_layer(c.name, c.cls, std::string(key) + " must be a number");
    return v->get<double>();
  }

  bool boolean(const Ctx& c, const char* key, bool fallback) const {
    const json* v = find(c, key);
    if (!v) return fallback;
    if (!v->is_boolean()) fail_layer(c.name, c.cls, std::string(key) + " must be true or false");
    return v->get<bool>();
  }

  std::string text(const Ctx& c, const char* key, const std::string& fallback) const {
    const json* v = find(c, key);
    if (!v) return fallback;
    if (!v->is_string()) fail_layer(c.name, c.cls, std::string(key) + " must be a string");
    return v->get<std::string>();
  }

  /// An int or a pair of ints (Keras' kernel_size, strides, pool_size ...).
  std::pair<std::int64_t, std::int64_t> pair(const Ctx& c, const char* key, std::pair<std::int64_t, std::int64_t> fallback) const {
    const json* v = find(c, key);
    if (!v) return fallback;
    if (v->is_number_integer()) return {bounded(c, key, *v), bounded(c, key, *v)};
    if (v->is_array() && v->size() == 2 && (*v)[0].is_number_integer() && (*v)[1].is_number_integer())
      return {bounded(c, key, (*v)[0]), bounded(c, key, (*v)[1])};
    fail_layer(c.name, c.cls, std::string(key) + " must be an integer or a pair of integers");
  }

  /// ZeroPadding2D / Cropping2D amounts: n, [h, w] or [[top, bottom], [left, right]].
  std::array<std::int64_t, 4> sides(const Ctx& c, const char* key, std::int64_t fallback) const {
    const json* v = find(c, key);
    if (!v) return {fallback, fallback, fallback, fallback};
    if (v->is_number_integer()) {
      const auto n = bounded(c, key, *v);
      return {n, n, n, n};
    }
    if (v->is_array() && v->size() == 2) {
      if ((*v)[0].is_number_integer() && (*v)[1].is_number_integer()) {
        const auto a = bounded(c, key, (*v)[0]), b = bounded(c, key, (*v)[1]);
        return {a, a, b, b};
      }
      const auto both = [](const json& p) { return p.is_array() && p.size() == 2 && p[0].is_number_integer() && p[1].is_number_integer(); };
      if (both((*v)[0]) && both((*v)[1]))
        return {bounded(c, key, (*v)[0][0]), bounded(c, key, (*v)[0][1]), bounded(c, key, (*v)[1][0]),
                bounded(c, key, (*v)[1][1])};
    }
    fail_layer(c.name, c.cls, std::string(key) + " must be n, [h, w] or [[top, bottom], [left, right]]");
  }

  /// A scalar or a list of numbers (Rescaling, Normalization).
  std::vector<double> numbers(const Ctx& c, const char* key, double fallback) const {
    const json* v = find(c, key);
    if (!v) return {fallback};
    if (v->is_number()) return {v->get<double>()};
    std::vector<double> out;
    // Normalization may hold a nested list ([[[m0, m1, m2]]]) for its broadcast shape.
    std::function<void(const json&)> flat = [&](const json& j) {
      if (j.is_number()) {
        out.push_back(j.get<double>());
      } else if (j.is_array()) {
        for (const auto& e : j) flat(e);
      } else {
        fail_layer(c.name, c.cls, std::string(key) + " must be a number or a list of numbers");
      }
    };
    flat(*v);
    if (out.empty()) fail_layer(c.name, c.cls, std::string(key) + " is an empty list");
    return out;
  }

  /// Keras activations are names, or (Keras 3, custom objects) {"config": name}.
  std::string activation(const Ctx& c, const char* key = "activation") const {
    const json* v = find(c, key);
    if (!v) return "linear";
    if (v->is_object() && v->contains("config") && (*v)["config"].is_string()) return (*v)["config"].get<std::string>();
    if (v->is_object() && v->contains("class_name") && (*v)["class_name"].is_string())
      return snake_case((*v)["class_name"].get<std::string>());
    if (!v->is_string()) fail_layer(c.name, c.cls, std::string(key) + " must be an activation name");
    std::string a = v->get<std::string>();
    if (a.rfind("keras.activations.", 0) == 0) a = a.substr(18);
    // The same name meant another function before Keras 3 (0.2 x + 0.5, clipped).
    if (a == "hard_sigmoid" && m_before_keras3) a = "keras2_hard_sigmoid";
    try {
      Graph::activate(torch::zeros({1, 1}), a);
    } catch (const Error& e) {
      fail_layer(c.name, c.cls, e.what());
    }
    return a;
  }

  /// A channel axis: -1 or the last axis (3 for images, 1 for vectors).
  void channel_axis(const Ctx& c, const char* key, int input) const {
    const json* v = find(c, key);
    if (!v) return;
    const json& a = v->is_array() && v->size() == 1 ? (*v)[0] : *v;
    const std::int64_t rank = static_cast<std::int64_t>(shape_of(input).size()) + 1;  // with batch
    if (!a.is_number_integer() || (a.get<std::int64_t>() != -1 && a.get<std::int64_t>() != rank - 1))
      fail_layer(c.name, c.cls, std::string(key) + " " + v->dump() + " is not the channel axis (-1); only that is supported");
  }

  void channels_last(const Ctx& c) const {
    const std::string f = text(c, "data_format", "channels_last");
    if (f != "channels_last") fail_layer(c.name, c.cls, "data_format '" + f + "': only channels_last is supported");
  }

  const Shape& shape_of(int node) const {
    return node < 0 ? m_model.graph->input_shape() : m_model.graph->nodes()[static_cast<std::size_t>(node)].shape;
  }

  // --- the model's structure

  /// {H, W, C} of the model input; 0 where the file leaves a size open.
  Shape input_shape(const std::string& cls, const json& cfg) const {
    const json* shape = nullptr;
    auto from = [&](const json& layer) -> const json* {
      const json& lc = config_of(layer);
      for (const char* key : {"batch_shape", "batch_input_shape"})
        if (lc.contains(key) && lc[key].is_array()) return &lc[key];
      return nullptr;
    };
    if (!cfg.contains("layers") || !cfg["layers"].is_array() || cfg["layers"].empty()) fail("the model has no layers");
    const json& layers = cfg["layers"];
    if (cls == "Sequential") {
      shape = from(layers[0]);
      if (!shape && cfg.contains("build_input_shape") && cfg["build_input_shape"].is_array()) shape = &cfg["build_input_shape"];
    } else {
      for (const auto& layer : layers)
        if (layer.is_object() && class_of(layer) == "InputLayer" && (shape = from(layer))) break;
    }
    if (!shape) fail("the model config does not say its input shape (no InputLayer with batch_shape)");
    if (shape->size() != 4)
      fail("the model input " + shape->dump() + " is not a batch of images (batch, height, width, channels)");
    Shape out;
    for (std::size_t i = 1; i < 4; ++i) {
      const json& d = (*shape)[i];
      if (d.is_null()) {
        out.push_back(0);
      } else if (d.is_number_integer() && d.get<std::int64_t>() > 0 && d.get<std::int64_t>() <= 65536) {
        out.push_back(d.get<std::int64_t>());
      } else {
        fail("the model input " + shape->dump() + " has an unusable size");
      }
    }
    if (out[2] == 0) fail("the model input " + shape->dump() + " leaves the channel count open");
    return out;
  }

  std::vector<int> build_model(const std::string& cls, const json& cfg, const std::vector<int>& inputs,
                               const std::string& top, int depth, const std::string& saved_prefix) {
    if (depth > kMaxNesting) fail("models nested more than " + std::to_string(kMaxNesting) + " deep");
    if (!cfg.contains("layers") || !cfg["layers"].is_array()) fail("model '" + string_or(cfg, "name", cls) + "' has no layer list");
    if (cfg["layers"].size() > kMaxLayers) fail("more than " + std::to_string(kMaxLayers) + " layers");
    m_containers.push_back({saved_prefix, {}});
    std::vector<int> out = cls == "Sequential" ? build_sequential(cfg, inputs, top, depth)
                                               : build_functional(cfg, inputs, top, depth);
    m_containers.pop_back();
    return out;
  }

  /// The group a layer's variables have in a .keras weights file written without layer
  /// names (tf_keras): layers/<snake_case class>, then _1, _2, ... in the model's layer
  /// order (the config's), per model.
  std::string saved_path(const std::string& cls) {
    Container& c = m_containers.back();
    const std::string base = snake_case(cls);
    const int seen = c.seen[base]++;
    return c.prefix + "layers/" + base + (seen ? "_" + std::to_string(seen) : "");
  }

  std::vector<int> build_sequential(const json& cfg, const std::vector<int>& inputs, const std::string& top, int depth) {
    if (inputs.size() != 1) fail("a Sequential model takes one input");
    int x = inputs[0];
    for (const auto& layer : cfg["layers"]) {
      if (!layer.is_object()) fail("a layer entry of a Sequential model is not an object");
      if (class_of(layer) == "InputLayer") continue;  // Keras 3 lists it; it is not one of model.layers
      x = add_layer(layer, {x}, top, depth, saved_path(class_of(layer)));
    }
    return {x};
  }

  /// Layer names in [name, node, tensor] references: Keras 2 lists, or one name.
  std::vector<std::string> references(const json& refs, const std::string& what) const {
    std::vector<std::string> names;
    if (refs.is_array() && !refs.empty() && refs[0].is_string()) {
      names.push_back(refs[0].get<std::string>());
      return names;
    }
    if (!refs.is_array()) fail(what + " must be a list of [layer, node, tensor] references");
    for (const auto& r : refs) {
      if (!r.is_array() || r.empty() || !r[0].is_string()) fail(what + " must be a list of [layer, node, tensor] references");
      names.push_back(r[0].get<std::string>());
    }
    return names;
  }

  /// The layers a layer reads, from its single call ("inbound node").
  std::vector<std::string> inbound(const json& layer, const std::string& name, const std::string& cls) const {
    const auto it = layer.find("inbound_nodes");
    if (it == layer.end() || it->is_null() || (it->is_array() && it->empty())) return {};
    if (!it->is_array()) fail_layer(name, cls, "inbound_nodes must be a list");
    if (it->size() > 1)
      fail_layer(name, cls, "the layer is called " + std::to_string(it->size()) +
                                " times (shared layers are not supported: each call would need its own name)");
    const json& call = (*it)[0];
    std::vector<std::string> names;
    if (call.is_array()) {  // Keras 2: [[layer, node, tensor, kwargs], ...]
      for (const auto& r : call) {
        if (!r.is_array() || r.empty() || !r[0].is_string()) fail_layer(name, cls, "an inbound node is not [layer, node, tensor, kwargs]");
        names.push_back(r[0].get<std::string>());
      }
      return names;
    }
    // Keras 3: {"args": [...], "kwargs": {...}} with __keras_tensor__ objects in args.
    std::function<void(const json&, int)> collect = [&](const json& j, int level) {
      if (level > 64) fail_layer(name, cls, "inbound_nodes nest too deep");
      if (j.is_object()) {
        if (string_or(j, "class_name", "") == "__keras_tensor__") {
          const json* history = j.contains("config") && j["config"].is_object() && j["config"].contains("keras_history")
                                    ? &j["config"]["keras_history"]
                                    : nullptr;
          if (!history || !history->is_array() || history->empty() || !(*history)[0].is_string())
            fail_layer(name, cls, "an input tensor without keras_history");
          names.push_back((*history)[0].get<std::string>());
          return;
        }
        for (const auto& [key, value] : j.items()) collect(value, level + 1);
      } else if (j.is_array()) {
        for (const auto& e : j) collect(e, level + 1);
      }
    };
    if (!call.is_object()) fail_layer(name, cls, "an inbound node is neither a list nor {args, kwargs}");
    if (call.contains("args")) collect(call["args"], 0);
    return names;
  }

  std::vector<int> build_functional(const json& cfg, const std::vector<int>& inputs, const std::string& top, int depth) {
    std::map<std::string, int> produced;  // Keras layer name -> graph node
    const std::vector<std::string> input_names = references(cfg.contains("input_layers") ? cfg["input_layers"] : json::array(), "input_layers");
    if (input_names.size() != inputs.size())
      fail("model '" + string_or(cfg, "name", "?") + "' has " + std::to_string(input_names.size()) +
           " inputs; vizrun feeds one image");
    std::vector<const json*> pending;
    std::set<std::string> declared;
    std::map<std::string, std::string> saved;  // layer name -> saved_path, counted in config order
    for (const auto& layer : cfg["layers"]) {
      if (!layer.is_object()) fail("a layer entry is not an object");
      const std::string name = name_of(layer);
      if (!declared.insert(name).second) fail("two layers are named '" + name + "'");
      if (class_of(layer) == "InputLayer") {
        const auto at = std::find(input_names.begin(), input_names.end(), name);
        if (at == input_names.end()) fail("InputLayer '" + name + "' is not one of the model's input_layers");
        OpAttrs a;
        produced[name] = m_model.graph->layer(unique(name, top), OpKind::identity,
                                              {inputs[static_cast<std::size_t>(at - input_names.begin())]}, a, "input_layer");
        continue;
      }
      pending.push_back(&layer);
      saved[name] = saved_path(class_of(layer));
    }
    for (const auto& n : input_names)
      if (!produced.count(n)) fail("input_layers names '" + n + "', which is not an InputLayer of the model");
    // Add each layer once everything it reads exists: a layer never ready is in a cycle
    // or reads a layer that does not exist.
    while (!pending.empty()) {
      bool progress = false;
      for (auto it = pending.begin(); it != pending.end();) {
        const json& layer = **it;
        const std::string name = name_of(layer), cls = class_of(layer);
        const std::vector<std::string> from = inbound(layer, name, cls);
        if (from.empty()) fail_layer(name, cls, "the layer is never called (no inbound_nodes)");
        std::vector<int> in;
        for (const auto& f : from) {
          if (!declared.count(f)) fail_layer(name, cls, "reads layer '" + f + "', which the model does not have");
          if (produced.count(f)) in.push_back(produced.at(f));
        }
        if (in.size() != from.size()) {
          ++it;
          continue;
        }
        produced[name] = add_layer(layer, in, top, depth, saved.at(name));
        it = pending.erase(it);
        progress = true;
      }
      if (!progress) {
        std::vector<std::string> stuck;
        for (const json* l : pending) stuck.push_back(name_of(*l));
        fail("the layers " + join(stuck) + " read each other in a cycle");
      }
    }
    std::vector<int> outputs;
    for (const auto& n : references(cfg.contains("output_layers") ? cfg["output_layers"] : json::array(), "output_layers")) {
      if (!produced.count(n)) fail("output_layers names '" + n + "', which the model does not have");
      outputs.push_back(produced.at(n));
    }
    return outputs;
  }

  /// The Keras name, or "<top>/<name>" when a nested model reuses a name already taken.
  std::string unique(const std::string& name, const std::string& top) const {
    if (m_model.graph->find(name) < 0) return name;
    const std::string qualified = top.empty() ? name : top + "/" + name;
    if (m_model.graph->find(qualified) < 0) return qualified;
    fail("two layers are named '" + name + "'");
  }

  // --- one layer

  int add_layer(const json& layer, const std::vector<int>& in, const std::string& top, int depth,
                const std::string& saved) {
    const std::string cls = class_of(layer);
    const std::string name = name_of(layer);
    const json& cfg = config_of(layer);
    const Ctx c{name, cls, &cfg, saved};
    const std::string here = top.empty() ? name : top;  // the top-level layer holding this one
    if (is_model(cls)) {
      const std::vector<int> out = build_model(cls, cfg, in, here, depth + 1, saved + "/");
      if (out.size() != 1) fail_layer(name, cls, "a nested model must have exactly one output");
      OpAttrs a;
      return m_model.graph->layer(unique(name, top), OpKind::identity, out, a, snake_case(cls));
    }
    const auto need_inputs = [&](std::size_t lo, std::size_t hi) {
      if (in.size() < lo || in.size() > hi)
        fail_layer(name, cls, "takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " or more") +
                                  " inputs, got " + std::to_string(in.size()));
    };
    const bool merge = cls == "Add" || cls == "Subtract" || cls == "Multiply" || cls == "Average" ||
                       cls == "Maximum" || cls == "Concatenate";
    if (merge) {
      need_inputs(2, cls == "Subtract" ? 2 : kMaxLayers);
    } else {
      need_inputs(1, 1);
    }
    try {
      return add_simple(c, in, here);
    } catch (const Error& e) {
      const std::string what = e.what();
      // Graph errors already name the layer; add the file.
      if (what.rfind(m_origin, 0) == 0) throw;
      throw Error(m_origin + ": " + what);
    }
  }

  int add_simple(const Ctx& c, const std::vector<int>& in, const std::string& top) {
    Graph& g = *m_model.graph;
    const std::string& cls = c.cls;
    const std::string node = unique(c.name, top == c.name ? "" : top);
    const std::string type = snake_case(cls);
    OpAttrs a;
    auto conv_common = [&] {
      channels_last(c);
      std::tie(a.kernel_h, a.kernel_w) = pair(c, "kernel_size", {1, 1});
      std::tie(a.stride_h, a.stride_w) = pair(c, "strides", {1, 1});
      std::tie(a.dilation_h, a.dilation_w) = pair(c, "dilation_rate", {1, 1});
      a.padding = text(c, "padding", "valid");
      if (a.padding != "valid" && a.padding != "same")
        fail_layer(c.name, cls, "padding '" + a.padding + "': valid or same are supported");
      if ((a.stride_h > 1 || a.stride_w > 1) && (a.dilation_h > 1 || a.dilation_w > 1))
        fail_layer(c.name, cls, "strides and dilation_rate both above 1 (Keras refuses it too)");
      a.use_bias = boolean(c, "use_bias", true);
      a.activation = activation(c);
      if (shape_of(in[0]).size() != 3) fail_layer(c.name, cls, "expects an image-shaped input, got " + shape_string(shape_of(in[0])));
    };
    int index = -1;
    if (cls == "Conv2D") {
      conv_common();
      a.filters = integer(c, "filters", 0);
      a.groups = integer(c, "groups", 1);
      index = g.layer(node, OpKind::conv2d, in, a, type);
      expect(c, top, index, {"kernel", "bias"}, {"", ""});
    } else if (cls == "DepthwiseConv2D") {
      conv_common();
      a.depth_multiplier = integer(c, "depth_multiplier", 1);
      if (a.depth_multiplier < 1) fail_layer(c.name, cls, "depth_multiplier must be at least 1");
      a.groups = shape_of(in[0])[0];
      a.filters = a.groups * a.depth_multiplier;
      index = g.layer(node, OpKind::conv2d, in, a, type);
      expect(c, top, index, {"kernel", "bias"}, {"depthwise_kernel", ""});
    } else if (cls == "SeparableConv2D") {
      conv_common();
      a.filters = integer(c, "filters", 0);
      a.depth_multiplier = integer(c, "depth_multiplier", 1);
      index = g.layer(node, OpKind::separable_conv2d, in, a, type);
      expect(c, top, index, {"depthwise_kernel", "pointwise_kernel", "bias"}, {"", "", ""});
    } else if (cls == "Dense") {
      if (shape_of(in[0]).size() != 1)
        fail_layer(c.name, cls, "applied to a " + shape_string(shape_of(in[0])) +
                                    " feature map; only flat inputs are supported (add Flatten or a global pooling)");
      a.filters = integer(c, "units", 0);
      a.use_bias = boolean(c, "use_bias", true);
      a.activation = activation(c);
      index = g.layer(node, OpKind::dense, in, a, type);
      expect(c, top, index, {"kernel", "bias"}, {"", ""});
    } else if (cls == "BatchNormalization") {
      channel_axis(c, "axis", in[0]);
      a.epsilon = number(c, "epsilon", 1e-3);
      a.center = boolean(c, "center", true);
      a.scale = boolean(c, "scale", true);
      index = g.layer(node, OpKind::batch_norm, in, a, type);
      expect(c, top, index, {"gamma", "beta", "moving_mean", "moving_variance"}, {"", "", "", ""});
    } else if (cls == "Activation") {
      a.activation = activation(c);
      index = g.layer(node, OpKind::activation, in, a, type);
    } else if (cls == "ReLU") {
      a.activation = "relu";
      a.max_value = number(c, "max_value", -1.0);
      a.alpha = number(c, "negative_slope", 0.0);
      a.threshold = number(c, "threshold", 0.0);
      index = g.layer(node, OpKind::activation, in, a, type);
    } else if (cls == "LeakyReLU") {
      a.activation = "leaky_relu";
      // Keras 3 calls the slope negative_slope, Keras 2 alpha; both default to 0.3.
      a.alpha = number(c, "negative_slope", number(c, "alpha", 0.3));
      index = g.layer(node, OpKind::activation, in, a, type);
    } else if (cls == "ELU") {
      a.activation = "elu";
      a.alpha = number(c, "alpha", 1.0);
      index = g.layer(node, OpKind::activation, in, a, type);
    } else if (cls == "Softmax") {
      channel_axis(c, "axis", in[0]);
      a.activation = "softmax";
      index = g.layer(node, OpKind::activation, in, a, type);
    } else if (cls == "MaxPooling2D" || cls == "AveragePooling2D") {
      channels_last(c);
      std::tie(a.kernel_h, a.kernel_w) = pair(c, "pool_size", {2, 2});
      std::tie(a.stride_h, a.stride_w) = pair(c, "strides", {a.kernel_h, a.kernel_w});
      a.padding = text(c, "padding", "valid");
      index = g.layer(node, cls == "MaxPooling2D" ? OpKind::max_pool : OpKind::avg_pool, in, a, type);
    } else if (cls == "GlobalMaxPooling2D" || cls == "GlobalAveragePooling2D") {
      channels_last(c);
      a.keepdims = boolean(c, "keepdims", false);
      index = g.layer(node, cls == "GlobalMaxPooling2D" ? OpKind::global_max_pool : OpKind::global_avg_pool, in, a, type);
    } else if (cls == "ZeroPadding2D" || cls == "Cropping2D") {
      channels_last(c);
      const auto s = sides(c, cls == "ZeroPadding2D" ? "padding" : "cropping", cls == "ZeroPadding2D" ? 1 : 0);
      a.pad_top = s[0];
      a.pad_bottom = s[1];
      a.pad_left = s[2];
      a.pad_right = s[3];
      index = g.layer(node, cls == "ZeroPadding2D" ? OpKind::zero_pad : OpKind::crop, in, a, type);
    } else if (cls == "Flatten") {
      channels_last(c);
      index = g.layer(node, OpKind::flatten, in, a, type);
    } else if (cls == "Reshape") {
      const json* t = find(c, "target_shape");
      if (!t || !t->is_array()) fail_layer(c.name, cls, "target_shape must be a list");
      for (const auto& d : *t) {
        if (!d.is_number_integer()) fail_layer(c.name, cls, "target_shape " + t->dump() + ": only fixed sizes are supported");
        a.target.push_back(bounded(c, "target_shape", d));
      }
      index = g.layer(node, OpKind::reshape, in, a, type);
    } else if (cls == "Dropout" || cls == "SpatialDropout2D" || cls == "GaussianNoise" || cls == "GaussianDropout") {
      a.rate = number(c, "rate", 0.0);
      index = g.layer(node, OpKind::dropout, in, a, type);  // identity at inference
    } else if (cls == "Add" || cls == "Subtract" || cls == "Multiply" || cls == "Average" || cls == "Maximum") {
      const OpKind kind = cls == "Add" ? OpKind::add
                          : cls == "Subtract" ? OpKind::subtract
                          : cls == "Multiply" ? OpKind::multiply
                          : cls == "Average" ? OpKind::average
                                             : OpKind::maximum;
      index = g.layer(node, kind, in, a, type);
    } else if (cls == "Concatenate") {
      channel_axis(c, "axis", in[0]);
      index = g.layer(node, OpKind::concat, in, a, type);
    } else if (cls == "Rescaling") {
      a.scale_values = numbers(c, "scale", 1.0);
      a.offset_values = numbers(c, "offset", 0.0);
      index = g.layer(node, OpKind::rescale, in, a, type);
    } else if (cls == "Normalization") {
      index = add_normalization(c, in, node, top, type);
    } else if (cls == "Conv2DTranspose") {
      conv_common();
      a.filters = integer(c, "filters", 0);
      if (find(c, "output_padding")) fail_layer(c.name, cls, "output_padding is not supported");
      index = g.layer(node, OpKind::conv2d_transpose, in, a, type);
      expect(c, top, index, {"kernel", "bias"}, {"", ""});
    } else if (cls == "PReLU") {
      index = add_prelu(c, in, node, top, type);
    } else if (cls == "LayerNormalization") {
      channel_axis(c, "axis", in[0]);
      if (boolean(c, "rms_scaling", false)) fail_layer(c.name, cls, "rms_scaling: true is not supported");
      a.epsilon = number(c, "epsilon", 1e-3);
      a.center = boolean(c, "center", true);
      a.scale = boolean(c, "scale", true);
      index = g.layer(node, OpKind::layer_norm, in, a, type);
      expect(c, top, index, {"gamma", "beta"}, {"", ""});
    } else if (cls == "Resizing") {
      channels_last(c);
      a.target = {integer(c, "height", 0), integer(c, "width", 0)};
      a.interpolation = text(c, "interpolation", "bilinear");
      if (boolean(c, "crop_to_aspect_ratio", false) || boolean(c, "pad_to_aspect_ratio", false))
        fail_layer(c.name, cls, "crop_to_aspect_ratio and pad_to_aspect_ratio are not supported");
      index = g.layer(node, OpKind::resize, in, a, type);
    } else {
      fail_layer(c.name, cls, "unsupported layer class; supported: " + join(supported()));
    }
    return index;
  }

  /// alpha has the input's shape with the shared axes (Keras counts the batch as 0) set to 1.
  int add_prelu(const Ctx& c, const std::vector<int>& in, const std::string& node, const std::string& top,
                const std::string& type) {
    const Shape& shape = shape_of(in[0]);  // LibTorch order: {C, H, W} or {C}
    Shape keras = shape.size() == 3 ? Shape{shape[1], shape[2], shape[0]} : shape;
    if (const json* shared = find(c, "shared_axes")) {
      const json list = shared->is_array() ? *shared : json::array({*shared});
      for (const auto& axis : list) {
        if (!axis.is_number_integer() || axis.get<std::int64_t>() < 1 ||
            axis.get<std::int64_t>() > static_cast<std::int64_t>(keras.size()))
          fail_layer(c.name, c.cls, "shared_axes " + shared->dump() + " names an axis the input does not have");
        keras[static_cast<std::size_t>(axis.get<std::int64_t>() - 1)] = 1;
      }
    }
    OpAttrs a;
    a.target = keras.size() == 3 ? Shape{keras[2], keras[0], keras[1]} : keras;
    const int index = m_model.graph->layer(node, OpKind::prelu, in, a, type);
    expect(c, top, index, {"alpha"}, {""});
    return index;
  }

  int add_normalization(const Ctx& c, const std::vector<int>& in, const std::string& node, const std::string& top,
                        const std::string& type) {
    channel_axis(c, "axis", in[0]);
    if (boolean(c, "invert", false)) fail_layer(c.name, c.cls, "invert: true is not supported");
    Graph& g = *m_model.graph;
    OpAttrs a;
    const int index = g.layer(node, OpKind::normalize, in, a, type);
    if (!find(c, "mean") && !find(c, "variance")) {
      // Adapted statistics are the layer's variables: mean, variance, then a count.
      expect(c, top, index, {"mean", "variance", "count"}, {"", "", ""});
      return index;
    }
    if (!find(c, "mean") || !find(c, "variance")) fail_layer(c.name, c.cls, "needs both mean and variance, or neither");
    const std::int64_t channels = shape_of(index)[0];
    const Node& n = g.nodes()[static_cast<std::size_t>(index)];
    const char* keys[2] = {"mean", "variance"};
    for (int k = 0; k < 2; ++k) {
      const std::vector<double> v = numbers(c, keys[k], 0.0);
      if (v.size() != 1 && static_cast<std::int64_t>(v.size()) != channels)
        fail_layer(c.name, c.cls, std::string(keys[k]) + " has " + std::to_string(v.size()) + " values for " +
                                      std::to_string(channels) + " channels");
      at::Tensor values = torch::tensor(v, torch::kDouble).to(torch::kFloat);
      g.params()[static_cast<std::size_t>(n.params[static_cast<std::size_t>(k)])].tensor.copy_(values.expand({channels}));
    }
    return index;
  }

  /// Records the variables a layer reads from the weights file, matched to its graph
  /// parameters by their Keras names (absent ones, such as a bias with use_bias
  /// false, are not expected).
  void expect(const Ctx& c, const std::string& top, int index, const std::vector<std::string>& vars,
              const std::vector<std::string>& aliases) {
    const Graph& g = *m_model.graph;
    const Node& n = g.nodes()[static_cast<std::size_t>(index)];
    KerasLayerWeights w;
    w.top = top;
    w.leaf = c.name;
    w.keras_class = c.cls;
    w.layer = n.name;
    w.saved_path = c.saved_path;
    for (std::size_t v = 0; v < vars.size(); ++v) {
      int param = -1;
      for (int p : n.params)
        if (g.params()[static_cast<std::size_t>(p)].keras_var == vars[v]) param = p;
      if (param < 0 && vars[v] != "count") continue;
      w.vars.push_back(vars[v]);
      w.params.push_back(param);
      w.aliases.push_back(aliases[v]);
    }
    m_model.weights.push_back(std::move(w));
  }

  /// The logits: a final softmax or sigmoid is taken off the layer that applies it
  /// (vizrun's convention: the logits layer returns logits, output_activation says
  /// what follows them). A nested model's output passes through to its last layer.
  void describe_output(int out) {
    Graph& g = *m_model.graph;
    auto& nodes = g.nodes();
    int n = out;
    while (n >= 0 && nodes[static_cast<std::size_t>(n)].kind == OpKind::identity) n = nodes[static_cast<std::size_t>(n)].inputs[0];
    if (n >= 0) {
      Node& last = nodes[static_cast<std::size_t>(n)];
      const std::string act = last.attrs.activation;
      const bool squashing = act == "softmax" || act == "sigmoid";
      if (squashing && (last.kind == OpKind::dense || last.kind == OpKind::conv2d)) {
        last.attrs.activation = "linear";
        m_model.output_activation = act;
        m_model.logits_layer = last.name;
      } else if (squashing && last.kind == OpKind::activation && last.inputs[0] >= 0) {
        m_model.output_activation = act;
        m_model.logits_layer = nodes[static_cast<std::size_t>(last.inputs[0])].name;
      } else if (last.kind == OpKind::dense) {
        m_model.logits_layer = last.name;
      }
    }
    for (const auto& node : nodes)
      if (node.kind == OpKind::conv2d || node.kind == OpKind::separable_conv2d) m_model.last_conv_layer = node.name;
    for (const auto& node : nodes) {
      if (node.kind != OpKind::dense) continue;
      for (int j = node.inputs[0]; j >= 0; j = nodes[static_cast<std::size_t>(j)].inputs[0]) {
        const OpKind k = nodes[static_cast<std::size_t>(j)].kind;
        if (k == OpKind::flatten || k == OpKind::reshape) m_model.fixed_size = true;
        if (nodes[static_cast<std::size_t>(j)].inputs.empty() || k == OpKind::flatten || k == OpKind::reshape) break;
      }
    }
  }

  KerasModel& m_model;
  std::string m_origin;
  bool m_before_keras3;  ///< the file was written by Keras 1 or 2 (tf.keras)
  struct Container {
    std::string prefix;              ///< saved path of the model being built, "" or ".../"
    std::map<std::string, int> seen;  ///< layers per snake_case class so far
  };
  std::vector<Container> m_containers;  ///< the models being built, outermost first
};

}  // namespace

std::vector<std::string> keras_supported_layers() { return supported(); }

KerasModel build_keras_model(const std::string& config_json, const std::string& origin, std::int64_t height,
                             std::int64_t width, const std::string& keras_version) {
  json root;
  try {
    root = json::parse(config_json);
  } catch (const json::exception& e) {
    throw Error(origin + ": the model config is not valid JSON: " + e.what());
  }
  KerasModel model;
  Builder(model, origin, keras_version).build(root, height, width);
  return model;
}

// --- the file

namespace {

std::string first_bytes(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return head;
}

std::string zip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

/// Closes a libzip archive or entry on every path out.
struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

}  // namespace

KerasModelFile::KerasModelFile(const std::string& path) : m_path(path) {
  if (!std::filesystem::is_regular_file(path)) throw Error("keras: model.weights " + path + " is not a file");
  const std::string head = first_bytes(path, 8);
  if (head.rfind("PK\x03\x04", 0) == 0) {
    m_format = "keras";
    try {
      open_zip();
    } catch (...) {
      // The destructor does not run for a constructor that throws.
      if (m_temporary) std::remove(m_weights.c_str());
      throw;
    }
    return;
  }
  if (head.rfind("\x89HDF\r\n\x1a\n", 0) != 0)
    throw Error("keras: " + path + " is neither a Keras .keras file (a zip) nor a Keras .h5 file (HDF5)");
  m_format = "h5";
  m_config = read_h5_root_string_attribute(path, "model_config");
  if (m_config.empty())
    throw Error("keras: " + path + " holds weights only (no model_config attribute): save the whole model with "
                "model.save(\"model.keras\") or model.save(\"model.h5\")");
  // Only a hint (it picks Keras 2's hard_sigmoid): an unreadable one counts as absent, as
  // the weights reader treats it (found by fuzz_keras_h5_layout).
  try {
    m_keras_version = read_h5_root_string_attribute(path, "keras_version");
  } catch (const Error&) {
  }
  m_weights = path;
}

void KerasModelFile::open_zip() {
  int code = 0;
  std::unique_ptr<zip_t, ZipCloser> zip(zip_open(m_path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!zip) throw Error("keras: " + m_path + " is not a readable .keras zip: " + zip_message(code));
  auto read_entry = [&](const char* name, auto&& sink) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(zip.get(), name, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      throw Error("keras: " + m_path + " has no " + name + " (is it a Keras 3 .keras file?)");
    std::unique_ptr<zip_file_t, ZipCloser> entry(zip_fopen(zip.get(), name, 0));
    if (!entry) throw Error("keras: " + m_path + ": cannot open " + name + ": " + zip_strerror(zip.get()));
    std::vector<char> buffer(1 << 20);
    zip_uint64_t total = 0;
    for (;;) {
      const zip_int64_t n = zip_fread(entry.get(), buffer.data(), buffer.size());
      if (n < 0) throw Error("keras: " + m_path + ": " + name + " is damaged: " + zip_file_strerror(entry.get()));
      if (n == 0) break;
      total += static_cast<zip_uint64_t>(n);
      sink(buffer.data(), static_cast<std::size_t>(n), st.size);
    }
    if (total != st.size) throw Error("keras: " + m_path + ": " + name + " is truncated");
  };
  read_entry("config.json", [&](const char* data, std::size_t n, zip_uint64_t size) {
    if (size > kMaxConfigBytes) throw Error("keras: " + m_path + ": config.json is larger than 64 MiB");
    m_config.append(data, n);
  });
  // metadata.json names the Keras that wrote the file (tf_keras writes .keras files too).
  if (zip_name_locate(zip.get(), "metadata.json", 0) >= 0) {
    std::string metadata;
    read_entry("metadata.json", [&](const char* data, std::size_t n, zip_uint64_t size) {
      if (size > kMaxConfigBytes) throw Error("keras: " + m_path + ": metadata.json is larger than 64 MiB");
      metadata.append(data, n);
    });
    const json meta = json::parse(metadata, nullptr, /*allow_exceptions=*/false);
    if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string())
      m_keras_version = meta["keras_version"].get<std::string>();
  }
  // HDF5 reads files, so the weights go to a private temporary file for the load.
  std::string pattern = (std::filesystem::temp_directory_path() / "vizrun-keras-XXXXXX").string();
  const int fd = mkstemp(pattern.data());
  if (fd < 0) throw Error("keras: cannot create a temporary file for " + m_path + "'s weights");
  close(fd);
  m_weights = pattern;
  m_temporary = true;
  std::ofstream out(m_weights, std::ios::binary | std::ios::trunc);
  read_entry("model.weights.h5", [&](const char* data, std::size_t n, zip_uint64_t) {
    out.write(data, static_cast<std::streamsize>(n));
    if (!out) throw Error("keras: cannot write the temporary copy of " + m_path + "'s weights (disk full?)");
  });
  out.close();
  if (!out) throw Error("keras: cannot write the temporary copy of " + m_path + "'s weights (disk full?)");
}

KerasModelFile::~KerasModelFile() {
  if (m_temporary) std::remove(m_weights.c_str());
}

// --- weights

namespace {

/// The shape Keras stores a variable in, from the graph parameter it fills.
Shape keras_shape(const KerasLayerWeights& w, const std::string& var, const ParamSpec& p, const Node& n) {
  const Shape& s = p.shape;
  if (s.size() == 4 && (var == "depthwise_kernel" || (var == "kernel" && w.keras_class == "DepthwiseConv2D")))
    return {s[2], s[3], s[0] / n.attrs.depth_multiplier, n.attrs.depth_multiplier};
  if (s.size() == 4) return {s[2], s[3], s[1], s[0]};  // OIHW -> HWIO (a transposed convolution: IOHW -> HWOI)
  if (s.size() == 3) return {s[1], s[2], s[0]};        // PReLU's alpha: CHW -> HWC
  if (s.size() == 2) return {s[1], s[0]};              // (out, in) -> (in, out)
  return s;
}

/// A Keras-layout tensor in the parameter's LibTorch layout.
at::Tensor to_torch_layout(const at::Tensor& k, const KerasLayerWeights& w, const std::string& var) {
  if (k.dim() == 4 && (var == "depthwise_kernel" || (var == "kernel" && w.keras_class == "DepthwiseConv2D"))) {
    // (kh, kw, in, multiplier) -> (in * multiplier, 1, kh, kw): output channel c * m + j, as TensorFlow orders them.
    return k.reshape({k.size(0), k.size(1), -1}).permute({2, 0, 1}).unsqueeze(1);
  }
  if (k.dim() == 4) return k.permute({3, 2, 0, 1});
  if (k.dim() == 3) return k.permute({2, 0, 1});
  return k;  // vectors; Dense kernels are read by read_dense_kernel
}

/// "inner/conv2d/kernel:0" -> {"conv2d", "kernel"}: legacy weight names are paths.
std::pair<std::string, std::string> split_weight_name(std::string name, const std::string& group) {
  const auto colon = name.rfind(':');
  if (colon != std::string::npos && colon + 1 < name.size() &&
      std::all_of(name.begin() + static_cast<std::ptrdiff_t>(colon) + 1, name.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    name.resize(colon);
  const auto slash = name.rfind('/');
  if (slash == std::string::npos) return {group, name};
  const std::string var = name.substr(slash + 1);
  const std::string rest = name.substr(0, slash);
  const auto before = rest.rfind('/');
  return {before == std::string::npos ? rest : rest.substr(before + 1), var};
}

}  // namespace

namespace {

/// A Dense kernel (in, out) into the weight (out, in), read in blocks of rows so that a
/// large classifier never needs a second full-size copy (rows after a Flatten go from
/// Keras' H, W, C order to C, H, W columns).
void read_dense_kernel(const KerasH5& h5, std::pair<std::size_t, std::size_t> at, ParamSpec& p) {
  constexpr std::int64_t kChunkBytes = 16 << 20;
  const std::int64_t in = p.shape[1], out = p.shape[0];
  const std::int64_t rows_per_chunk = std::max<std::int64_t>(1, kChunkBytes / (out * 4));
  const Shape& chw = p.flattened_from;
  for (std::int64_t r0 = 0; r0 < in; r0 += rows_per_chunk) {
    const std::int64_t n = std::min(rows_per_chunk, in - r0);
    at::Tensor rows = torch::empty({n, out}, torch::kFloat32);
    h5.read(at.first, at.second, rows.data_ptr<float>(), r0, n);
    if (chw.size() != 3) {
      p.tensor.narrow(1, r0, n).copy_(rows.t());
      continue;
    }
    // Keras row (h * W + w) * C + c is LibTorch column c * H * W + h * W + w.
    const std::int64_t C = chw[0], HW = chw[1] * chw[2];
    const at::Tensor row = torch::arange(r0, r0 + n, torch::kInt64);
    p.tensor.index_copy_(1, (row % C) * HW + torch::div(row, C, "floor"), rows.t());
  }
}

}  // namespace

void load_keras_model_weights(KerasModel& model, const KerasModelFile& file) {
  const std::string origin = "keras: " + file.path();
  KerasH5 h5(file.weights_path(), /*allow_keras3=*/true);
  using Key = std::tuple<std::string, std::string, std::string>;  // top, leaf, var
  std::map<Key, std::pair<std::size_t, std::size_t>> legacy;       // -> (layer, weight)
  std::map<std::pair<std::string, std::string>, std::size_t> keras3;  // (top, leaf) -> layer
  std::map<std::string, std::size_t> saved;  // group -> layer, for files that name no layer
  std::set<std::pair<std::size_t, std::size_t>> unused;
  const auto& layers = h5.layers();
  // tf_keras writes .keras weights without layer names: layers are then found by their
  // place in the model (KerasLayerWeights::saved_path), never by a mix of both.
  const bool by_place = h5.keras3() && std::none_of(layers.begin(), layers.end(), [](const H5Layer& L) { return L.named; });
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const H5Layer& L = layers[l];
    saved[L.name] = l;
    if (h5.keras3()) {
      const std::string& k = L.keras_name;
      const auto first = k.find('/'), last = k.rfind('/');
      keras3[{k.substr(0, first), last == std::string::npos ? k : k.substr(last + 1)}] = l;
    }
    for (std::size_t w = 0; w < L.weights.size(); ++w) {
      unused.insert({l, w});
      if (!h5.keras3()) {
        const auto [leaf, var] = split_weight_name(L.weights[w].name, L.name);
        legacy[{L.name, leaf, var}] = {l, w};
      }
    }
  }
  std::vector<std::string> problems;
  std::vector<float> buffer;
  for (const auto& w : model.weights) {
    std::optional<std::size_t> k3_layer;
    if (h5.keras3()) {
      if (by_place) {
        if (const auto it = saved.find(w.saved_path); it != saved.end()) k3_layer = it->second;
      } else if (const auto it = keras3.find({w.top, w.leaf}); it != keras3.end()) {
        k3_layer = it->second;
      }
      if (!k3_layer) {
        problems.push_back("layer '" + w.layer + "' (" + w.keras_class + ") has no weights in the file");
        continue;
      }
      const std::size_t have = layers[*k3_layer].weights.size();
      if (have != w.vars.size()) {
        problems.push_back("layer '" + w.layer + "' (" + w.keras_class + ") needs " + std::to_string(w.vars.size()) +
                           " variables (" + join(w.vars) + "), the file has " + std::to_string(have));
        continue;
      }
    }
    for (std::size_t v = 0; v < w.vars.size(); ++v) {
      std::pair<std::size_t, std::size_t> at;
      if (k3_layer) {
        at = {*k3_layer, v};
      } else {
        auto it = legacy.find({w.top, w.leaf, w.vars[v]});
        if (it == legacy.end() && !w.aliases[v].empty()) it = legacy.find({w.top, w.leaf, w.aliases[v]});
        if (it == legacy.end()) {
          problems.push_back("layer '" + w.layer + "' (" + w.keras_class + "): the file has no " + w.vars[v]);
          continue;
        }
        at = it->second;
      }
      unused.erase(at);
      if (w.params[v] < 0) continue;  // read by Keras, not needed for inference
      ParamSpec& p = model.graph->params()[static_cast<std::size_t>(w.params[v])];
      const Node& node = model.graph->nodes()[static_cast<std::size_t>(model.graph->find(w.layer))];
      const Shape want = keras_shape(w, w.vars[v], p, node);
      const Shape& have = layers[at.first].weights[at.second].shape;
      if (have != want) {
        problems.push_back("layer '" + w.layer + "' " + w.vars[v] + ": the file has " + shape_string(have) +
                           ", the config needs " + shape_string(want));
        continue;
      }
      if (have.size() == 2) {
        read_dense_kernel(h5, at, p);
        continue;
      }
      std::int64_t count = 1;
      for (auto d : have) count *= d;
      buffer.resize(static_cast<std::size_t>(count));
      h5.read(at.first, at.second, buffer.data());
      const at::Tensor keras = torch::from_blob(buffer.data(), have, torch::kFloat32);
      p.tensor.copy_(to_torch_layout(keras, w, w.vars[v]));
    }
  }
  for (const auto& [l, wi] : unused) {
    problems.push_back("the file's weight '" + layers[l].name + "/" + layers[l].weights[wi].name +
                       "' belongs to no layer of the config");
    if (problems.size() > 20) break;
  }
  if (!problems.empty()) {
    const std::size_t shown = std::min<std::size_t>(problems.size(), 8);
    std::string msg = origin + ": the weights do not fit the architecture: " +
                      join({problems.begin(), problems.begin() + static_cast<std::ptrdiff_t>(shown)}, "; ");
    if (problems.size() > shown) msg += "; and " + std::to_string(problems.size() - shown) + " more";
    throw Error(msg);
  }
  require_finite_weights(*model.graph, origin);
}

}  // namespace vizrun::models
