// The small_convnet architecture: a Keras-Sequential-like list of layers turned into
// a Graph. Shared by the small_convnet plugin and the demo model's training program.
#include "vizrun_models/small_convnet.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "vizrun/error.h"
#include "vizrun/option_check.h"
#include "vizrun_models/json_value.h"

namespace vizrun::models {
namespace {

const std::map<std::string, std::pair<std::string, std::string>>& kinds() {
  // type -> (canonical type, Keras auto-name prefix); Keras class names are accepted too.
  static const std::map<std::string, std::pair<std::string, std::string>> k{
      {"conv2d", {"conv2d", "conv2d"}},
      {"max_pool", {"max_pool", "max_pooling2d"}},
      {"max_pooling2d", {"max_pool", "max_pooling2d"}},
      {"avg_pool", {"avg_pool", "average_pooling2d"}},
      {"average_pooling2d", {"avg_pool", "average_pooling2d"}},
      {"batch_norm", {"batch_norm", "batch_normalization"}},
      {"batch_normalization", {"batch_norm", "batch_normalization"}},
      {"activation", {"activation", "activation"}},
      {"dropout", {"dropout", "dropout"}},
      {"flatten", {"flatten", "flatten"}},
      {"global_avg_pool", {"global_avg_pool", "global_average_pooling2d"}},
      {"global_average_pooling2d", {"global_avg_pool", "global_average_pooling2d"}},
      {"global_max_pool", {"global_max_pool", "global_max_pooling2d"}},
      {"global_max_pooling2d", {"global_max_pool", "global_max_pooling2d"}},
      {"dense", {"dense", "dense"}},
  };
  return k;
}

/// Bounds of the architecture parameters. The plugin's schema states the same ones
/// (a test checks), but an `architecture` file is read only at create time, where the
/// schema does not reach, so they are checked here again for every layer.
struct Bounds {
  std::int64_t min, max;
};
constexpr Bounds kInputSize{1, kMaxModelInputSize};
constexpr Bounds kFilters{1, 4096};
constexpr Bounds kUnits{1, 65536};
constexpr Bounds kKernel{1, 64};
constexpr Bounds kPool{1, 64};
constexpr Bounds kStride{0, 64};  // 0: conv2d stride 1, pools stride = pool size
constexpr std::size_t kMaxLayers = 1000;

/// An error about one key of a layer (or of input), so that the deep check can point
/// at it (OptionError's JSON pointer).
class KeyError : public Error {
 public:
  KeyError(std::string key, const std::string& message) : Error(message), m_key(std::move(key)) {}
  const std::string& key() const { return m_key; }

