// The attribution technique: options, classes, batches, and the pictures it writes.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "attribution.h"
#include "vizrun/faithfulness.h"
#include "vizrun/suggest.h"

namespace vizrun::techniques::attribution {

namespace {

const Value& nested(const Options& o, const std::string& group, const std::string& key) {
  const Value& g = o.value(group);
  if (!g.is_dict() || !g.contains(key)) throw Error("attribution: option " + group + "." + key + " is missing");
  return g.at(key);
}

/// "smoothgrad(saliency)" -> {"smoothgrad", "saliency"}; a plain method -> {"", method}.
std::pair<std::string, std::string> split_method(const std::string& method) {
  if (method == "smoothgrad") return {"smoothgrad", "saliency"};
  const auto open = method.find('(');
  if (open == std::string::npos) return {"", method};
  return {method.substr(0, open), method.substr(open + 1, method.size() - open - 2)};
}

/// A name part without parentheses: "smoothgrad(saliency)" -> "smoothgrad-saliency".
std::string file_part(const std::string& method) {
  const auto [tunnel, inner] = split_method(method);
  return tunnel.empty() ? inner : tunnel + "-" + inner;
}

/// Methods whose maps are never negative (shown as heatmaps, not signed).
bool non_negative(const std::string& method, bool saliency_abs) {
  const auto [tunnel, inner] = split_method(method);
  if (tunnel == "smoothgrad_sq" || tunnel == "vargrad") return true;
  return inner == "saliency" && saliency_abs;
}

/// A separable Gaussian blur of {B, C, H, W} pixels (edges replicated).
at::Tensor gaussian_blur(const at::Tensor& pixels, double sigma) {
  const std::int64_t side = std::min(pixels.size(2), pixels.size(3));
  const std::int64_t radius = std::max<std::int64_t>(1, std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(3 * sigma)), side - 1));
  at::Tensor k = at::arange(-radius, radius + 1, pixels.options().dtype(at::kFloat));
  k = at::exp(-(k * k) / (2 * sigma * sigma));
  k = k / k.sum();
  const std::int64_t c = pixels.size(1);
  at::Tensor x = at::replication_pad2d(pixels.to(at::kFloat), {radius, radius, radius, radius});
  const c10::optional<at::Tensor> no_bias;
  const std::vector<std::int64_t> one = {1, 1}, none = {0, 0};  // IntArrayRef: a bare 0 could be a padding string
  x = at::conv2d(x, k.view({1, 1, 1, -1}).repeat({c, 1, 1, 1}), no_bias, one, none, one, c);
  return at::conv2d(x, k.view({1, 1, -1, 1}).repeat({c, 1, 1, 1}), no_bias, one, none, one, c);
}

}  // namespace

AttributionOptions::AttributionOptions(const Options& o)
    : methods(o.strings("methods")),
      classes(o.value("classes")),
      size(o.value("size")),
      metrics(o.value("metrics")),
      score(o.string("score")),
      resize(o.string("resize")),
      ig_method(nested(o, "integrated_gradients", "method").as_string()),
      ig_baseline(nested(o, "integrated_gradients", "baseline").as_string()),
      gc_layer(nested(o, "guided_gradcam", "layer").as_string()),
      heatmap_colormap(o.string("heatmap_colormap")),
      overlay_colormap(o.string("overlay_colormap")),
      saliency_abs(nested(o, "saliency", "abs").as_bool()),
      save_arrays(o.boolean("save_arrays")),
      titles(o.boolean("titles")),
      ig_steps(nested(o, "integrated_gradients", "steps").as_int()),
      sg_samples(nested(o, "smoothgrad", "samples").as_int()),
      occ_window(nested(o, "occlusion", "window").as_int()),
      occ_stride(nested(o, "occlusion", "stride").as_int()),
      batch_size(o.integer("batch_size")),
      max_rows(o.integer("max_rows")),
      min_image_size(o.integer("min_image_size")),
      sg_noise(nested(o, "smoothgrad", "noise_level").as_double()),
      ig_blur_sigma(nested(o, "integrated_gradients", "blur_sigma").as_double()),
      occ_baseline(nested(o, "occlusion", "baseline").as_double()),
      memory_mb(o.number("memory_mb")),
      outlier_percent(o.number("outlier_percent")),
      intensity(o.number("intensity")) {}

