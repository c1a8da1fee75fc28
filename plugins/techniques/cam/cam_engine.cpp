#include "cam_engine.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cstdio>

#include "vizrun/image.h"
#include "vizrun/memory.h"
#include "vizrun/model_extensions.h"
#include "vizrun/suggest.h"

namespace vizrun::techniques::cam {

namespace {

struct MethodEntry {
  Method method;
  const char* name;
  const char* slug;
  bool gradients;
};

const MethodEntry kMethods[] = {
    {Method::gradcam, "gradcam", "gradcam", true},
    {Method::gradcam_pp, "gradcam++", "gradcam_pp", true},
    {Method::xgradcam, "xgradcam", "xgradcam", true},
    {Method::hirescam, "hirescam", "hirescam", true},
    {Method::layercam, "layercam", "layercam", true},
    {Method::eigencam, "eigencam", "eigencam", false},
    {Method::eigengradcam, "eigengradcam", "eigengradcam", true},
    {Method::scorecam, "scorecam", "scorecam", false},
    {Method::ablationcam, "ablationcam", "ablationcam", false},
};

const MethodEntry& entry(Method method) {
  for (const auto& e : kMethods)
    if (e.method == method) return e;
  throw Error("cam: unknown method");
}

/// The spatial sums of {B, C, h, w}, kept as {B, C, 1, 1}.
at::Tensor spatial_sum(const at::Tensor& x) { return x.sum({2, 3}, /*keepdim=*/true); }

}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& e : kMethods) v.emplace_back(e.name);
    return v;
  }();
  return names;
}

Method parse_method(const std::string& name) {
  for (const auto& e : kMethods)
    if (name == e.name) return e.method;
  const std::string suggestion = did_you_mean(name, method_names());
  throw Error("cam: unknown method '" + name + "'; " +
              (suggestion.empty() ? "known: " + kit::join(method_names()) : suggestion));
}

std::string method_name(Method method) { return entry(method).name; }
std::string method_slug(Method method) { return entry(method).slug; }
bool uses_gradients(Method method) { return entry(method).gradients; }

at::Tensor channel_weights(Method method, const at::Tensor& acts, const at::Tensor& grads) {
  switch (method) {
    case Method::gradcam:
      return grads.mean({2, 3});
    case Method::gradcam_pp: {
      // Equation 19 of Chattopadhyay et al., as pytorch-grad-cam writes it.
      const at::Tensor g2 = grads * grads;
      const at::Tensor g3 = g2 * grads;
      at::Tensor aij = g2 / (2 * g2 + spatial_sum(acts) * g3 + 1e-6);
      aij = at::where(grads != 0, aij, at::zeros_like(aij));
      return (grads.relu() * aij).sum({2, 3});
    }
    case Method::xgradcam:
      return (grads * acts / (spatial_sum(acts) + 1e-7)).sum({2, 3});
    default:
      throw Error("cam: " + method_name(method) + " has no gradient channel weights");
  }
}

at::Tensor projection_2d(const at::Tensor& x) {
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // Positions as rows, channels as columns, centred per channel; NaN -> 0 as the reference.
  at::Tensor rows = at::nan_to_num(x, 0.0, 0.0, 0.0).reshape({n, c, h * w}).transpose(1, 2);
  rows = rows - rows.mean(1, /*keepdim=*/true);
  const auto svd = at::linalg_svd(rows, /*full_matrices=*/false);
  const at::Tensor first = std::get<2>(svd).select(1, 0);  // Vh[0] per item: {n, c}
  return at::bmm(rows, first.unsqueeze(2)).reshape({n, h, w});
}

at::Tensor gradient_map(Method method, const at::Tensor& acts, const at::Tensor& grads, bool eigen_smooth) {
  auto reduce = [&](const at::Tensor& weighted) { return eigen_smooth ? projection_2d(weighted) : weighted.sum(1); };
  switch (method) {
    case Method::hirescam:
      return reduce(grads * acts);
    case Method::layercam:
      return reduce(grads.relu() * acts);
    case Method::eigencam:
      return projection_2d(acts);  // eigen_smooth changes nothing: it is a projection already
    case Method::eigengradcam:
      return projection_2d(grads * acts);
    default:
      return reduce(channel_weights(method, acts, grads).unsqueeze(2).unsqueeze(3) * acts);
  }
}