 private:
  std::string m_key;
};

std::int64_t bounded_int(const Value& v, const std::string& key, Bounds b) {
  if (!v.is_int()) throw KeyError(key, key + " must be an integer, got " + v.type_name());
  const std::int64_t n = v.as_int();
  if (n < b.min || n > b.max)
    throw KeyError(key, key + " must be between " + std::to_string(b.min) + " and " + std::to_string(b.max) + ", got " +
                std::to_string(n));
  return n;
}

std::int64_t bounded_int(const Value& dict, const std::string& key, std::int64_t fallback, Bounds b) {
  return bounded_int(dict.get(key, fallback), key, b);
}

/// A finite number in [min, max] (`open_min`: strictly above min).
double bounded_number(const Value& dict, const std::string& key, double fallback, double min, double max,
                      bool open_min = false) {
  const Value v = dict.get(key, fallback);
  if (!v.is_number()) throw KeyError(key, key + " must be a number, got " + v.type_name());
  const double d = v.as_double();
  if (!std::isfinite(d) || d < min || d > max || (open_min && d == min))
    throw KeyError(key, key + " must be a number " + (open_min ? "above " : "from ") + std::to_string(min) + " to " +
                std::to_string(max) + ", got " + std::to_string(d));
  return d;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Spec {
  std::string source;  ///< the architecture file, if any (for messages)
  bool input_from_file = false;   ///< input, layers: read from `source`, not the options
  bool layers_from_file = false;
  Value input;
  List layers;
  std::string preprocessing;
  std::vector<std::string> class_names;
};

Spec read_spec(const Value& o, const Host* host) {
  Spec s;
  Value file;
  std::string arch = o.get("architecture", "").as_string();
  if (!arch.empty()) {
    s.source = arch;
    if (host) {
      file = host->read_config(arch);  // YAML or JSON, relative to the experiment file
    } else {
      std::string ext = lower(arch.substr(std::min(arch.size(), arch.find_last_of('.'))));
      if (ext == ".yaml" || ext == ".yml")
        throw Error("small_convnet: architecture '" + arch + "' is YAML, which needs the host to read it");
      file = value_from_json_file(arch);
    }
    if (!file.is_dict())
      throw OptionError(arch, "", "small_convnet: architecture '" + arch + "' must hold a mapping with input and layers");
  }
  auto pick = [&](const std::string& key, const Value& fallback, bool* from_file = nullptr) -> Value {
    Value mine = o.get(key, Value());
    bool mine_is_default = mine.is_null() || mine == fallback;
    if (mine_is_default && file.is_dict() && file.contains(key)) {
      if (from_file) *from_file = true;
      return file.at(key);
    }
    return mine.is_null() ? fallback : mine;
  };
  s.input = pick("input", Dict{{"height", 150}, {"width", 150}, {"channels", 3}}, &s.input_from_file);
  const Value layers = pick("layers", List{}, &s.layers_from_file);
  if (!layers.is_list())
    throw OptionError(s.layers_from_file ? s.source : "", "/layers",
                      "small_convnet: " + (s.layers_from_file ? "architecture '" + s.source + "': " : std::string()) +
                          "layers must be a list, got " + layers.type_name());
  s.layers = layers.as_list();
  s.preprocessing = pick("preprocessing", "divide_255").as_string();
  const Value class_names = pick("class_names", List{});
  for (const auto& n : class_names.as_list()) s.class_names.push_back(n.as_string());
  if (s.layers.empty())
    throw OptionError("", "/layers", "small_convnet: no layers declared; give options.layers (a list of {type: conv2d, filters: 32, ...}) "
                "or options.architecture (a JSON file)");
  return s;
}

SmallConvnetModel build(const Spec& s) {
  if (!s.input.is_dict()) throw Error("small_convnet: input must be a mapping with height, width and channels");
  std::int64_t height = 0, width = 0, channels = 0;
  try {
    height = bounded_int(s.input, "height", 150, kInputSize);
    width = bounded_int(s.input, "width", 150, kInputSize);
    channels = bounded_int(s.input, "channels", 3, {1, 3});
  } catch (const KeyError& e) {
    throw OptionError(s.input_from_file ? s.source : "", "/input/" + e.key(),
                      "small_convnet: " + (s.source.empty() ? "" : "architecture '" + s.source + "': ") + "input." +
                          e.what());
  }
  if (channels != 1 && channels != 3) throw Error("small_convnet: input.channels must be 1 or 3");
  if (s.layers.size() > kMaxLayers)
    throw Error("small_convnet: " + std::to_string(s.layers.size()) + " layers declared; at most " +
                std::to_string(kMaxLayers) + " are supported");
  SmallConvnetModel b;
  b.graph = std::make_unique<Graph>(Shape{channels, height, width});
  Graph& g = *b.graph;

  std::set<std::string> given;
  for (const auto& l : s.layers)
    if (l.is_dict() && !l.get("name", "").as_string().empty()) given.insert(l.at("name").as_string());
  std::map<std::string, int> counters;
  auto auto_name = [&](const std::string& prefix) {
    std::string name;
    do name = prefix + "_" + std::to_string(++counters[prefix]);
    while (given.count(name));
    return name;
  };

  int x = -1;
  for (std::size_t i = 0; i < s.layers.size(); ++i) {
    const Value& l = s.layers[i];
    std::string where = "small_convnet: " + (s.source.empty() ? "" : "architecture '" + s.source + "': ") + "layer " +
                        std::to_string(i + 1);
    const std::string layer_file = s.layers_from_file ? s.source : "";
    const std::string layer_pointer = "/layers/" + std::to_string(i);
    if (!l.is_dict()) throw OptionError(layer_file, layer_pointer, where + " must be a mapping with a type");
    std::string type = lower(l.get("type", "").as_string());
    auto kind = kinds().find(type);
    if (kind == kinds().end())
      throw OptionError(layer_file, layer_pointer + "/type", where + " has unknown type '" + type +
                  "'; expected conv2d, max_pool, avg_pool, batch_norm, activation, dropout, flatten, global_avg_pool, "
                  "global_max_pool or dense");
    const std::string& k = kind->second.first;
    std::string name = l.get("name", "").as_string();
    if (name.empty()) name = auto_name(kind->second.second);
    where += " ('" + name + "')";
    std::string padding = l.get("padding", "valid").as_string();
    std::string act = l.get("activation", "linear").as_string();
    try {
      if (padding != "valid" && padding != "same")
        throw KeyError("padding", "padding must be valid or same, got '" + padding + "'");
      if (k == "conv2d") {
        std::int64_t kh = 3, kw = 3;
        Value kernel = l.get("kernel", 3);
        if (kernel.is_list()) {
          if (kernel.as_list().size() != 2) throw Error("kernel must be n or [height, width]");
          kh = bounded_int(kernel.as_list()[0], "kernel", kKernel);
          kw = bounded_int(kernel.as_list()[1], "kernel", kKernel);
        } else {
          kh = kw = bounded_int(kernel, "kernel", kKernel);
        }
        const std::int64_t stride = bounded_int(l, "stride", 0, kStride);
        x = g.conv2d(name, x, bounded_int(l, "filters", 32, kFilters), kh, kw, stride == 0 ? 1 : stride, padding,
                     l.get("use_bias", true).as_bool(), act);
      } else if (k == "max_pool" || k == "avg_pool") {
        const std::int64_t pool = bounded_int(l, "pool", 2, kPool);
        std::int64_t stride = bounded_int(l, "stride", 0, kStride);
        if (stride == 0) stride = pool;
        x = k == "max_pool" ? g.max_pool(name, x, pool, stride, padding) : g.avg_pool(name, x, pool, stride, padding);
      } else if (k == "batch_norm") {
        x = g.batch_norm(name, x, bounded_number(l, "epsilon", 1e-3, 0.0, 1.0, /*open_min=*/true));
      } else if (k == "activation") {
        x = g.activation(name, x, act);
      } else if (k == "dropout") {
        x = g.dropout(name, x, bounded_number(l, "rate", 0.5, 0.0, 1.0));
      } else if (k == "flatten") {
        x = g.flatten(name, x);
      } else if (k == "global_avg_pool") {
        x = g.global_avg_pool(name, x);
      } else if (k == "global_max_pool") {
        x = g.global_max_pool(name, x);
      } else if (k == "dense") {
        bool last = i + 1 == s.layers.size();
        // The classifier returns logits; its activation is reported by output_activation().
        bool strip = last && (act == "softmax" || act == "sigmoid");
        x = g.dense(name, x, bounded_int(l, "units", 1, kUnits), l.get("use_bias", true).as_bool(),
                    strip ? "linear" : act);
        if (strip) {
          b.description.output_activation = act;
          b.description.logits_layer = name;
        } else if (last) {
          b.description.logits_layer = name;
        }
      }
    } catch (const Error& e) {
      const auto* keyed = dynamic_cast<const KeyError*>(&e);
      throw OptionError(s.layers_from_file ? s.source : "",
                        "/layers/" + std::to_string(i) + (keyed ? "/" + keyed->key() : std::string()),
                        where + ": " + e.what());
    }
  }
  const auto& nodes = g.nodes();
  // A final softmax/sigmoid Activation layer after a dense: the dense gives the logits.
  if (nodes.size() >= 2 && nodes.back().kind == OpKind::activation &&
      (nodes.back().attrs.activation == "softmax" || nodes.back().attrs.activation == "sigmoid") &&
      nodes[nodes.size() - 2].kind == OpKind::dense) {
    b.description.output_activation = nodes.back().attrs.activation;
    b.description.logits_layer = nodes[nodes.size() - 2].name;
  }
  for (const auto& n : nodes)
    if (n.kind == OpKind::conv2d) b.description.last_conv_layer = n.name;
  b.description.input.channels = channels;
  b.description.input.height = height;
  b.description.input.width = width;
  // A flatten feeding a dense fixes the size; a fully convolutional model takes any size
  // large enough for its windows.
  bool has_flatten_dense = false;
  for (const auto& n : nodes)
    if (n.kind == OpKind::flatten) has_flatten_dense = true;
  b.description.input.fixed_size = has_flatten_dense;
  // Smallest size every window still fits (the layers before a classifier run at any
  // such size): try sizes up to the build size.
  b.description.input.min_size = std::min(height, width);
  for (std::int64_t m = 1; m <= std::min(height, width); ++m) {
    try {
      g.layers_for(m, m);
      b.description.input.min_size = m;
      break;
    } catch (const Error&) {
    }
  }
  b.description.class_names = s.class_names;
  return b;
}

}  // namespace

WeightsPlan small_convnet_weights_plan() {
  WeightsPlan p;
  p.model = "small_convnet";
  p.default_source = "random";
  p.allow_topological = true;
  return p;
}



void check_small_convnet(const Value& options, const Host* host) {
  try {
    build(read_spec(options, host));
  } catch (const OptionError&) {
    throw;
  } catch (const Error& e) {
    // Reading the architecture file failed (missing, or not YAML): the message names the
    // file, line and column; point at the option that names it.
    throw OptionError("", "/architecture", e.what());
  }
}

SmallConvnetModel build_small_convnet(const Value& options, const Host* host) {
  Spec s = read_spec(options, host);
  SmallConvnetModel b = build(s);
  b.description.preprocessing = s.preprocessing;
  return b;
}

}  // namespace vizrun::models
