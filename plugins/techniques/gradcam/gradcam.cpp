#include "gradcam.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cstdio>

#include "vizrun/faithfulness.h"
#include "vizrun/image.h"
#include "vizrun/memory.h"


namespace vizrun::techniques {

CamBatch grad_cam(ModelBackend& model, const at::Tensor& input, const std::string& layer, const ClassChoice& choice,
                  const std::string& score) {
  cam::Request request;
  request.methods = {cam::Method::gradcam};
  request.layers = {layer};
  request.score = score;
  request.who = "gradcam";
  const cam::Result result = cam::compute(model, input, request, choice);
  torch::autograd::AutoGradMode grad_off(false);
  CamBatch out;
  out.raw = result.maps[0][0];
  // Normalised by the maximum as the book does; a map with no positive evidence stays 0 instead of 0/0.
  const at::Tensor peak = out.raw.amax({2, 3}, /*keepdim=*/true);
  out.heatmaps = at::where(peak > 0, out.raw / peak.clamp_min(1e-30), at::zeros_like(out.raw));
  out.logits = result.logits;
  out.classes = result.classes;
  return out;
}

GradCamOptions::GradCamOptions(const Options& o)
    : layer(o.string("layer")),
      classes(o.value("classes")),
      size(o.value("size")),
      score(o.string("score")),
      resize(o.string("resize")),
      overlay_colormap(o.string("overlay_colormap")),
      heatmap_colormap(o.string("heatmap_colormap")),
      intensity(o.number("intensity")),
      report_top(o.integer("report_top")),
      batch_size(o.integer("batch_size")),
      heatmap_size(o.integer("heatmap_size")),
      overlay_min_size(o.integer("overlay_min_size")),
      titles(o.boolean("titles")),
      save_arrays(o.boolean("save_arrays")) {}

GradCam::GradCam(const CreateArgs& args) : TechniqueBase(args), m_options(options()) {}

std::string GradCam::target_layer(const ModelBackend& model) const {
  if (m_options.layer != "auto") return m_options.layer;
  const std::string last = model.last_conv_layer();
  if (last.empty()) throw Error("gradcam: layer auto: the model names no last convolutional layer; set layer (vizrun layers lists them)");
  return last;
}

void GradCam::check_model(const ModelBackend& model) const {
  if (model.logits_layer().empty()) throw Error("gradcam: the model has no classifier output to explain");
  kit::check_option("/images", [&] { input_paths(); });
  std::pair<std::int64_t, std::int64_t> size;
  kit::check_option("/size", [&] {
    size = kit::input_size(model, m_options.size);
    const InputSpec spec = model.input_spec();
    if (spec.fixed_size && (size.first != spec.height || size.second != spec.width))  // the classifier runs too
      throw Error("gradcam: this model's classifier takes only " + std::to_string(spec.height) + "x" +
                  std::to_string(spec.width) + " inputs (got " + std::to_string(size.first) + "); use size: model");
  });
  kit::check_option("/layer", [&] { kit::select_layers(model.layers_for(size.first, size.second), Value(target_layer(model))); });
  kit::check_option("/classes", [&] { cam::resolve_classes(model, m_options.classes, "gradcam"); });
}

void GradCam::run(ModelBackend& model, Output& out) {
  check_model(model);
  const GradCamOptions& o = m_options;
  const auto paths = input_paths();
  const std::string layer = target_layer(model);
  const auto [height, width] = kit::input_size(model, o.size);
  const ClassChoice choice = cam::resolve_classes(model, o.classes, "gradcam");
  const auto names = model.class_names();
  const std::string activation = model.output_activation();
  auto class_name = [&](std::int64_t id) {
    return id >= 0 && id < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(id)]
                                                                    : "class " + std::to_string(id);
  };

  cam::PictureStyle style;
  style.overlay_colormap = o.overlay_colormap;
  style.heatmap_colormap = o.heatmap_colormap;
  style.intensity = o.intensity;
  style.heatmap_size = o.heatmap_size;
  style.overlay_min_size = o.overlay_min_size;
  style.titles = o.titles;
  style.save_arrays = o.save_arrays;
  kit::MemoryReuseScope reuse(device().is_cpu());
  List predictions;
  faithfulness::MetricsLog metrics(options().has("metrics") ? options().value("metrics") : Value(), "gradcam: metrics", seed());
  const kit::BatchPlan plan{height, width, o.batch_size, o.resize, "gradcam " + layer};
  if (device().is_cpu()) {
    const std::int64_t first = std::min<std::int64_t>(o.batch_size, static_cast<std::int64_t>(paths.size()));
    vizrun::require_memory("gradcam: a batch of " + std::to_string(first) + " images of " + std::to_string(height) +
                               "x" + std::to_string(width),
                           kit::activation_bytes(model, height, width, first, "", 3.0));
  }
  // Each photo is decoded once: resized for the network, kept whole for the overlay.
  for_each_batch(paths, plan, [&](const kit::PhotoBatch& batch) {
    const std::vector<std::string>& chunk = batch.paths;
    const std::vector<at::Tensor>& photos = batch.originals;
    const at::Tensor& pixels = batch.pixels;
    at::Tensor input;
    {
      torch::autograd::AutoGradMode grad_off(false);
      input = model.preprocess(pixels);
    }
    const CamBatch maps = grad_cam(model, input, layer, choice, o.score);
    const at::Tensor heat = maps.heatmaps.to(at::kCPU);
    const at::Tensor classes = maps.classes.to(at::kCPU);
    at::Tensor probs = maps.logits.to(at::kCPU);
    if (activation == "softmax") probs = probs.softmax(1);
    else if (activation == "sigmoid") probs = probs.sigmoid();
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const auto b = static_cast<std::int64_t>(i);
      const std::string& path = chunk[i];
      const std::string name = kit::stem(path);
      predictions.push_back(Dict{{"image", path}, {"top", cam::top_predictions(model, probs[b], o.report_top)}});
      // The photo at its own resolution, as the book overlays on cv2.imread's picture.
      const at::Tensor photo = cam::overlay_photo(photos[i], path, style, "gradcam");
      for (std::int64_t j = 0; j < heat.size(1); ++j) {
        const std::int64_t id = classes[b][j].item<std::int64_t>();
        const double p = probs[b][id].item<double>();
        char label[64];
        std::snprintf(label, sizeof label, "%.3f", p);
        const std::string base = name + "/" + std::to_string(j) + "_class_" + std::to_string(id);
        const Dict meta{{"image", path}, {"method", "gradcam"}, {"layer", layer}, {"class", id},
                        {"name", class_name(id)}, {"probability", p}, {"rank", j}, {"score", o.score}};
        const std::string text = class_name(id) + " (" + std::to_string(id) + ") p=" + label;
        cam::emit_map(out, base, heat[b][j].contiguous(), photo, meta, style, text, layer + ": " + text);
      }
    }
    out.record("predictions", predictions);
    // Faithfulness of each rank's maps (resized bilinearly to the input by the metrics).
    for (std::int64_t j = 0; metrics.enabled() && j < heat.size(1); ++j) {
      std::vector<std::int64_t> ids;
      std::vector<faithfulness::MapLabel> labels;
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        ids.push_back(classes[static_cast<std::int64_t>(i)][j].item<std::int64_t>());
        labels.push_back({chunk[i], "gradcam", layer});
      }
      metrics.evaluate(model, out, input.detach(), heat.select(1, j), ids, labels);
    }
  });
}

}  // namespace vizrun::techniques