at::Tensor weighted_maps(const at::Tensor& weights, const at::Tensor& acts, bool eigen_smooth) {
  if (!eigen_smooth) return at::einsum("bkc,bchw->bkhw", {weights, acts});
  const std::int64_t b = acts.size(0), k = weights.size(1), c = acts.size(1), h = acts.size(2), w = acts.size(3);
  const at::Tensor weighted = weights.unsqueeze(3).unsqueeze(4) * acts.unsqueeze(1);  // {B, K, C, h, w}
  return projection_2d(weighted.reshape({b * k, c, h, w})).reshape({b, k, h, w});
}

at::Tensor class_scores(const ModelBackend& model, const at::Tensor& logits, const std::string& score) {
  if (score == "logit") return logits;
  if (score != "probability") throw Error("cam: score must be logit or probability, got '" + score + "'");
  const std::string act = model.output_activation();
  if (act == "softmax") return logits.softmax(1);
  if (act == "sigmoid") return logits.sigmoid();
  return logits;
}

std::int64_t masked_batch(const ModelBackend& model, std::int64_t height, std::int64_t width, const Request& request,
                          const std::string& what) {
  // Without autograd a forward pass keeps about the two largest layer outputs alive at
  // once; three of the largest plus the input is a safe bound per item.
  double largest = 0;
  for (const auto& layer : model.layers_for(height, width)) {
    double n = 1;
    for (const auto d : layer.shape) n *= static_cast<double>(d);
    largest = std::max(largest, n);
  }
  const double per_item = 4.0 * (3.0 * largest + static_cast<double>(model.input_spec().channels * height * width));
  const std::int64_t fit = std::max<std::int64_t>(1, static_cast<std::int64_t>(request.masked_memory_bytes / per_item));
  const std::int64_t n = request.masked_batch_size > 0 ? request.masked_batch_size : fit;
  vizrun::require_memory(request.who + ": " + what + " in batches of " + std::to_string(n), per_item * static_cast<double>(n));
  return n;
}

at::Tensor score_cam_weights(ModelBackend& model, const at::Tensor& input, const at::Tensor& acts,
                             const at::Tensor& classes, const Request& request) {
  torch::autograd::AutoGradMode grad_off(false);
  const std::int64_t batch = acts.size(0), channels = acts.size(1), height = input.size(2), width = input.size(3);
  const std::int64_t step = masked_batch(model, height, width, request, "Score-CAM's masked inputs");
  const std::string logits_layer = model.logits_layer();
  std::vector<at::Tensor> per_image;
  for (std::int64_t b = 0; b < batch; ++b) {
    const at::Tensor image = input.slice(0, b, b + 1);
    auto scores_of = [&](const at::Tensor& masked) {  // {n, K}
      const at::Tensor logits = model.forward(masked, {logits_layer}).at(logits_layer).to(at::kFloat);
      return class_scores(model, logits, request.score).index_select(1, classes[b]);
    };
    // A channel that is zero everywhere (a ReLU's dead channel) masks the whole input to
    // zero: every such channel has the same score, computed once. The result is the same
    // as masking each one (pgc runs them all).
    const at::Tensor flat_acts = acts[b].flatten(1);
    const at::Tensor dead = flat_acts.amax(1).eq(0).logical_and(flat_acts.amin(1).eq(0)).to(at::kCPU);
    const at::Tensor live = at::nonzero(dead.logical_not()).flatten().to(acts.device());
    at::Tensor scores = at::empty({channels, classes.size(1)}, acts.options().dtype(at::kFloat));
    if (live.numel() < channels) scores.index_put_({dead.to(acts.device())}, scores_of(image * 0.0));
    // Masks are upsampled a chunk at a time: memory does not grow with the channels.
    for (std::int64_t c0 = 0; c0 < live.numel(); c0 += step) {
      const at::Tensor picked = live.slice(0, c0, std::min(live.numel(), c0 + step));
      // torch.nn.UpsamplingBilinear2d: align_corners=True.
      at::Tensor masks = at::upsample_bilinear2d(acts.slice(0, b, b + 1).index_select(1, picked), {height, width},
                                                 /*align_corners=*/true)[0];
      const at::Tensor flat = masks.flatten(1);
      const at::Tensor hi = std::get<0>(flat.max(1)).view({-1, 1, 1});
      const at::Tensor lo = std::get<0>(flat.min(1)).view({-1, 1, 1});
      masks = (masks - lo) / (hi - lo + 1e-8);
      scores.index_copy_(0, picked, scores_of(image * masks.unsqueeze(1)));  // {n, C_in, H, W} through the model
    }
    per_image.push_back(scores.t().softmax(1));  // {K, C}
  }
  return at::stack(per_image, 0);
}

