#include "filter_ascent.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "technique_kit.h"
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
      if (recipe.normalization == "rms") {
        g = g / (g.pow(2).mean({1, 2, 3}, /*keepdim=*/true).sqrt() + 1e-5);
      } else if (recipe.normalization == "l2") {
        g = g / g.pow(2).sum({1, 2, 3}, /*keepdim=*/true).clamp_min(1e-12).sqrt();
      } else if (recipe.normalization != "none") {
        throw Error("filter_ascent: unknown gradient_normalization '" + recipe.normalization +
                    "'; expected rms, l2 or none");
      }
      x.add_(g, recipe.step_size);
    }
    if (on_step) on_step(step);
  }
  result.input = x.detach().contiguous();
  return result;
}

FilterAscent::FilterAscent(const CreateArgs& args)
    : m_options(args.options), m_host(args.host), m_device(args.device), m_precision(args.precision), m_seed(args.seed) {
  if (!m_options.is_dict()) m_options = Dict{};
  if (!m_options.contains("layers")) throw Error("filter_ascent: option 'layers' is required (names, globs or all_conv)");
  m_recipe.steps = kit::opt_int(m_options, "steps", 40);
  m_recipe.step_size = kit::opt_double(m_options, "step_size", 1.0);
  m_recipe.normalization = kit::opt_string(m_options, "gradient_normalization", "rms");
  m_recipe.loss_border = kit::opt_int(m_options, "loss_border", 0);
  m_recipe.channels_last = kit::opt_bool(m_options, "channels_last", true);
  m_recipe.target_filters_only = kit::opt_bool(m_options, "target_filters_only", true);
  if (m_recipe.steps < 1) throw Error("filter_ascent: steps must be >= 1");
  if (m_recipe.loss_border < 0) throw Error("filter_ascent: loss_border must be >= 0");
  if (m_recipe.normalization != "rms" && m_recipe.normalization != "l2" && m_recipe.normalization != "none")
    throw Error("filter_ascent: gradient_normalization must be rms, l2 or none, got '" + m_recipe.normalization + "'");
  const std::string display = kit::opt_string(m_options, "display_space", "pixel");
  if (display != "pixel" && display != "model")
    throw Error("filter_ascent: display_space must be pixel or model, got '" + display + "'");
}