Attribution::Attribution(const CreateArgs& args) : TechniqueBase(args), m_options(options()) {}

std::vector<std::int64_t> Attribution::class_ids(const ModelBackend& model) const {
  std::vector<std::int64_t> ids;
  const Value& spec = m_options.classes;
  if (spec.is_dict()) return ids;
  const auto names = model.class_names();
  for (const auto& item : spec.as_list()) {
    if (item.is_int()) {
      ids.push_back(item.as_int());
      continue;
    }
    const std::string& name = item.as_string();
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      const std::string suggestion = did_you_mean(name, names);
      throw Error("attribution: unknown class name '" + name + "'" + (suggestion.empty() ? std::string() : "; " + suggestion));
    }
    ids.push_back(it - names.begin());
  }
  const std::int64_t outputs = kit::output_count(model);
  for (const std::int64_t id : ids)
    if (outputs > 0 && id >= outputs)
      throw Error("attribution: class " + std::to_string(id) + " is out of range: the model scores " +
                  std::to_string(outputs) + " classes");
  return ids;
}

std::string Attribution::cam_layer(const ModelBackend& model) const {
  if (m_options.gc_layer != "auto") return m_options.gc_layer;
  const std::string last = model.last_conv_layer();
  if (last.empty()) throw Error("attribution: guided_gradcam layer auto: the model names no last convolutional layer; set guided_gradcam.layer");
  return last;
}

void Attribution::check_model(const ModelBackend& model) const {
  if (model.logits_layer().empty()) throw Error("attribution: the model has no classifier output to explain");
  kit::check_option("/images", [&] { input_paths(); });
  std::pair<std::int64_t, std::int64_t> size;
  kit::check_option("/size", [&] {
    size = kit::input_size(model, m_options.size);
    const InputSpec spec = model.input_spec();
    if (spec.fixed_size && (size.first != spec.height || size.second != spec.width))
      throw Error("attribution: this model's classifier takes only " + std::to_string(spec.height) + "x" +
                  std::to_string(spec.width) + " inputs; use size: model");
  });
  kit::check_option("/classes", [&] { class_ids(model); });
  for (const auto& method : m_options.methods) {
    if (split_method(method).second != "guided_gradcam") continue;
    kit::check_option("/guided_gradcam/layer",
                      [&] { kit::select_layers(model.layers_for(size.first, size.second), Value(cam_layer(model))); });
  }
  kit::check_option("/occlusion/stride", [&] {
    if (m_options.occ_stride > m_options.occ_window)
      throw Error("attribution: occlusion stride " + std::to_string(m_options.occ_stride) + " exceeds the window " +
                  std::to_string(m_options.occ_window));
  });
}

at::Tensor Attribution::baseline_for(ModelBackend& model, const at::Tensor& x, const at::Tensor& pixels) {
  torch::autograd::AutoGradMode grad_off(false);
  const std::string& kind = m_options.ig_baseline;
  if (kind == "black") return model.preprocess(at::zeros_like(pixels));
  if (kind == "blurred") return model.preprocess(gaussian_blur(pixels, m_options.ig_blur_sigma));
  if (kind == "uniform") {
    at::Generator gen = at::detail::createCPUGenerator(seed() + 17);
    const at::Tensor noise = at::empty(pixels.sizes(), at::kFloat).uniform_(0, 255, gen);
    return model.preprocess(noise.to(pixels.device()));
  }
  const std::vector<std::string> files = host().expand_inputs({kind});
  if (files.size() != 1)
    throw Error("attribution: integrated_gradients.baseline '" + kind +
                "' is not black, blurred, uniform or one image file (it matches " + std::to_string(files.size()) + ")");
  const at::Tensor one = kit::load_batch(host(), files, pixels.size(2), pixels.size(3), m_options.resize, pixels.device());
  return model.preprocess(one).expand_as(x);
}

