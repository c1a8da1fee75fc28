// torchscript: any traced or scripted PyTorch CNN (torch.jit.trace(model, x).save(...)).
// Layers are module paths as PyTorch users write them for pytorch-grad-cam's
// target_layers ("features.29", "layer4", "layer4.1.conv2"); how their outputs
// become taps is in README.md beside this file.

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/remove_mutation.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "vizrun/error.h"
#include "vizrun/plugin.h"
#include "vizrun/suggest.h"
#include "vizrun_models/backend.h"
#include "vizrun_models/hashing.h"

namespace {

using namespace vizrun;
namespace jit = torch::jit;

const char* const kSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "torchscript options",
  "description": "A traced or scripted PyTorch model (model.weights names the .pt file).",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "input_size": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 4096}, "minItems": 2, "maxItems": 2, "default": [224, 224], "description": "[height, width] the model is fed by default."},
    "channels": {"type": "integer", "enum": [1, 3], "default": 3, "description": "Input channels: 3 (RGB) or 1 (grayscale)."},
    "fixed_size": {"type": "boolean", "default": false, "description": "The model runs only at input_size (a traced model whose shapes were frozen by tracing)."},
    "min_size": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 32, "description": "The smallest height or width the model takes."},
    "preprocessing": {"type": "string", "enum": ["torch", "caffe", "tf", "divide_255", "none"], "default": "torch", "description": "How RGB pixels in [0, 255] become network input; torch is torchvision's (x/255 - mean)/std."},
    "output_activation": {"type": "string", "enum": ["softmax", "sigmoid", "none"], "default": "softmax", "description": "What the model's users apply to its output (its output is taken as logits)."},
    "classes": {"description": "Class names: a list, or the path of a text file with one name per line (relative to the experiment file). Empty: none.", "default": [],
                "oneOf": [{"type": "array", "items": {"type": "string"}, "maxItems": 100000}, {"type": "string"}]},
    "last_conv_layer": {"type": "string", "default": "", "description": "What gradcam's layer: auto takes; empty: the last Conv2d module."}
  }
})json";

