#include "gradcam.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cstdio>

#include "vizrun/faithfulness.h"
#include "vizrun/image.h"
#include "vizrun/memory.h"
#include "vizrun/suggest.h"

namespace vizrun::techniques {

CamBatch grad_cam(ModelBackend& model, const at::Tensor& input, const std::string& layer, const ClassChoice& choice,
                  const std::string& score) {
  const std::string logits_layer = model.logits_layer();
  if (logits_layer.empty())
    throw Error("gradcam: the model has no classifier (logits_layer is empty); load it with its top, e.g. include_top: true");
  if (score != "logit" && score != "probability")
    throw Error("gradcam: score must be logit or probability, got '" + score + "'");
  torch::autograd::AutoGradMode grad_on(true);
  // The input requires a gradient only so the tapped layer output is part of a
  // graph; autograd::grad below stops at that layer and never reaches the input.
  at::Tensor x = input.to(at::kFloat).detach().requires_grad_(true);
  const Activations acts = model.forward(x, {layer, logits_layer});
  const at::Tensor& features = acts.at(layer);
  if (features.dim() != 4)
    throw Error("gradcam: layer " + layer + " has no spatial output; choose a convolutional layer");
  const at::Tensor logits = acts.at(logits_layer).to(at::kFloat);
  at::Tensor scores = logits;
  if (score == "probability") {
    const std::string act = model.output_activation();
    if (act == "softmax") scores = logits.softmax(1);
    else if (act == "sigmoid") scores = logits.sigmoid();
  }
  const std::int64_t batch = x.size(0);
  at::Tensor classes;
  if (choice.ids.empty()) {
    const std::int64_t k = std::min<std::int64_t>(choice.top, logits.size(1));
    classes = std::get<1>(logits.detach().topk(k, 1));
  } else {
    for (const auto id : choice.ids)
      if (id < 0 || id >= logits.size(1))
        throw Error("gradcam: class " + std::to_string(id) + " is out of range (the model has " +
                    std::to_string(logits.size(1)) + " classes)");
    classes = at::tensor(choice.ids, at::kLong).to(logits.device()).unsqueeze(0).expand({batch, -1}).contiguous();
  }
  const std::int64_t k = classes.size(1);
  std::vector<at::Tensor> raws;
  for (std::int64_t j = 0; j < k; ++j) {
    // Images are independent (eval mode), so the sum's gradient gives each image its own.
    const at::Tensor target = scores.gather(1, classes.select(1, j).unsqueeze(1)).sum();
    const at::Tensor grads = torch::autograd::grad({target}, {features}, {}, /*retain_graph=*/j + 1 < k)[0];
    torch::autograd::AutoGradMode grad_off(false);
    const at::Tensor weights = grads.to(at::kFloat).mean({2, 3}, /*keepdim=*/true);
    raws.push_back((weights * features.detach().to(at::kFloat)).sum(1).relu());
  }
  torch::autograd::AutoGradMode grad_off(false);
  CamBatch out;
  out.raw = at::stack(raws, 1);
  const at::Tensor peak = out.raw.amax({2, 3}, /*keepdim=*/true);
  // A map with no positive evidence stays 0 instead of 0/0.
  out.heatmaps = at::where(peak > 0, out.raw / peak.clamp_min(1e-30), at::zeros_like(out.raw));
  out.logits = logits.detach();
  out.classes = classes;
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

ClassChoice GradCam::resolve_classes(const ModelBackend& model) const {
  ClassChoice choice;
  const Value& spec = m_options.classes;
  if (spec.is_dict()) {  // {top: K}, K >= 1 by the schema
    choice.top = spec.at("top").as_int();
    return choice;
  }
  const Value& list = spec;
  const auto names = model.class_names();
  for (const auto& item : list.as_list()) {
    if (item.is_int()) {
      choice.ids.push_back(item.as_int());
      continue;
    }
    const std::string& name = item.as_string();
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      const std::string suggestion = did_you_mean(name, names);
      throw Error("gradcam: unknown class name '" + name + "'" +
                  (suggestion.empty() ? std::string(" (the model has ") + std::to_string(names.size()) + " class names)"
                                      : "; " + suggestion));
    }
    choice.ids.push_back(it - names.begin());
  }
  const std::int64_t outputs = kit::output_count(model);
  for (const std::int64_t id : choice.ids)
    if (outputs > 0 && id >= outputs)
      throw Error("gradcam: class " + std::to_string(id) + " is out of range: the model scores " +
                  std::to_string(outputs) + " classes (0.." + std::to_string(outputs - 1) + ")");
  return choice;
}

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
  kit::check_option("/classes", [&] { resolve_classes(model); });
}