at::Tensor FilterAscent::start_images(ModelBackend& model, const std::string& layer,
                                      const std::vector<std::int64_t>& filters, std::int64_t height,
                                      std::int64_t width) const {
  const Value init = m_options.get("init", Value("gray_noise"));
  std::string kind;
  if (init.is_string()) {
    kind = init.as_string();
  } else if (init.is_dict() && init.contains("image")) {
    kind = "image";
  } else {
    throw Error("filter_ascent: init must be gray_noise, uniform, normal or {image: PATH}, got " + init.to_json());
  }
  std::string space = kit::opt_string(m_options, "init_space", "auto");
  if (space == "auto") space = kind == "uniform" ? "model" : "pixel";
  if (space != "pixel" && space != "model")
    throw Error("filter_ascent: init_space must be auto, pixel or model, got '" + space + "'");
  const std::int64_t channels = model.input_spec().channels;
  const std::int64_t n = static_cast<std::int64_t>(filters.size());
  at::Tensor pictures;
  if (kind == "image") {
    const std::string path = m_host ? m_host->resolve_path(init.at("image").as_string()) : init.at("image").as_string();
    if (!m_host) throw Error("filter_ascent: init image needs a host to load " + path);
    const std::string mode = kit::opt_string(m_options, "resize", "nearest");
    pictures = kit::load_batch(*m_host, {path}, height, width, mode, at::kCPU).expand({n, -1, -1, -1}).contiguous();
  } else {
    double scale = 0, offset = 0;
    bool normal = false;
    if (kind == "gray_noise") {
      scale = 20.0;  // uniform [0, 1) * 20 + 128, a gray picture with some noise
      offset = 128.0;
    } else if (kind == "uniform") {
      scale = 0.25;  // (uniform [0, 1) - 0.5) * 0.25: [-0.125, 0.125) around 0
      offset = -0.125;
    } else if (kind == "normal") {
      scale = 10.0;  // normal, mean 127, std 10
      offset = 127.0;
      normal = true;
    } else {
      throw Error("filter_ascent: unknown init '" + kind + "'; expected gray_noise, uniform, normal or {image: PATH}");
    }
    scale = kit::opt_double(m_options, "init_scale", scale);
    offset = kit::opt_double(m_options, "init_offset", offset);
    std::vector<at::Tensor> items;
    const std::uint64_t base = mix(m_seed, hash_string(layer));
    for (const auto f : filters) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(base, static_cast<std::uint64_t>(f)));
      at::Tensor noise = normal ? at::randn({channels, height, width}, gen, at::TensorOptions().dtype(at::kFloat))
                                : at::rand({channels, height, width}, gen, at::TensorOptions().dtype(at::kFloat));
      items.push_back(noise * scale + offset);
    }
    pictures = at::stack(items);
  }
  pictures = pictures.to(m_device);
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
  std::int64_t requested = kit::opt_int(m_options, "batch_size", 0);
  if (requested > 0) return std::min<std::int64_t>(requested, static_cast<std::int64_t>(filters));
  // Autograd keeps roughly every activation up to the target layer (plus its
  // gradient while the backward pass runs): ~3 floats per activation element.
  // (activation_bytes counts the input once; the picture, its gradient and the step
  // keep four copies: 48 bytes per pixel in all, as before.)
  const double per_image = kit::activation_bytes(model, height, width, 1, layer, 3.0) +
                           36.0 * static_cast<double>(height) * static_cast<double>(width);
  const double budget = kit::opt_double(m_options, "memory_budget_mb", 2048.0) * 1024.0 * 1024.0;
  const auto fit = static_cast<std::int64_t>(budget / std::max(per_image, 1.0));
  const std::int64_t cap = kit::opt_int(m_options, "max_batch", 8);
  return std::max<std::int64_t>(1, std::min({fit, cap, static_cast<std::int64_t>(filters)}));
}