/// "__torch__.torchvision.models.resnet.BasicBlock" -> "basicblock"; Conv2d -> "conv2d".
std::string layer_type(const c10::ClassTypePtr& type) {
  std::string name = type && type->name() ? type->name()->name() : "module";
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

/// The module path a node was inlined from ("layer4.1.conv2"), "" for the top level.
std::string module_path(const jit::Node* node) {
  const auto stack = node->callstack();
  if (!stack) return "";
  std::string path;
  for (const auto& entry : (*stack)->vec()) {
    const auto& instance = std::get<2>(entry);
    if (!instance) continue;
    path += (path.empty() ? "" : ".") + instance->instance_name();
  }
  return path;
}

/// The node of the graph's top block that holds `node` (itself, or an If/Loop around it).
const jit::Node* top_level(const jit::Node* node, const jit::Graph& graph) {
  while (node->owningBlock() != graph.block() && node->owningBlock()->owningNode()) {
    node = node->owningBlock()->owningNode();
  }
  return node;
}

bool inside(const std::string& path, const std::string& module) {
  return path.size() >= module.size() && path.compare(0, module.size(), module) == 0 &&
         (path.size() == module.size() || path[module.size()] == '.');
}

/// A tap: the one tensor a module hands to the rest of the model.
struct Tap {
  std::string name;
  std::string type;
  std::size_t producer = 0;  ///< position of the node computing it, for model order
  std::int64_t parameters = 0;
};

class TorchScriptModel final : public ModelBackend, public LayerSummary, public LayerReplace, public GuidedRelu {
 public:
  explicit TorchScriptModel(const CreateArgs& args) : m_device(args.device) {
    read_options(args);
    load(args);
    find_taps();
  }

  std::vector<LayerInfo> layers() const override { return layers_for(m_input.height, m_input.width); }

  /// GuidedRelu: the scripted graph's ReLUs keep their own backward here.
  void set_guided_relu(bool enabled) override {
    if (enabled)
      throw Error("torchscript backend: guided backpropagation is not supported (the ReLUs run inside the scripted "
                  "graph); use a graph backend (vgg16, resnet50v2, small_convnet, keras) for guided_backprop");
  }

  std::vector<LayerInfo> layers_for(std::int64_t height, std::int64_t width) const override {
    std::vector<LayerInfo> out;
    for (const auto& d : layer_details(height, width)) out.push_back({d.name, d.type, d.shape});
    return out;
  }

  std::vector<LayerDetails> layer_details(std::int64_t height, std::int64_t width) const override {
    check_size(height, width);
    const auto shapes = shapes_at(height, width);
    std::vector<LayerDetails> out;
    for (const auto& t : m_taps) out.push_back({t.name, t.type, shapes.at(t.name), t.parameters, {}});
    return out;
  }

  InputSpec input_spec() const override { return m_input; }

  at::Tensor preprocess(const at::Tensor& rgb255) const override {
    return models::preprocess_rgb255(rgb255, m_preprocessing, m_input.channels).to(m_device);
  }
  at::Tensor deprocess(const at::Tensor& x) const override {
    return models::deprocess_to_rgb255(x, m_preprocessing, m_input.channels);
  }

  Activations forward(const at::Tensor& input, const std::vector<std::string>& taps) override {
    if (input.dim() != 4 || input.size(1) != m_input.channels) {
      throw Error("torchscript: input must be N x " + std::to_string(m_input.channels) + " x H x W");
    }
    check_size(input.size(2), input.size(3));
    const auto& code = code_for(taps);
    std::vector<c10::IValue> stack{m_module._ivalue(), input.to(m_device)};
    jit::InterpreterState(*code).run(stack);
    Activations out;
    for (std::size_t i = 0; i < taps.size(); ++i) out[taps[i]] = stack.at(i).toTensor();
    return out;
  }

  /// LayerReplace: the graph with `layer`'s value read from an extra input instead. The
  /// input is repeated k times (k variants per item); what only `layer` needed is dead code
  /// and is not run, and what does not depend on it (a skip path) is computed from the input.
  Activations forward_replaced(const at::Tensor& input, const std::string& layer, const at::Tensor& replacement,
                               const std::vector<std::string>& taps) override {
    if (input.dim() != 4 || input.size(1) != m_input.channels)
      throw Error("torchscript: input must be N x " + std::to_string(m_input.channels) + " x H x W");
    check_size(input.size(2), input.size(3));
    const std::int64_t n = input.size(0);
    if (n == 0 || replacement.dim() < 1 || replacement.size(0) % n != 0)
      throw Error("torchscript: forward_replaced: the replacement of " + layer + " must have k x " + std::to_string(n) +
                  " items (got " + (replacement.dim() < 1 ? std::string("a scalar") : std::to_string(replacement.size(0))) + ")");
    const std::int64_t k = replacement.size(0) / n;
    const auto& code = code_for(taps, layer);
    const at::Tensor repeated = k == 1 ? input : input.repeat_interleave(k, 0);
    std::vector<c10::IValue> stack{m_module._ivalue(), repeated.to(m_device), replacement.to(m_device)};
    jit::InterpreterState(*code).run(stack);
    Activations out;
    for (std::size_t i = 0; i < taps.size(); ++i) out[taps[i]] = stack.at(i).toTensor();
    return out;
  }

  std::vector<std::string> class_names() const override { return m_classes; }
  std::string output_activation() const override { return m_output_activation; }
  std::string logits_layer() const override { return kOutput; }
  std::string last_conv_layer() const override { return m_last_conv; }
  c10::Device device() const override { return m_device; }
  WeightsInfo weights_info() const override { return m_weights; }
  std::int64_t parameter_count() const override { return m_parameters; }

 private:
  static constexpr const char* kOutput = "output";

  void read_options(const CreateArgs& args) {
    const Value& o = args.options;
    const auto& size = o.at("input_size").as_list();
    m_input.channels = o.at("channels").as_int();
    m_input.height = size.at(0).as_int();
    m_input.width = size.at(1).as_int();
    m_input.fixed_size = o.at("fixed_size").as_bool();
    m_input.min_size = o.at("min_size").as_int();
    m_preprocessing = o.at("preprocessing").as_string();
    m_output_activation = o.at("output_activation").as_string();
    m_last_conv = o.at("last_conv_layer").as_string();
    const Value& classes = o.at("classes");
    if (classes.is_string()) {
      const std::string path = args.host ? args.host->resolve_path(classes.as_string()) : classes.as_string();
      std::ifstream in(path);
      if (!in) throw Error("torchscript: classes: cannot read " + path);
      for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) m_classes.push_back(line);
      }
    } else {
      for (const auto& c : classes.as_list()) m_classes.push_back(c.as_string());
    }
  }

  void load(const CreateArgs& args) {
    if (args.weights.empty() || args.weights == "random" || args.weights == "imagenet") {
      throw Error("torchscript: model.weights must name the .pt file (torch.jit.save), not '" + args.weights + "'");
    }
    const std::string path = args.host ? args.host->resolve_path(args.weights) : args.weights;
    if (!std::filesystem::is_regular_file(path)) throw Error("torchscript: model.weights " + path + " is not a file");
    try {
      m_module = jit::load(path, m_device);
    } catch (const c10::Error& e) {
      throw Error("torchscript: " + path + " is not a TorchScript model (torch.jit.save): " + e.what_without_backtrace());
    }
    m_module.eval();
    for (const auto& p : m_module.parameters()) {
      p.requires_grad_(false);
      m_parameters += p.numel();
    }
    for (const auto& b : m_module.buffers()) {
      if (b.is_floating_point()) m_parameters += b.numel();  // BatchNorm statistics, as Keras counts them
    }
    require_finite(path);
    m_weights = {args.weights, path, models::digest_file(path).sha256, {}};
  }

  /// NaN or infinite weights make every map NaN: refuse the file, naming the tensor.
  void require_finite(const std::string& path) const {
    auto check = [&](const std::string& kind, const std::string& name, const at::Tensor& t) {
      if (!t.is_floating_point() || t.isfinite().all().item<bool>()) return;
      const std::int64_t nan = t.isnan().sum().item<std::int64_t>();
      throw Error("torchscript: " + path + ": " + kind + " '" + name + "' holds " + std::to_string(nan) + " NaN and " +
                  std::to_string(t.numel() - nan - t.isfinite().sum().item<std::int64_t>()) + " infinite values of " +
                  std::to_string(t.numel()) + "; the weights are damaged, or the training diverged");
    };
    for (const auto& p : m_module.named_parameters()) check("parameter", p.name, p.value);
    for (const auto& b : m_module.named_buffers()) check("buffer", b.name, b.value);
  }

  /// Inlines forward into one graph (every node remembers the module it came from),
  /// turns in-place ops into functional ones (a tap must not be overwritten by a
  /// later in-place ReLU), and finds each module's single output.
  void find_taps() {
    if (!m_module.find_method("forward")) throw Error("torchscript: the model has no forward method");
    m_graph = m_module.get_method("forward").graph()->copy();
    jit::Inline(*m_graph);
    jit::RemoveTensorMutation(m_graph);
    if (m_graph->inputs().size() != 2) {
      throw Error("torchscript: forward must take one input tensor (it takes " + std::to_string(m_graph->inputs().size() - 1) + ")");
    }
    std::map<std::string, c10::ClassTypePtr> types;
    std::map<std::string, std::int64_t> parameters;
    for (const auto& item : m_module.named_modules()) {
      if (item.name.empty()) continue;
      types[item.name] = item.value.type();
      std::int64_t n = 0;
      for (const auto& p : item.value.parameters()) n += p.numel();
      for (const auto& b : item.value.buffers()) n += b.is_floating_point() ? b.numel() : 0;
      parameters[item.name] = n;
    }
    std::vector<jit::Node*> nodes(m_graph->nodes().begin(), m_graph->nodes().end());
    std::vector<std::string> paths;
    for (const auto* n : nodes) paths.push_back(module_path(n));
    std::map<const jit::Node*, std::size_t> position;
    for (std::size_t i = 0; i < nodes.size(); ++i) position[nodes[i]] = i;

    for (const auto& [name, type] : types) {
      // The values computed inside the module and read outside it (or returned).
      std::vector<jit::Value*> leaving;
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!inside(paths[i], name)) continue;
        for (jit::Value* v : nodes[i]->outputs()) {
          // Constants are pooled across modules: only computed tensors count.
          if (nodes[i]->kind() == c10::prim::Constant || !v->type()->cast<c10::TensorType>()) continue;
          const bool escapes = std::any_of(v->uses().begin(), v->uses().end(), [&](const jit::Use& u) {
            const jit::Node* user = top_level(u.user, *m_graph);
            return user == m_graph->return_node() || !inside(paths[position.at(user)], name);
          });
          if (escapes) leaving.push_back(v);
        }
      }
      // None (a module never called), or several: a tuple, or a module called twice
      // (a ReLU object reused in a block), which has no one output to show.
      if (leaving.size() != 1) continue;
      m_tap_values[name] = leaving[0];
      m_taps.push_back({name, layer_type(type), position.at(leaving[0]->node()), parameters[name]});
    }
    jit::Value* result = m_graph->outputs().at(0);
    if (!result->type()->cast<c10::TensorType>()) throw Error("torchscript: forward must return one tensor");
    m_tap_values[kOutput] = result;
    m_taps.push_back({kOutput, "output", nodes.size(), 0});
    // Model order; a module and its last child hand out the same value: the inner one first.
    const auto depth = [](const std::string& name) { return std::count(name.begin(), name.end(), '.'); };
    std::sort(m_taps.begin(), m_taps.end(), [&](const Tap& a, const Tap& b) {
      if (a.producer != b.producer) return a.producer < b.producer;
      if (depth(a.name) != depth(b.name)) return depth(a.name) > depth(b.name);
      return a.name < b.name;
    });
    if (m_last_conv.empty()) {
      for (const auto& t : m_taps) {
        if (t.type == "conv2d") m_last_conv = t.name;
      }
    } else if (!m_tap_values.count(m_last_conv)) {
      throw Error("torchscript: last_conv_layer '" + m_last_conv + "' is not a layer of the model" +
                  did_you_mean(m_last_conv, tap_names()));
    }
  }

  std::vector<std::string> tap_names() const {
    std::vector<std::string> names;
    for (const auto& t : m_taps) names.push_back(t.name);
    return names;
  }

  jit::Value* tap_value(const std::string& name) const {
    const auto it = m_tap_values.find(name);
    if (it == m_tap_values.end())
      throw Error("torchscript: no layer named '" + name + "'" + did_you_mean(name, tap_names()) + " (vizrun layers lists them)");
    return it->second;
  }

  /// An interpreter for a copy of the graph that returns `taps` and computes nothing else;
  /// with `replaced`, that layer's value is the graph's second input instead.
  const std::shared_ptr<jit::Code>& code_for(const std::vector<std::string>& taps, const std::string& replaced = "") {
    std::lock_guard<std::mutex> lock(m_mutex);
    std::string key = replaced.empty() ? "" : "replace " + replaced + '\n';
    for (const auto& t : taps) key += t + '\n';
    auto& code = m_codes[key];
    if (code) return code;
    if (taps.empty()) throw Error("torchscript: forward needs at least one layer to return");
    auto graph = m_graph->copy();  // node for node, in order: copies are found by position
    const std::map<const jit::Value*, jit::Value*> same = correspondence(*m_graph, *graph);
    while (!graph->outputs().empty()) graph->eraseOutput(0);
    jit::Value* original = nullptr;
    jit::Value* substitute = nullptr;
    if (!replaced.empty()) {
      if (replaced == kOutput) throw Error("torchscript: forward_replaced: the output has no layers after it");
      original = same.at(tap_value(replaced));
      // A new value is typed Tensor already (setType would inline a cast to
      // c10::DynamicType, whose typeinfo LibTorch 1.13 does not export: the UBSan build
      // could not link).
      substitute = graph->addInput("replacement");
      original->replaceAllUsesWith(substitute);
    }
    for (const auto& t : taps) {
      jit::Value* v = same.at(tap_value(t));
      graph->registerOutput(v == original ? substitute : v);  // a module and its last child share a value
    }
    jit::EliminateDeadCode(graph);
    code = std::make_shared<jit::Code>(graph, "vizrun_taps");
    return code;
  }

  /// Value of `from` -> the value at the same place in `to` (a clone of it).
  static std::map<const jit::Value*, jit::Value*> correspondence(jit::Graph& from, jit::Graph& to) {
    std::map<const jit::Value*, jit::Value*> same;
    for (std::size_t i = 0; i < from.inputs().size(); ++i) same[from.inputs()[i]] = to.inputs()[i];
    auto a = from.nodes().begin();
    auto b = to.nodes().begin();
    for (; a != from.nodes().end() && b != to.nodes().end(); ++a, ++b) {
      for (std::size_t i = 0; i < a->outputs().size(); ++i) same[a->outputs()[i]] = b->outputs()[i];
    }
    return same;
  }

  void check_size(std::int64_t height, std::int64_t width) const {
    if (height < m_input.min_size || width < m_input.min_size) {
      throw Error("torchscript: this model needs inputs of at least " + std::to_string(m_input.min_size) +
                  " pixels (got " + std::to_string(height) + "x" + std::to_string(width) + ")");
    }
    if (m_input.fixed_size && (height != m_input.height || width != m_input.width)) {
      throw Error("torchscript: this model runs only at " + std::to_string(m_input.height) + "x" +
                  std::to_string(m_input.width) + " (fixed_size); got " + std::to_string(height) + "x" +
                  std::to_string(width));
    }
  }

  /// Every tap's shape (without batch) at height x width, from one forward pass of zeros.
  std::map<std::string, std::vector<std::int64_t>> shapes_at(std::int64_t height, std::int64_t width) const {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      const auto it = m_shapes.find({height, width});
      if (it != m_shapes.end()) return it->second;
    }
    torch::NoGradGuard no_grad;
    const auto input = torch::zeros({1, m_input.channels, height, width}, torch::TensorOptions().device(m_device));
    Activations outputs;
    try {
      outputs = const_cast<TorchScriptModel*>(this)->forward(input, tap_names());
    } catch (const c10::Error& e) {
      throw Error("torchscript: the model does not run at " + std::to_string(height) + "x" + std::to_string(width) +
                  ": " + e.what_without_backtrace());
    }
    std::map<std::string, std::vector<std::int64_t>> shapes;
    for (const auto& [name, t] : outputs) shapes[name] = t.sizes().slice(1).vec();
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_shapes[{height, width}] = shapes;
  }

  c10::Device m_device;
  InputSpec m_input;
  std::string m_preprocessing, m_output_activation, m_last_conv;
  std::vector<std::string> m_classes;
  jit::Module m_module;
  std::shared_ptr<jit::Graph> m_graph;
  std::vector<Tap> m_taps;
  std::map<std::string, jit::Value*> m_tap_values;
  std::int64_t m_parameters = 0;
  WeightsInfo m_weights;
  mutable std::mutex m_mutex;
  std::map<std::string, std::shared_ptr<jit::Code>> m_codes;
  mutable std::map<std::pair<std::int64_t, std::int64_t>, std::map<std::string, std::vector<std::int64_t>>> m_shapes;
};

}  // namespace

VIZRUN_PLUGIN(TorchScriptModel, "torchscript", "1.0.0",
              "Any traced or scripted PyTorch CNN (.pt); layers are its module paths", kSchema)
