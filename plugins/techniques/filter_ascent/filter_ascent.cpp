#include "filter_ascent.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "vizrun/image.h"
#include "vizrun/memory.h"
#include "vizrun/model_extensions.h"

namespace vizrun::techniques {

namespace {

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  // splitmix64 step: a well-spread per-filter seed.
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

std::uint64_t hash_string(const std::string& s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string filter_name(std::int64_t f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "filter_%04lld", static_cast<long long>(f));
  return buf;
}

}  // namespace

AscentResult gradient_ascent(ModelBackend& model, const std::string& layer, const std::vector<std::int64_t>& filters,
                             const at::Tensor& start, const AscentRecipe& recipe, bool keep_first_grad,
                             const std::function<void(std::int64_t)>& on_step) {
  const std::int64_t batch = start.size(0);
  if (static_cast<std::int64_t>(filters.size()) != batch)
    throw Error("gradient_ascent: " + std::to_string(filters.size()) + " filters for " + std::to_string(batch) + " images");
  const auto memory_format = recipe.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  at::Tensor x = start.to(at::kFloat).contiguous(memory_format).detach().clone(memory_format);
  x.requires_grad_(true);
  const at::Tensor index = at::tensor(filters, at::TensorOptions().dtype(at::kLong)).to(x.device());
  const at::Tensor rows = at::arange(batch, at::TensorOptions().dtype(at::kLong).device(x.device()));
  AscentResult result;
  result.losses = at::empty({recipe.steps, batch}, at::kFloat);
  const std::vector<std::string> taps{layer};
  for (std::int64_t step = 0; step < recipe.steps; ++step) {
    at::Tensor loss_per_image;
    at::Tensor grad;
    {
      torch::autograd::AutoGradMode grad_on(true);
      at::Tensor maps;
      if (recipe.target_filters_only) {
        // {B, 1, H, W}: a backend with the ChannelForward extension computes only
        // filter filters[b] for image b; the SDK falls back to forward + gather.
        maps = vizrun::forward_channels(model, x, layer, index).select(1, 0);
      } else {
        const Activations acts = model.forward(x, taps);
        const at::Tensor& act = acts.at(layer);
        if (act.dim() != 4)
          throw Error("filter_ascent: layer " + layer + " has no spatial output (shape rank " +
                      std::to_string(act.dim()) + "); choose a convolutional layer");
        // act[b, filters[b]] -> {B, H, W}: each image watches its own filter.
        maps = act.index({rows, index});
      }
      const std::int64_t border = recipe.loss_border;
      if (border > 0) {
        if (2 * border >= maps.size(1) || 2 * border >= maps.size(2))
          throw Error("filter_ascent: loss_border " + std::to_string(border) + " leaves nothing of the " +
                      std::to_string(maps.size(1)) + "x" + std::to_string(maps.size(2)) + " map of layer " + layer);
        maps = maps.slice(1, border, maps.size(1) - border).slice(2, border, maps.size(2) - border);
      }
      loss_per_image = maps.to(at::kFloat).mean({1, 2});
      grad = torch::autograd::grad({loss_per_image.sum()}, {x})[0];
    }
    result.losses[step].copy_(loss_per_image.detach().to(at::kCPU));
    if (step == 0 && keep_first_grad) result.first_grad = grad.detach().contiguous().to(at::kCPU);
    {
      torch::autograd::AutoGradMode grad_off(false);
      at::Tensor g = grad.to(at::kFloat);
      if (recipe.normalization == AscentRecipe::Normalization::rms) {
        g = g / (g.pow(2).mean({1, 2, 3}, /*keepdim=*/true).sqrt() + 1e-5);
      } else if (recipe.normalization == AscentRecipe::Normalization::l2) {
        g = g / g.pow(2).sum({1, 2, 3}, /*keepdim=*/true).clamp_min(1e-12).sqrt();
      }
      x.add_(g, recipe.step_size);
    }
    if (on_step) on_step(step);
  }
  result.input = x.detach().contiguous();
  return result;
}

AscentRecipe::Normalization normalization_named(const std::string& name) {
  if (name == "l2") return AscentRecipe::Normalization::l2;
  if (name == "none") return AscentRecipe::Normalization::none;
  return AscentRecipe::Normalization::rms;  // the schema admits only these three
}

namespace {
std::optional<double> optional_number(const Options& options, const std::string& key) {
  return options.has(key) ? std::optional<double>(options.number(key)) : std::nullopt;
}
}  // namespace

FilterAscentOptions::FilterAscentOptions(const Options& o)
    : layers(o.value("layers")),
      filters(o.value("filters")),
      size(o.value("size")),
      init(o.value("init")),
      init_space(o.string("init_space")),
      resize(o.string("resize")),
      init_scale(optional_number(o, "init_scale")),
      init_offset(optional_number(o, "init_offset")),
      deprocess_std(o.number("deprocess_std")),
      memory_budget_mb(o.number("memory_budget_mb")),
      crop(o.integer("crop")),
      grid_columns(o.integer("grid_columns")),
      grid_margin(o.integer("grid_margin")),
      grid_background(o.integer("grid_background")),
      batch_size(o.integer("batch_size")),
      max_batch(o.integer("max_batch")),
      display_pixel(o.string("display_space") == "pixel"),
      filter_images(o.boolean("filter_images")),
      save_arrays(o.boolean("save_arrays")),
      loss_curves(o.boolean("loss_curves")),
      titles(o.boolean("titles")),
      reuse_memory(o.boolean("reuse_memory")) {
  recipe.steps = o.integer("steps");
  recipe.step_size = o.number("step_size");
  recipe.normalization = normalization_named(o.string("gradient_normalization"));
  recipe.loss_border = o.integer("loss_border");
  recipe.channels_last = o.boolean("channels_last");
  recipe.target_filters_only = o.boolean("target_filters_only");
}

FilterAscent::FilterAscent(const CreateArgs& args) : TechniqueBase(args), m_options(options()) {}

at::Tensor FilterAscent::start_images(ModelBackend& model, const std::string& layer,
                                      const std::vector<std::int64_t>& filters, std::int64_t height,
                                      std::int64_t width) const {
  const Value& init = m_options.init;
  const std::string kind = init.is_string() ? init.as_string() : "image";  // the schema's two forms
  std::string space = m_options.init_space;
  if (space == "auto") space = kind == "uniform" ? "model" : "pixel";
  const std::int64_t channels = model.input_spec().channels;
  const std::int64_t n = static_cast<std::int64_t>(filters.size());
  at::Tensor pictures;
  if (kind == "image") {
    const std::string path = host().resolve_path(init.at("image").as_string());
    pictures = kit::load_batch(host(), {path}, height, width, m_options.resize, at::kCPU).expand({n, -1, -1, -1}).contiguous();
  } else {
    double scale = 0, offset = 0;
    bool normal = false;
    if (kind == "gray_noise") {
      scale = 20.0;  // uniform [0, 1) * 20 + 128, a gray picture with some noise
      offset = 128.0;
    } else if (kind == "uniform") {
      scale = 0.25;  // (uniform [0, 1) - 0.5) * 0.25: [-0.125, 0.125) around 0
      offset = -0.125;
    } else {  // normal
      scale = 10.0;  // normal, mean 127, std 10
      offset = 127.0;
      normal = true;
    }
    scale = m_options.init_scale.value_or(scale);
    offset = m_options.init_offset.value_or(offset);
    std::vector<at::Tensor> items;
    const std::uint64_t base = mix(seed(), hash_string(layer));
    for (const auto f : filters) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(base, static_cast<std::uint64_t>(f)));
      at::Tensor noise = normal ? at::randn({channels, height, width}, gen, at::TensorOptions().dtype(at::kFloat))
                                : at::rand({channels, height, width}, gen, at::TensorOptions().dtype(at::kFloat));
      items.push_back(noise * scale + offset);
    }
    pictures = at::stack(items);
  }
  pictures = pictures.to(device());
  if (space == "pixel") {
    torch::autograd::AutoGradMode grad_off(false);
    // preprocess takes RGB pixels; a grey model's noise is a grey RGB picture.
    if (pictures.size(1) == 1) pictures = pictures.expand({-1, 3, -1, -1}).contiguous();
    return model.preprocess(pictures).to(at::kFloat);
  }
  return pictures;
}