void GradCam::run(ModelBackend& model, Output& out) {
  check_model(model);
  const GradCamOptions& o = m_options;
  const auto paths = input_paths();
  const std::string layer = target_layer(model);
  const auto [height, width] = kit::input_size(model, o.size);
  const ClassChoice choice = resolve_classes(model);
  const auto names = model.class_names();
  const std::string activation = model.output_activation();
  auto class_name = [&](std::int64_t id) {
    return id >= 0 && id < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(id)]
                                                                    : "class " + std::to_string(id);
  };

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
    const CamBatch cam = grad_cam(model, input, layer, choice, o.score);
    const at::Tensor heat = cam.heatmaps.to(at::kCPU);
    const at::Tensor classes = cam.classes.to(at::kCPU);
    at::Tensor probs = cam.logits.to(at::kCPU);
    if (activation == "softmax") probs = probs.softmax(1);
    else if (activation == "sigmoid") probs = probs.sigmoid();
    const auto top = probs.topk(std::min<std::int64_t>(o.report_top, probs.size(1)), 1);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const auto b = static_cast<std::int64_t>(i);
      const std::string& path = chunk[i];
      const std::string name = kit::stem(path);
      List top_list;
      for (std::int64_t j = 0; j < std::get<0>(top).size(1); ++j) {
        const std::int64_t id = std::get<1>(top)[b][j].item<std::int64_t>();
        top_list.push_back(Dict{{"class", id}, {"name", class_name(id)}, {"probability", std::get<0>(top)[b][j].item<double>()}});
      }
      predictions.push_back(Dict{{"image", path}, {"top", top_list}});
      // The photo at its own resolution, as the book overlays on cv2.imread's picture.
      at::Tensor photo = photos[i].permute({1, 2, 0}).round().clamp(0, 255).to(at::kByte).contiguous();
      // A small photo (Fashion-MNIST is 28 px) is enlarged by whole pixels so the overlay can be seen.
      const std::int64_t overlay_min = o.overlay_min_size;
      const std::int64_t short_side = std::min(photo.size(0), photo.size(1));
      const std::int64_t enlarge = short_side < overlay_min ? (overlay_min + short_side - 1) / short_side : 1;
      // A long thin photo enlarged for its short side can be huge; the overlay keeps
      // about 40 bytes per pixel (photo, resized map, colours, blend).
      vizrun::require_memory("gradcam: the overlay of " + path + " (" + std::to_string(photo.size(1)) + "x" +
                                 std::to_string(photo.size(0)) + " enlarged " + std::to_string(enlarge) +
                                 " times for overlay_min_size " + std::to_string(overlay_min) + ")",
                             40.0 * static_cast<double>(photo.size(0) * enlarge) * static_cast<double>(photo.size(1) * enlarge));
      if (enlarge > 1) photo = image::upscale(photo, enlarge);
      for (std::int64_t j = 0; j < heat.size(1); ++j) {
        const std::int64_t id = classes[b][j].item<std::int64_t>();
        const at::Tensor map = heat[b][j].contiguous();
        const double p = probs[b][id].item<double>();
        char label[64];
        std::snprintf(label, sizeof label, "%.3f", p);
        const std::string base = name + "/" + std::to_string(j) + "_class_" + std::to_string(id);
        const Dict meta{{"image", path},          {"layer", layer}, {"class", id}, {"name", class_name(id)},
                        {"probability", p},       {"rank", j},      {"score", o.score}};
        if (o.save_arrays) out.array(base + "_heatmap", map, meta);
        // The heatmap alone, upscaled so its cells stay square and visible.
        const std::int64_t factor = std::max<std::int64_t>(1, (o.heatmap_size + map.size(0) - 1) / map.size(0));
        at::Tensor heat_img = image::upscale(image::colormap(map, o.heatmap_colormap), factor);
        // Overlay: heatmap resized (bilinear) to the photo, uint8(255 * h), JET, blended.
        const at::Tensor big = image::resize(map.unsqueeze(2), photo.size(0), photo.size(1), "bilinear").squeeze(2);
        const at::Tensor jet = image::colormap(big.clamp(0, 1), o.overlay_colormap);
        at::Tensor blended = image::overlay(photo, jet, o.intensity);
        if (o.titles) {
          const std::string text = class_name(id) + " (" + std::to_string(id) + ") p=" + label;
          heat_img = image::add_title(heat_img, layer + ": " + text, 1, 32);
          blended = image::add_title(blended, text, std::max<std::int64_t>(1, blended.size(1) / 300), 32);
        }
        out.image(base + "_heatmap", heat_img, meta);
        out.image(base + "_overlay", blended, meta);
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