void FilterAscent::run(ModelBackend& model, Output& out) {
  const auto [height, width] = kit::input_size(model, m_options.get("size", Value(150)));
  const auto layers = kit::select_layers_at(model, height, width, m_options.at("layers"));
  const double target_std = kit::opt_double(m_options, "deprocess_std", 0.1);
  const std::int64_t crop = kit::opt_int(m_options, "crop", 0);
  const bool display_pixel = kit::opt_string(m_options, "display_space", "pixel") == "pixel";
  const bool per_filter = kit::opt_bool(m_options, "filter_images", true);
  const bool save_arrays = kit::opt_bool(m_options, "save_arrays", false);
  const bool curves = kit::opt_bool(m_options, "loss_curves", false);
  const bool title = kit::opt_bool(m_options, "titles", true);
  const std::int64_t cols = kit::opt_int(m_options, "grid_columns", 8);
  const std::int64_t margin = kit::opt_int(m_options, "grid_margin", 5);
  const auto background = static_cast<std::uint8_t>(kit::opt_int(m_options, "grid_background", 0));
  if (2 * crop >= std::min(height, width))
    throw Error("filter_ascent: crop " + std::to_string(crop) + " leaves nothing of a " + std::to_string(height) + "x" +
                std::to_string(width) + " image");

  kit::PrecisionScope precision(m_precision, m_device, m_host);
  kit::MemoryReuseScope reuse(m_device.is_cpu() && kit::opt_bool(m_options, "reuse_memory", true));
  Dict final_losses;
  Dict loss_curves;
  if (m_host) m_host->expect_stages(layers.size());
  for (const auto& layer : layers) {
    if (layer.shape.size() != 3)
      throw Error("filter_ascent: layer " + layer.name + " (" + layer.type + ") has no spatial output; choose a convolution");
    const auto filters = kit::select_filters(m_options.get("filters", Value(64)), layer.shape[0], layer.name);
    const std::int64_t batch = batch_size(model, layer.name, height, width, filters.size());
    const std::int64_t n = static_cast<std::int64_t>(filters.size());
    const std::int64_t batches = (n + batch - 1) / batch;
    // Refuse what cannot fit before the first allocation: a batch through the
    // network, and the layer's grid with every picture it holds.
    const std::string shape = std::to_string(height) + "x" + std::to_string(width);
    if (m_device.is_cpu()) {
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
    if (m_host)
      m_host->log(LogLevel::info, "filter_ascent: " + layer.name + ": " + std::to_string(n) + " filters, " +
                                      std::to_string(height) + "x" + std::to_string(width) + ", " +
                                      std::to_string(m_recipe.steps) + " steps, batches of " + std::to_string(batch) +
                                      (precision.bf16() ? ", bf16 autocast" : ""));
    std::vector<at::Tensor> pictures(filters.size());
    List layer_losses;
    List layer_curves;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t b = 0; b < batches; ++b) {
      if (m_host) m_host->check_stop();
      const std::vector<std::int64_t> chunk(filters.begin() + b * batch, filters.begin() + std::min(n, (b + 1) * batch));
      const at::Tensor start = start_images(model, layer.name, chunk, height, width);
      const std::size_t total = static_cast<std::size_t>(batches * m_recipe.steps);
      AscentResult r = gradient_ascent(model, layer.name, chunk, start, m_recipe, false, [&](std::int64_t step) {
        if (!m_host) return;
        m_host->progress(layer.name, static_cast<std::size_t>(b * m_recipe.steps + step + 1), total);
        m_host->check_stop();
      });
      at::Tensor shown;
      {
        torch::autograd::AutoGradMode grad_off(false);
        shown = (display_pixel ? model.deprocess(r.input) : r.input).to(at::kFloat).to(at::kCPU).contiguous();
      }
      const at::Tensor final_loss = r.losses[m_recipe.steps - 1];
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const std::int64_t f = chunk[i];
        const double loss = final_loss[static_cast<std::int64_t>(i)].item<double>();
        const at::Tensor img = image::deprocess_pattern(shown[static_cast<std::int64_t>(i)], target_std, crop);
        pictures[static_cast<std::size_t>(b * batch) + i] = img;
        Dict meta{{"layer", layer.name}, {"filter", f}, {"loss", loss}, {"steps", m_recipe.steps}};
        if (per_filter) out.image(layer.name + "/" + filter_name(f), img, meta);
        if (save_arrays) out.array(layer.name + "/" + filter_name(f), r.input[static_cast<std::int64_t>(i)].to(at::kCPU), meta);
        layer_losses.push_back(Dict{{"filter", f}, {"loss", loss}});
        if (curves) {
          List curve;
          const at::Tensor c = r.losses.select(1, static_cast<std::int64_t>(i)).contiguous();
          for (std::int64_t s = 0; s < c.size(0); ++s) curve.push_back(c[s].item<double>());
          layer_curves.push_back(Dict{{"filter", f}, {"loss", curve}});
        }
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = static_cast<double>(n * m_recipe.steps) / std::max(seconds, 1e-9);
    if (m_host) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "filter_ascent: %s done in %.1f s (%.1f image-steps/s)", layer.name.c_str(), seconds, rate);
      m_host->log(LogLevel::info, buf);
    }
    at::Tensor grid = image::tile(at::stack(pictures), cols, margin, background);
    if (title) {
      std::string text = layer.name + "  filters " + std::to_string(filters.front()) + "-" + std::to_string(filters.back());
      if (filters.size() == 1)
        text = layer.name + "  filter " + std::to_string(filters.front());
      else if (static_cast<std::int64_t>(filters.size()) != filters.back() - filters.front() + 1)
        text = layer.name + "  " + std::to_string(filters.size()) + " filters";
      text += "  (" + std::to_string(m_recipe.steps) + " steps)";
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
    if (curves) {
      loss_curves[layer.name] = layer_curves;
      out.record("loss_curves", loss_curves);
    }
  }
}

}  // namespace vizrun::techniques