std::int64_t FilterAscent::batch_size(const ModelBackend& model, const std::string& layer, std::int64_t height,
                                      std::int64_t width, std::size_t filters) const {
  const std::int64_t requested = m_options.batch_size;
  if (requested > 0) return std::min<std::int64_t>(requested, static_cast<std::int64_t>(filters));
  // Autograd keeps roughly every activation up to the target layer (plus its
  // gradient while the backward pass runs): ~3 floats per activation element.
  // (activation_bytes counts the input once; the picture, its gradient and the step
  // keep four copies: 48 bytes per pixel in all, as before.)
  const double per_image = kit::activation_bytes(model, height, width, 1, layer, 3.0) +
                           36.0 * static_cast<double>(height) * static_cast<double>(width);
  const double budget = m_options.memory_budget_mb * 1024.0 * 1024.0;
  const auto fit = static_cast<std::int64_t>(budget / std::max(per_image, 1.0));
  const std::int64_t cap = m_options.max_batch;
  return std::max<std::int64_t>(1, std::min({fit, cap, static_cast<std::int64_t>(filters)}));
}

void FilterAscent::check_model(const ModelBackend& model) const {
  const FilterAscentOptions& o = m_options;
  std::pair<std::int64_t, std::int64_t> size;
  kit::check_option("/size", [&] {
    size = kit::input_size(model, o.size);
    model.layers_for(size.first, size.second);
  });
  const auto [height, width] = size;
  std::vector<LayerInfo> layers;
  kit::check_option("/layers", [&] {
    layers = kit::select_layers_at(model, height, width, o.layers);
    for (const auto& l : layers)
      if (l.shape.size() != 3)
        throw Error("filter_ascent: layer " + l.name + " (" + l.type + ") has no spatial output; choose a convolution");
  });
  kit::check_option("/filters", [&] {
    for (const auto& l : layers) kit::select_filters(o.filters, l.shape[0], l.name);
  });
  kit::check_option("/crop", [&] {
    if (2 * o.crop >= std::min(height, width))
      throw Error("filter_ascent: crop " + std::to_string(o.crop) + " leaves nothing of a " + std::to_string(height) +
                  "x" + std::to_string(width) + " image");
  });
  if (o.init.is_dict()) kit::check_option("/init/image", [&] { host().expand_inputs({o.init.at("image").as_string()}); });
}