at::Tensor Attribution::compute(const std::string& method, ModelBackend& model, const at::Tensor& x,
                                const at::Tensor& pixels, const at::Tensor& classes, std::int64_t rows,
                                std::uint64_t noise_seed) {
  const AttributionOptions& o = m_options;
  const auto parts = split_method(method);  // named copies: lambdas cannot capture structured bindings in C++17
  const std::string tunnel = parts.first, inner_name = parts.second;
  at::Tensor baseline;
  if (inner_name == "integrated_gradients") baseline = baseline_for(model, x, pixels);
  const std::string layer = inner_name == "guided_gradcam" ? cam_layer(model) : "";
  // Rows of the expanded input: each refers to its original image through `source`.
  const Inner inner = [&](const at::Tensor& rows_x, const at::Tensor& source) -> at::Tensor {
    const at::Tensor cls = classes.index_select(0, source);
    if (inner_name == "saliency") {
      const at::Tensor g = input_gradients(model, rows_x, cls, o.score, rows);
      return o.saliency_abs ? g.abs() : g;
    }
    if (inner_name == "gradient_x_input") return input_gradients(model, rows_x, cls, o.score, rows) * rows_x;
    if (inner_name == "integrated_gradients")
      return integrated_gradients(model, rows_x, baseline.index_select(0, source), cls, o.score, o.ig_steps, o.ig_method, rows);
    if (inner_name == "guided_backprop") return guided_backprop(model, rows_x, cls, o.score, rows);
    if (inner_name == "guided_gradcam") return guided_grad_cam(model, rows_x, cls, o.score, layer, rows);
    if (inner_name == "occlusion")
      return occlusion(model, rows_x, cls, o.score, o.occ_window, o.occ_stride, o.occ_baseline, rows);
    throw Error("attribution: unknown method '" + method + "'");
  };
  const at::Tensor all = at::arange(x.size(0), at::TensorOptions().dtype(at::kLong).device(x.device()));
  if (tunnel.empty()) return inner(x, all);
  // IG's steps multiply each noisy row: the tunnel hands it fewer rows at a time.
  const std::int64_t cost = inner_name == "integrated_gradients" ? o.ig_steps : 1;
  return noise_tunnel(inner, x, tunnel, o.sg_samples, gaussian_noise(x, o.sg_noise, noise_seed),
                      std::max<std::int64_t>(x.size(0), rows / cost));
}