at::Tensor ablation_cam_weights(ModelBackend& model, const at::Tensor& input, const std::string& layer,
                                const at::Tensor& acts, const at::Tensor& classes, const at::Tensor& original,
                                const Request& request) {
  LayerReplace* replace = query<LayerReplace>(model);
  if (replace == nullptr)
    throw Error(request.who + ": ablationcam needs a model backend that runs the network from a layer on "
                "(vizrun.LayerReplace/1, which the graph-based plugins vgg16, resnet50v2, small_convnet and keras have); "
                "this backend lacks it: use scorecam or a gradient method with it");
  torch::autograd::AutoGradMode grad_off(false);
  const std::int64_t batch = acts.size(0), channels = acts.size(1);
  const std::int64_t step = masked_batch(model, input.size(2), input.size(3), request, "Ablation-CAM's ablated activations");
  const std::string logits_layer = model.logits_layer();
  std::vector<at::Tensor> per_image;
  for (std::int64_t b = 0; b < batch; ++b) {
    const at::Tensor a = acts[b];
    // Zero where the layer's smallest value is 0 (after a ReLU); otherwise far below it,
    // as pytorch-grad-cam's AblationLayer does for the first channel of a batch.
    const double low = a.min().item<double>();
    const double ablated = low == 0.0 ? 0.0 : low - 1e7;
    std::vector<at::Tensor> chunks;
    for (std::int64_t c0 = 0; c0 < channels; c0 += step) {
      const std::int64_t n = std::min(channels, c0 + step) - c0;
      at::Tensor replacement = a.unsqueeze(0).repeat({n, 1, 1, 1});
      const at::Tensor items = at::arange(n, classes.options());
      replacement.index_put_({items, items + c0}, ablated);
      const Activations outs = replace->forward_replaced(input.slice(0, b, b + 1), layer, replacement, {logits_layer});
      const at::Tensor logits = outs.at(logits_layer).to(at::kFloat);
      chunks.push_back(class_scores(model, logits, request.score).index_select(1, classes[b]));  // {n, K}
    }
    const at::Tensor scores = at::cat(chunks, 0).t();  // {K, C}
    const at::Tensor base = original[b].unsqueeze(1);  // {K, 1}
    per_image.push_back((base - scores) / base);
  }
  return at::stack(per_image, 0);
}

namespace {

at::Tensor choose_classes(const at::Tensor& logits, const ClassChoice& choice, const std::string& who) {
  if (choice.ids.empty()) {
    const std::int64_t k = std::min<std::int64_t>(choice.top, logits.size(1));
    return std::get<1>(logits.detach().topk(k, 1));
  }
  for (const auto id : choice.ids)
    if (id < 0 || id >= logits.size(1))
      throw Error(who + ": class " + std::to_string(id) + " is out of range (the model has " +
                  std::to_string(logits.size(1)) + " classes)");
  return at::tensor(choice.ids, at::kLong).to(logits.device()).unsqueeze(0).expand({logits.size(0), -1}).contiguous();
}

}  // namespace

