#include "activations.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cstdio>

#include "vizrun/image.h"
#include "vizrun/memory.h"

namespace vizrun::techniques {

std::int64_t auto_upscale(std::int64_t h, std::int64_t w, std::int64_t min_side) {
  const std::int64_t side = std::max<std::int64_t>(1, std::min(h, w));
  return std::max<std::int64_t>(1, (min_side + side - 1) / side);
}

at::Tensor activation_grid(const at::Tensor& chw, std::int64_t per_row, const std::string& colormap, double scale,
                           double offset, std::int64_t factor, std::int64_t margin, const std::string& title) {
  const at::Tensor maps = image::standardize(chw.to(at::kFloat).to(at::kCPU), scale, offset);  // {C, H, W} in [0, 255]
  // uint8 first, as the book's astype('uint8'), then through the colormap.
  const at::Tensor levels = maps.floor() / 255.0;
  at::Tensor cells = image::colormap(levels, colormap);  // {C, H, W, 3}
  if (factor > 1) cells = cells.repeat_interleave(factor, 1).repeat_interleave(factor, 2);
  at::Tensor grid = image::tile(cells, per_row, margin, 255);
  if (!title.empty()) grid = image::add_title(grid, title, grid.size(1) >= 600 ? 2 : 1, 32);
  return grid;
}

ActivationsOptions::ActivationsOptions(const Options& o)
    : layers(o.value("layers")),
      size(o.value("size")),
      upscale(o.value("upscale").is_int() ? o.integer("upscale") : 0),
      images_per_row(o.integer("images_per_row")),
      margin(o.integer("margin")),
      min_cell_size(o.integer("min_cell_size")),
      batch_size(o.integer("batch_size")),
      colormap(o.string("colormap")),
      resize(o.string("resize")),
      scale(o.number("scale")),
      offset(o.number("offset")),
      titles(o.boolean("titles")),
      channel_images(o.boolean("channel_images")),
      save_arrays(o.boolean("save_arrays")) {}

ActivationGrids::ActivationGrids(const CreateArgs& args) : TechniqueBase(args), m_options(options()) {}

void ActivationGrids::check_model(const ModelBackend& model) const {
  kit::check_option("/images", [&] { input_paths(); });
  std::pair<std::int64_t, std::int64_t> size;
  kit::check_option("/size", [&] {
    size = kit::input_size(model, m_options.size);
    model.layers_for(size.first, size.second);
  });
  kit::check_option("/layers", [&] {
    const auto layers = kit::select_layers_at(model, size.first, size.second, m_options.layers);
    for (const auto& l : layers)
      if (l.shape.size() == 3) return;
    throw Error("activations: none of the selected layers has a spatial {C, H, W} output");
  });
}

void ActivationGrids::run(ModelBackend& model, Output& out) {
  check_model(model);
  const ActivationsOptions& o = m_options;
  const auto paths = input_paths();
  const auto [height, width] = kit::input_size(model, o.size);
  const auto layers = kit::select_layers_at(model, height, width, o.layers);
  const std::int64_t margin = o.margin;
  const std::int64_t batch = o.batch_size;
  // The pixel repetition of a map: the option's factor, or enough for min_cell_size.
  auto factor_for = [&](std::int64_t h, std::int64_t w) {
    return o.upscale > 0 ? o.upscale : auto_upscale(h, w, o.min_cell_size);
  };

  std::vector<std::string> taps;
  for (const auto& l : layers) {
    if (l.shape.size() != 3) {
      host().log(LogLevel::warning, "activations: skipping " + l.name + " (" + l.type + "): no spatial output");
      continue;
    }
    taps.push_back(l.name);
  }
  if (taps.empty()) throw Error("activations: none of the selected layers has a spatial {C, H, W} output");
  if (paths.size() > 1 && !o.channel_images)
    host().log(LogLevel::info, "activations: " + std::to_string(paths.size()) + " images x " +
                                    std::to_string(taps.size()) + " layers");

  // Refuse what cannot fit before allocating: one batch through the network, and
  // the largest grid (every channel of a layer, enlarged).
  if (device().is_cpu()) {
    vizrun::require_memory("activations: a batch of " + std::to_string(std::min<std::int64_t>(batch, paths.size())) +
                               " images of " + std::to_string(height) + "x" + std::to_string(width) + " through " +
                               taps.back(),
                           kit::activation_bytes(model, height, width, std::min<std::int64_t>(batch, paths.size()),
                                                 taps.back(), 1.0));
  }
  for (const auto& l : layers) {
    if (l.shape.size() != 3) continue;
    const std::int64_t factor = factor_for(l.shape[1], l.shape[2]);
    const double cell_h = static_cast<double>(l.shape[1] * factor + margin);
    const double cell_w = static_cast<double>(l.shape[2] * factor + margin);
    const double cells = static_cast<double>(l.shape[0]);
    vizrun::require_memory("activations: the grid of " + l.name + " (" + std::to_string(l.shape[0]) + " channels of " +
                               std::to_string(l.shape[1] * factor) + "x" + std::to_string(l.shape[2] * factor) +
                               " pixels, upscale " + std::to_string(factor) + ")",
                           cells * cell_h * cell_w * 3 * 2 + cells * static_cast<double>(l.shape[1] * l.shape[2]) * 12);
  }

  torch::autograd::AutoGradMode grad_off(false);
  const bool many = paths.size() > 1;
  const kit::BatchPlan plan{height, width, batch, o.resize, "activations"};
  for_each_batch(paths, plan, [&](const kit::PhotoBatch& photos) {
    const std::vector<std::string>& chunk = photos.paths;
    const at::Tensor& pixels = photos.pixels;
    const Activations acts = model.forward(model.preprocess(pixels), taps);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const std::string prefix = many ? kit::stem(chunk[i]) + "/" : std::string();
      for (const auto& name : taps) {
        const at::Tensor a = acts.at(name)[static_cast<std::int64_t>(i)].to(at::kFloat).to(at::kCPU).contiguous();
        const std::int64_t factor = factor_for(a.size(1), a.size(2));
        char shape[64];
        std::snprintf(shape, sizeof shape, "  %lldx%lldx%lld", static_cast<long long>(a.size(0)),
                      static_cast<long long>(a.size(1)), static_cast<long long>(a.size(2)));
        const std::string title = o.titles ? name + shape + (many ? "  " + kit::stem(chunk[i]) : std::string()) : "";
        const Dict meta{{"image", chunk[i]}, {"layer", name}, {"channels", a.size(0)}, {"upscale", factor}};
        out.image(prefix + name, activation_grid(a, o.images_per_row, o.colormap, o.scale, o.offset, factor, margin, title), meta);
        if (o.save_arrays) out.array(prefix + name, a, meta);
        if (o.channel_images) {
          const at::Tensor maps = image::standardize(a, o.scale, o.offset).floor() / 255.0;
          for (std::int64_t c = 0; c < a.size(0); ++c) {
            char cname[32];
            std::snprintf(cname, sizeof cname, "/channel_%04lld", static_cast<long long>(c));
            Dict cmeta = meta;
            cmeta["channel"] = c;
            at::Tensor cell = image::upscale(image::colormap(maps[c], o.colormap), factor);
            if (o.titles) cell = image::add_title(cell, name + " channel " + std::to_string(c), 1, 32);
            out.image(prefix + name + cname, cell, cmeta);
          }
        }
      }
    }
  });
}

}  // namespace vizrun::techniques
