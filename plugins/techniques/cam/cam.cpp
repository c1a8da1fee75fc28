#include "cam.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cstdio>

#include "vizrun/faithfulness.h"
#include "vizrun/model_extensions.h"

namespace vizrun::techniques {

namespace {

std::vector<std::string> strings_of(const Value& v) {
  std::vector<std::string> out;
  if (v.is_string()) return {v.as_string()};
  for (const auto& item : v.as_list()) out.push_back(item.as_string());
  return out;
}

}  // namespace

CamOptions::CamOptions(const Options& o)
    : methods(strings_of(o.value("methods"))),
      layers(o.value("layers")),
      classes(o.value("classes")),
      size(o.value("size")),
      metrics(o.value("metrics")),
      score(o.string("score")),
      resize(o.string("resize")),
      aug_smooth(o.boolean("aug_smooth")),
      eigen_smooth(o.boolean("eigen_smooth")),
      batch_size(o.integer("batch_size")),
      masked_batch_size(o.integer("masked_batch_size")),
      report_top(o.integer("report_top")),
      memory_mb(o.number("memory_mb")) {
  style.overlay_colormap = o.string("overlay_colormap");
  style.heatmap_colormap = o.string("heatmap_colormap");
  style.intensity = o.number("intensity");
  style.heatmap_size = o.integer("heatmap_size");
  style.overlay_min_size = o.integer("overlay_min_size");
  style.titles = o.boolean("titles");
  style.save_arrays = o.boolean("save_arrays");
}

Cam::Cam(const CreateArgs& args) : TechniqueBase(args), m_options(options()) {}

std::vector<cam::Method> Cam::methods(const ModelBackend& model) const {
  std::vector<cam::Method> list;
  for (const auto& name : m_options.methods) {
    const cam::Method m = cam::parse_method(name);
    if (std::find(list.begin(), list.end(), m) != list.end()) continue;  // a duplicate is computed once
    if (m == cam::Method::ablationcam && query<LayerReplace>(const_cast<ModelBackend&>(model)) == nullptr)
      throw Error("cam: ablationcam needs a model backend that runs the network from a layer on "
                  "(vizrun.LayerReplace/1: vgg16, resnet50v2, small_convnet, keras, torchscript); this backend lacks it");
    list.push_back(m);
  }
  return list;
}

std::vector<std::string> Cam::target_layers(const ModelBackend& model, std::int64_t height, std::int64_t width) const {
  List spec;
  for (const auto& name : strings_of(m_options.layers)) {
    if (name != "auto") {
      spec.push_back(name);
      continue;
    }
    const std::string last = model.last_conv_layer();
    if (last.empty())
      throw Error("cam: layers auto: the model names no last convolutional layer; set layers (vizrun layers lists them)");
    spec.push_back(last);
  }
  std::vector<std::string> names;
  for (const auto& layer : kit::select_layers_at(model, height, width, Value(spec))) names.push_back(layer.name);
  return names;
}

cam::Request Cam::request(const ModelBackend& model, std::int64_t height, std::int64_t width) const {
  cam::Request r;
  r.methods = methods(model);
  r.layers = target_layers(model, height, width);
  r.score = m_options.score;
  r.eigen_smooth = m_options.eigen_smooth;
  r.masked_memory_bytes = m_options.memory_mb * 1024.0 * 1024.0;
  r.masked_batch_size = m_options.masked_batch_size;
  r.who = "cam";
  return r;
}

void Cam::check_model(const ModelBackend& model) const {
  if (model.logits_layer().empty()) throw Error("cam: the model has no classifier output to explain");
  kit::check_option("/images", [&] { input_paths(); });
  std::pair<std::int64_t, std::int64_t> size;
  kit::check_option("/size", [&] {
    size = kit::input_size(model, m_options.size);
    const InputSpec spec = model.input_spec();
    if (spec.fixed_size && (size.first != spec.height || size.second != spec.width))  // the classifier runs too
      throw Error("cam: this model's classifier takes only " + std::to_string(spec.height) + "x" +
                  std::to_string(spec.width) + " inputs (got " + std::to_string(size.first) + "); use size: model");
  });
  kit::check_option("/methods", [&] { methods(model); });
  kit::check_option("/layers", [&] {
    const auto names = target_layers(model, size.first, size.second);
    for (const auto& info : model.layers_for(size.first, size.second))
      if (std::find(names.begin(), names.end(), info.name) != names.end() && info.shape.size() != 3)
        throw Error("cam: layer " + info.name + " has no spatial output; choose a convolutional layer");
  });
  kit::check_option("/classes", [&] { cam::resolve_classes(model, m_options.classes, "cam"); });
}

void Cam::run(ModelBackend& model, Output& out) {
  check_model(model);
  const CamOptions& o = m_options;
  const auto paths = input_paths();
  const auto [height, width] = kit::input_size(model, o.size);
  const cam::Request req = request(model, height, width);
  const cam::ClassChoice choice = cam::resolve_classes(model, o.classes, "cam");
  const std::string activation = model.output_activation();
  const std::string layer_label = kit::join(req.layers, ",");
  // Several layers (or aug_smooth) are combined at the input's resolution, as pytorch-grad-cam does.
  const bool at_input = req.layers.size() > 1 || o.aug_smooth;

  kit::MemoryReuseScope reuse(device().is_cpu());
  if (device().is_cpu()) {
    const std::int64_t first = std::min<std::int64_t>(o.batch_size, static_cast<std::int64_t>(paths.size()));
    vizrun::require_memory("cam: a batch of " + std::to_string(first) + " images of " + std::to_string(height) + "x" +
                               std::to_string(width),
                           kit::activation_bytes(model, height, width, first, "", 3.0));
  }
  List predictions;
  faithfulness::MetricsLog metrics(o.metrics, "cam: metrics", seed());
  const kit::BatchPlan plan{height, width, o.batch_size, o.resize, "cam " + layer_label};
  for_each_batch(paths, plan, [&](const kit::PhotoBatch& batch) {
    at::Tensor input;
    {
      torch::autograd::AutoGradMode grad_off(false);
      input = model.preprocess(batch.pixels);
    }
    const cam::Result result = cam::compute(model, input, req, choice);
    std::vector<at::Tensor> maps;
    if (o.aug_smooth) {
      maps = cam::aug_smooth(model, input, req, result.classes);
    } else {
      for (const auto& per_layer : result.maps) maps.push_back(cam::combine_layers(per_layer, height, width, at_input));
    }
    torch::autograd::AutoGradMode grad_off(false);
    const at::Tensor classes = result.classes.to(at::kCPU);
    at::Tensor probs = result.logits.to(at::kCPU);
    if (activation == "softmax") probs = probs.softmax(1);
    else if (activation == "sigmoid") probs = probs.sigmoid();
    for (std::size_t i = 0; i < batch.paths.size(); ++i) {
      const auto b = static_cast<std::int64_t>(i);
      const std::string& path = batch.paths[i];
      predictions.push_back(Dict{{"image", path}, {"top", cam::top_predictions(model, probs[b], o.report_top)}});
      const at::Tensor photo = cam::overlay_photo(batch.originals[i], path, o.style, "cam");
      for (std::size_t m = 0; m < req.methods.size(); ++m) {
        const std::string method = cam::method_name(req.methods[m]);
        const at::Tensor heat = maps[m].to(at::kCPU);
        for (std::int64_t j = 0; j < classes.size(1); ++j) {
          const std::int64_t id = classes[b][j].item<std::int64_t>();
          const double p = probs[b][id].item<double>();
          char label[64];
          std::snprintf(label, sizeof label, "%.3f", p);
          const std::string name = kit::class_label(model, id);
          const std::string base =
              batch.stem(i) + "/" + cam::method_slug(req.methods[m]) + "/" + std::to_string(j) + "_class_" + std::to_string(id);
          const Dict meta{{"image", path},  {"method", method}, {"layer", layer_label}, {"class", id},
                          {"name", name},   {"probability", p}, {"rank", j},          {"score", o.score},
                          {"aug_smooth", o.aug_smooth},         {"eigen_smooth", o.eigen_smooth}};
          const std::string text = method + ": " + name + " (" + std::to_string(id) + ") p=" + label;
          cam::emit_map(out, base, heat[b][j].contiguous(), photo, meta, o.style, text, layer_label + ": " + text);
        }
      }
    }
    out.record("predictions", predictions);
    // Faithfulness of every method's maps, rank by rank (the maps are in [0, 1]; the
    // metrics resize those at a layer's resolution to the input's bilinearly).
    for (std::size_t m = 0; metrics.enabled() && m < req.methods.size(); ++m) {
      const at::Tensor heat = maps[m].to(at::kCPU);
      for (std::int64_t j = 0; j < classes.size(1); ++j) {
        std::vector<std::int64_t> ids;
        std::vector<faithfulness::MapLabel> labels;
        for (std::size_t i = 0; i < batch.paths.size(); ++i) {
          ids.push_back(classes[static_cast<std::int64_t>(i)][j].item<std::int64_t>());
          labels.push_back({batch.paths[i], cam::method_name(req.methods[m]), layer_label});
        }
        metrics.evaluate(model, out, input.detach(), heat.select(1, j), ids, labels);
      }
    }
  });
}

}  // namespace vizrun::techniques