void FilterAscent::run(ModelBackend& model, Output& out) {
  check_model(model);
  const FilterAscentOptions& o = m_options;
  const AscentRecipe& recipe = o.recipe;
  const auto [height, width] = kit::input_size(model, o.size);
  const auto layers = kit::select_layers_at(model, height, width, o.layers);
  const std::int64_t crop = o.crop, cols = o.grid_columns, margin = o.grid_margin;

  kit::MemoryReuseScope reuse(device().is_cpu() && o.reuse_memory);
  Dict final_losses;
  Dict loss_curves;
  host().expect_stages(layers.size());
  for (const auto& layer : layers) {
    const auto filters = kit::select_filters(o.filters, layer.shape[0], layer.name);
    const std::int64_t batch = batch_size(model, layer.name, height, width, filters.size());
    const std::int64_t n = static_cast<std::int64_t>(filters.size());
    const std::int64_t batches = (n + batch - 1) / batch;
    // Refuse what cannot fit before the first allocation: a batch through the
    // network, and the layer's grid with every picture it holds.
    const std::string shape = std::to_string(height) + "x" + std::to_string(width);
    if (device().is_cpu()) {
      vizrun::require_memory("filter_ascent: " + layer.name + ": a batch of " + std::to_string(batch) + " pictures of " +
                                 shape,
                             kit::activation_bytes(model, height, width, batch, layer.name, 3.0) +
                                 16.0 * static_cast<double>(batch * height * width * 3));
    }
    {
      const double cell = static_cast<double>(std::max<std::int64_t>(1, std::min(height, width) - 2 * crop) + margin);
      const double rows = static_cast<double>((n + cols - 1) / cols);
      const double grid = rows * cell * static_cast<double>(std::min(n, cols)) * cell * 3;
      vizrun::require_memory("filter_ascent: " + layer.name + ": the grid of " + std::to_string(n) + " pictures of " +
                                 shape + " with grid_margin " + std::to_string(margin),
                             2.0 * grid + static_cast<double>(n * height * width * 3));
    }
    host().log(LogLevel::info, "filter_ascent: " + layer.name + ": " + std::to_string(n) + " filters, " +
                                   std::to_string(height) + "x" + std::to_string(width) + ", " +
                                   std::to_string(recipe.steps) + " steps, batches of " + std::to_string(batch) +
                                   (kit::autocast_active() ? ", bf16 autocast" : ""));
    std::vector<at::Tensor> pictures(filters.size());
    List layer_losses;
    List layer_curves;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t b = 0; b < batches; ++b) {
      host().check_stop();
      const std::vector<std::int64_t> chunk(filters.begin() + b * batch, filters.begin() + std::min(n, (b + 1) * batch));
      const at::Tensor start = start_images(model, layer.name, chunk, height, width);
      const std::size_t total = static_cast<std::size_t>(batches * recipe.steps);
      AscentResult r = gradient_ascent(model, layer.name, chunk, start, recipe, false, [&](std::int64_t step) {
        host().progress(layer.name, static_cast<std::size_t>(b * recipe.steps + step + 1), total);
        host().check_stop();
      });
      at::Tensor shown;
      {
        torch::autograd::AutoGradMode grad_off(false);
        shown = (o.display_pixel ? model.deprocess(r.input) : r.input).to(at::kFloat).to(at::kCPU).contiguous();
      }
      const at::Tensor final_loss = r.losses[recipe.steps - 1];
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const std::int64_t f = chunk[i];
        const double loss = final_loss[static_cast<std::int64_t>(i)].item<double>();
        const at::Tensor img = image::deprocess_pattern(shown[static_cast<std::int64_t>(i)], o.deprocess_std, crop);
        pictures[static_cast<std::size_t>(b * batch) + i] = img;
        Dict meta{{"layer", layer.name}, {"filter", f}, {"loss", loss}, {"steps", recipe.steps}};
        if (o.filter_images) out.image(layer.name + "/" + filter_name(f), img, meta);
        if (o.save_arrays) out.array(layer.name + "/" + filter_name(f), r.input[static_cast<std::int64_t>(i)].to(at::kCPU), meta);
        layer_losses.push_back(Dict{{"filter", f}, {"loss", loss}});
        if (o.loss_curves) {
          List curve;
          const at::Tensor c = r.losses.select(1, static_cast<std::int64_t>(i)).contiguous();
          for (std::int64_t s = 0; s < c.size(0); ++s) curve.push_back(c[s].item<double>());
          layer_curves.push_back(Dict{{"filter", f}, {"loss", curve}});
        }
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = static_cast<double>(n * recipe.steps) / std::max(seconds, 1e-9);
    {
      char buf[128];
      std::snprintf(buf, sizeof buf, "filter_ascent: %s done in %.1f s (%.1f image-steps/s)", layer.name.c_str(), seconds, rate);
      host().log(LogLevel::info, buf);
    }
    at::Tensor grid = image::tile(at::stack(pictures), cols, margin, static_cast<std::uint8_t>(o.grid_background));
    if (o.titles) {
      std::string text = layer.name + "  filters " + std::to_string(filters.front()) + "-" + std::to_string(filters.back());
      if (filters.size() == 1)
        text = layer.name + "  filter " + std::to_string(filters.front());
      else if (static_cast<std::int64_t>(filters.size()) != filters.back() - filters.front() + 1)
        text = layer.name + "  " + std::to_string(filters.size()) + " filters";
      text += "  (" + std::to_string(recipe.steps) + " steps)";
      // Large print when it fits the grid's width, small print otherwise.
      const auto chars = static_cast<std::int64_t>(text.size());
      const std::int64_t scale = chars * 12 + 8 <= grid.size(1) ? 2 : 1;
      grid = image::add_title(grid, text, scale, 32);
    }
    out.image(layer.name + "/grid", grid,
              Dict{{"layer", layer.name}, {"filters", static_cast<std::int64_t>(filters.size())},
                   {"columns", std::min<std::int64_t>(cols, n)}, {"seconds", seconds}, {"image_steps_per_second", rate}});
    final_losses[layer.name] = layer_losses;
    out.record("final_losses", final_losses);
    if (o.loss_curves) {
      loss_curves[layer.name] = layer_curves;
      out.record("loss_curves", loss_curves);
    }
  }
}

}  // namespace vizrun::techniques