Result compute(ModelBackend& model, const at::Tensor& input, const Request& request, const ClassChoice& choice,
               const at::Tensor& fixed_classes) {
  const std::string& who = request.who;
  const std::string logits_layer = model.logits_layer();
  if (logits_layer.empty())
    throw Error(who + ": the model has no classifier (logits_layer is empty); load it with its top, e.g. include_top: true");
  if (request.layers.empty() || request.methods.empty()) throw Error(who + ": no layer or no method to compute");
  const bool gradients = std::any_of(request.methods.begin(), request.methods.end(), uses_gradients);
  torch::autograd::AutoGradMode grad_mode(gradients);
  // The input requires a gradient only so that the tapped layers are part of a graph;
  // autograd::grad below stops at those layers and never reaches the input.
  at::Tensor x = input.to(at::kFloat).detach();
  if (gradients) x.requires_grad_(true);
  std::vector<std::string> taps = request.layers;
  taps.push_back(logits_layer);
  const Activations acts = model.forward(x, taps);
  std::vector<at::Tensor> features;
  for (const auto& layer : request.layers) {
    const at::Tensor& f = acts.at(layer);
    if (f.dim() != 4) throw Error(who + ": layer " + layer + " has no spatial output; choose a convolutional layer");
    features.push_back(f);
  }
  Result result;
  const at::Tensor logits = acts.at(logits_layer).to(at::kFloat);
  const at::Tensor scores = class_scores(model, logits, request.score);
  result.logits = logits.detach();
  result.classes = fixed_classes.defined() ? fixed_classes.to(logits.device(), at::kLong) : choose_classes(logits, choice, who);
  const std::int64_t k = result.classes.size(1);

  // grads[l][j]: d(sum over images of class j's score) / d(layer l). Images are
  // independent (eval mode), so the sum's gradient gives each image its own.
  std::vector<std::vector<at::Tensor>> grads(features.size());
  for (std::int64_t j = 0; gradients && j < k; ++j) {
    const at::Tensor target = scores.gather(1, result.classes.select(1, j).unsqueeze(1)).sum();
    const auto g = torch::autograd::grad({target}, features, {}, /*retain_graph=*/j + 1 < k);
    for (std::size_t l = 0; l < features.size(); ++l) grads[l].push_back(g[l].detach().to(at::kFloat));
  }
  torch::autograd::AutoGradMode grad_off(false);
  const at::Tensor original = scores.detach().gather(1, result.classes);  // {B, K}
  for (const Method method : request.methods) {
    std::vector<at::Tensor> per_layer;
    for (std::size_t l = 0; l < features.size(); ++l) {
      const at::Tensor a = features[l].detach().to(at::kFloat);
      at::Tensor map;
      if (method == Method::scorecam) {
        map = weighted_maps(score_cam_weights(model, x.detach(), a, result.classes, request), a, request.eigen_smooth);
      } else if (method == Method::ablationcam) {
        map = weighted_maps(
            ablation_cam_weights(model, x.detach(), request.layers[l], a, result.classes, original, request), a,
            request.eigen_smooth);
      } else if (method == Method::eigencam) {
        map = gradient_map(method, a, at::Tensor(), false).unsqueeze(1).expand({-1, k, -1, -1}).contiguous();
      } else {
        std::vector<at::Tensor> per_class;
        for (std::int64_t j = 0; j < k; ++j) per_class.push_back(gradient_map(method, a, grads[l][j], request.eigen_smooth));
        map = at::stack(per_class, 1);
      }
      per_layer.push_back(map.relu());
    }
    result.maps.push_back(std::move(per_layer));
  }
  return result;
}

at::Tensor scale(const at::Tensor& maps) {
  const at::Tensor shifted = maps - maps.amin({-2, -1}, /*keepdim=*/true);
  return shifted / (shifted.amax({-2, -1}, /*keepdim=*/true) + 1e-7);
}

at::Tensor resize_maps(const at::Tensor& maps, std::int64_t height, std::int64_t width) {
  if (maps.size(-2) == height && maps.size(-1) == width) return maps;
  auto sizes = maps.sizes().vec();
  const at::Tensor flat = maps.reshape({-1, 1, maps.size(-2), maps.size(-1)});
  sizes[sizes.size() - 2] = height;
  sizes[sizes.size() - 1] = width;
  return at::upsample_bilinear2d(flat, {height, width}, /*align_corners=*/false).reshape(sizes);
}

at::Tensor combine_layers(const std::vector<at::Tensor>& per_layer, std::int64_t height, std::int64_t width,
                          bool at_input) {
  if (per_layer.size() == 1 && !at_input) return scale(per_layer[0]);
  at::Tensor sum;
  for (const auto& map : per_layer) {
    const at::Tensor resized = resize_maps(scale(map), height, width);
    sum = sum.defined() ? sum + resized : resized;
  }
  return scale((sum / static_cast<double>(per_layer.size())).relu());
}

std::vector<at::Tensor> aug_smooth(ModelBackend& model, const at::Tensor& input, const Request& request,
                                   const at::Tensor& classes) {
  const std::int64_t height = input.size(2), width = input.size(3);
  std::vector<at::Tensor> sums(request.methods.size());
  int count = 0;
  // ttach's order: HorizontalFlip (off, on) x Multiply (0.9, 1, 1.1).
  for (const bool flip : {false, true}) {
    for (const double factor : {0.9, 1.0, 1.1}) {
      at::Tensor augmented;
      {
        torch::autograd::AutoGradMode grad_off(false);
        augmented = (flip ? input.flip({3}) : input) * factor;
      }
      const Result r = compute(model, augmented, request, ClassChoice{}, classes);
      torch::autograd::AutoGradMode grad_off(false);
      for (std::size_t m = 0; m < request.methods.size(); ++m) {
        at::Tensor combined = combine_layers(r.maps[m], height, width, /*at_input=*/true);
        if (flip) combined = combined.flip({-1});
        sums[m] = sums[m].defined() ? sums[m] + combined : combined;
      }
      ++count;
    }
  }
  for (auto& s : sums) s = s / static_cast<double>(count);
  return sums;
}