void Attribution::run(ModelBackend& model, Output& out) {
  check_model(model);
  const AttributionOptions& o = m_options;
  const auto paths = input_paths();
  const auto [height, width] = kit::input_size(model, o.size);
  const std::vector<std::int64_t> ids = class_ids(model);
  const std::int64_t top = ids.empty() ? o.classes.at("top").as_int() : 0;
  const std::string logits_layer = model.logits_layer();
  // Rows per pass from the memory budget: a pass keeps about three copies of every
  // activation (outputs, gradients, workspace).
  const double per_row = kit::activation_bytes(model, height, width, 1, logits_layer, 3.0);
  const auto rows = std::clamp<std::int64_t>(static_cast<std::int64_t>(o.memory_mb * 1048576.0 / per_row), 1, o.max_rows);
  vizrun::require_memory("attribution: a pass of " + std::to_string(rows) + " inputs of " + std::to_string(height) + "x" +
                             std::to_string(width),
                         per_row * static_cast<double>(rows));
  kit::MemoryReuseScope reuse(device().is_cpu());
  const kit::BatchPlan plan{height, width, o.batch_size, o.resize, "attribution"};
  List records;
  faithfulness::MetricsLog metrics(o.metrics, "attribution: metrics", seed());
  for_each_batch(paths, plan, [&](const kit::PhotoBatch& batch) {
    at::Tensor x, probs;
    {
      torch::autograd::AutoGradMode grad_off(false);
      x = model.preprocess(batch.pixels).to(at::kFloat);
      probs = model.forward(x, {logits_layer}).at(logits_layer).to(at::kFloat);
      const std::string act = model.output_activation();
      if (act == "softmax") probs = probs.softmax(1);
      else if (act == "sigmoid") probs = probs.sigmoid();
    }
    at::Tensor classes;  // {B, K}
    if (ids.empty()) classes = std::get<1>(probs.topk(std::min<std::int64_t>(top, probs.size(1)), 1));
    else classes = at::tensor(ids, at::kLong).to(x.device()).unsqueeze(0).expand({x.size(0), -1}).contiguous();
    for (const auto& method : o.methods) {
      for (std::int64_t rank = 0; rank < classes.size(1); ++rank) {
        const at::Tensor cls = classes.select(1, rank).contiguous();
        const at::Tensor maps = compute(method, model, x, batch.pixels, cls, rows, seed() + batch.first).to(at::kCPU);
        std::vector<at::Tensor> units;  // the heatmaps shown, judged by the metrics
        for (std::size_t i = 0; i < batch.paths.size(); ++i) {
          const auto b = static_cast<std::int64_t>(i);
          const std::int64_t id = cls[b].item<std::int64_t>();
          const std::string name = kit::class_label(model, id);
          const double p = probs[b][id].item<double>();
          const std::string layer = split_method(method).second == "guided_gradcam" ? cam_layer(model) : "";
          const std::string base = batch.stem(i) + "/" + file_part(method) + "/" + std::to_string(rank) + "_class_" + std::to_string(id);
          Dict meta{{"image", batch.paths[i]}, {"method", method}, {"layer", layer}, {"class", id},
                    {"name", name},            {"probability", p},   {"rank", rank}};
          const at::Tensor map = maps[b].contiguous();  // {C, H, W}
          if (o.save_arrays) {
            Dict array_meta = meta;
            array_meta["layout"] = "CHW, the network input's channels (not summed)";
            out.array(base, map, array_meta);
          }
          const at::Tensor summed = map.sum(0);  // captum's visualisation sums channels
          char label[96];
          std::snprintf(label, sizeof label, "%s: %s (%lld) p=%.3f", method.c_str(), name.c_str(),
                        static_cast<long long>(id), p);
          auto emit = [&](const std::string& view, at::Tensor picture) {
            picture = kit::enlarge_to(picture, o.min_image_size);
            if (o.titles) picture = image::add_title(picture, label, 1, 32);
            Dict m = meta;
            m["view"] = view;
            out.image(base + "_" + view, picture, m);
          };
          const at::Tensor magnitude = summed.abs();
          const double abs_scale = std::max(cumulative_threshold(magnitude, 100.0 - o.outlier_percent), 1e-30);
          const at::Tensor unit = (magnitude / abs_scale).clamp(0, 1);
          units.push_back(unit);
          if (!non_negative(method, o.saliency_abs))
            emit("signed", diverging_colormap((summed / abs_scale).clamp(-1, 1)));
          emit("heatmap", image::colormap(unit, o.heatmap_colormap));
          const at::Tensor photo = batch.pixels[b].to(at::kCPU).permute({1, 2, 0}).round().clamp(0, 255).to(at::kByte).contiguous();
          emit("overlay", image::overlay(photo, image::colormap(unit, o.overlay_colormap), o.intensity));
          records.push_back(Dict{{"image", batch.paths[i]}, {"method", method}, {"class", id}, {"name", name},
                                 {"probability", p}, {"abs_scale", abs_scale}});
        }
        if (metrics.enabled()) {
          const at::Tensor cls_cpu = cls.to(at::kCPU);
          std::vector<std::int64_t> class_list(cls_cpu.data_ptr<std::int64_t>(), cls_cpu.data_ptr<std::int64_t>() + cls_cpu.numel());
          std::vector<faithfulness::MapLabel> labels;
          const std::string layer = split_method(method).second == "guided_gradcam" ? cam_layer(model) : "";
          for (const auto& path : batch.paths) labels.push_back({path, method, layer});
          metrics.evaluate(model, out, x.detach(), at::stack(units), class_list, labels);
        }
      }
    }
    out.record("attributions", records);
  });
}

}  // namespace vizrun::techniques::attribution