at::Tensor overlay_photo(const at::Tensor& original_chw, const std::string& path, const PictureStyle& style,
                         const std::string& who) {
  at::Tensor photo = original_chw.permute({1, 2, 0}).round().clamp(0, 255).to(at::kByte).contiguous();
  // A small photo (Fashion-MNIST is 28 px) is enlarged by whole pixels so the overlay can be seen.
  const std::int64_t overlay_min = style.overlay_min_size;
  const std::int64_t short_side = std::min(photo.size(0), photo.size(1));
  const std::int64_t enlarge = short_side < overlay_min ? (overlay_min + short_side - 1) / short_side : 1;
  // A long thin photo enlarged for its short side can be huge; the overlay keeps
  // about 40 bytes per pixel (photo, resized map, colours, blend).
  vizrun::require_memory(who + ": the overlay of " + path + " (" + std::to_string(photo.size(1)) + "x" +
                             std::to_string(photo.size(0)) + " enlarged " + std::to_string(enlarge) +
                             " times for overlay_min_size " + std::to_string(overlay_min) + ")",
                         40.0 * static_cast<double>(photo.size(0) * enlarge) * static_cast<double>(photo.size(1) * enlarge));
  return enlarge > 1 ? image::upscale(photo, enlarge) : photo;
}

void emit_map(Output& out, const std::string& base, const at::Tensor& map, const at::Tensor& photo, const Dict& meta,
              const PictureStyle& style, const std::string& title, const std::string& heatmap_title) {
  if (style.save_arrays) out.array(base + "_heatmap", map, meta);
  // The heatmap alone, upscaled so its cells stay square and visible.
  const std::int64_t factor = std::max<std::int64_t>(1, (style.heatmap_size + map.size(0) - 1) / map.size(0));
  at::Tensor heat_img = image::upscale(image::colormap(map, style.heatmap_colormap), factor);
  // Overlay: the map resized (bilinear) to the photo, coloured, blended.
  const at::Tensor big = image::resize(map.unsqueeze(2), photo.size(0), photo.size(1), "bilinear").squeeze(2);
  const at::Tensor colours = image::colormap(big.clamp(0, 1), style.overlay_colormap);
  at::Tensor blended = image::overlay(photo, colours, style.intensity);
  if (style.titles) {
    heat_img = image::add_title(heat_img, heatmap_title, 1, 32);
    blended = image::add_title(blended, title, std::max<std::int64_t>(1, blended.size(1) / 300), 32);
  }
  Dict heat_meta = meta, overlay_meta = meta;
  heat_meta["view"] = "heatmap";
  overlay_meta["view"] = "overlay";
  out.image(base + "_heatmap", heat_img, heat_meta);
  out.image(base + "_overlay", blended, overlay_meta);
}

ClassChoice resolve_classes(const ModelBackend& model, const Value& spec, const std::string& who) {
  ClassChoice choice;
  if (spec.is_dict()) {  // {top: K}, K >= 1 by the schema
    choice.top = spec.at("top").as_int();
    return choice;
  }
  const auto names = model.class_names();
  for (const auto& item : spec.as_list()) {
    if (item.is_int()) {
      choice.ids.push_back(item.as_int());
      continue;
    }
    const std::string& name = item.as_string();
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      const std::string suggestion = did_you_mean(name, names);
      throw Error(who + ": unknown class name '" + name + "'" +
                  (suggestion.empty() ? std::string(" (the model has ") + std::to_string(names.size()) + " class names)"
                                      : "; " + suggestion));
    }
    choice.ids.push_back(it - names.begin());
  }
  const std::int64_t outputs = kit::output_count(model);
  for (const std::int64_t id : choice.ids)
    if (outputs > 0 && id >= outputs)
      throw Error(who + ": class " + std::to_string(id) + " is out of range: the model scores " +
                  std::to_string(outputs) + " classes (0.." + std::to_string(outputs - 1) + ")");
  return choice;
}

List top_predictions(const ModelBackend& model, const at::Tensor& probabilities, std::int64_t count) {
  const auto top = probabilities.topk(std::min<std::int64_t>(count, probabilities.size(0)), 0);
  List list;
  for (std::int64_t j = 0; j < std::get<0>(top).size(0); ++j) {
    const std::int64_t id = std::get<1>(top)[j].item<std::int64_t>();
    list.push_back(Dict{{"class", id}, {"name", kit::class_label(model, id)}, {"probability", std::get<0>(top)[j].item<double>()}});
  }
  return list;
}

}  // namespace vizrun::techniques::cam
