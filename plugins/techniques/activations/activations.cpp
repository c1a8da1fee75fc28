#include "activations.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cstdio>

#include "technique_kit.h"
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

ActivationGrids::ActivationGrids(const CreateArgs& args)
    : m_options(args.options), m_host(args.host), m_device(args.device), m_precision(args.precision) {
  if (!m_options.is_dict()) m_options = Dict{};
  if (!m_options.contains("images")) throw Error("activations: option 'images' is required (paths or globs)");
  const std::string cmap = kit::opt_string(m_options, "colormap", "viridis");
  image::colormap(at::zeros({1}), cmap);  // validates the name early
}

void ActivationGrids::run(ModelBackend& model, Output& out) {
  if (!m_host) throw Error("activations: needs a host to load images");
  const auto paths = m_host->expand_inputs(kit::opt_strings(m_options, "images"));
  const auto [height, width] = kit::input_size(model, m_options.get("size", Value("model")));
  const auto layers = kit::select_layers_at(model, height, width, m_options.get("layers", Value(8)));
  const std::int64_t per_row = kit::opt_int(m_options, "images_per_row", 16);
  const std::string cmap = kit::opt_string(m_options, "colormap", "viridis");
  const double scale = kit::opt_double(m_options, "scale", 64.0);
  const double offset = kit::opt_double(m_options, "offset", 128.0);
  const std::int64_t margin = kit::opt_int(m_options, "margin", 2);
  const Value up = m_options.get("upscale", Value("auto"));
  const std::int64_t min_cell = kit::opt_int(m_options, "min_cell_size", 48);
  const bool titles = kit::opt_bool(m_options, "titles", true);
  const bool channels = kit::opt_bool(m_options, "channel_images", false);
  const bool arrays = kit::opt_bool(m_options, "save_arrays", false);
  const std::string resize_mode = kit::opt_string(m_options, "resize", "nearest");
  const std::int64_t batch = std::max<std::int64_t>(1, kit::opt_int(m_options, "batch_size", 8));

  std::vector<std::string> taps;
  for (const auto& l : layers) {
    if (l.shape.size() != 3) {
      m_host->log(LogLevel::warning, "activations: skipping " + l.name + " (" + l.type + "): no spatial output");
      continue;
    }
    taps.push_back(l.name);
  }
  if (taps.empty()) throw Error("activations: none of the selected layers has a spatial {C, H, W} output");
  if (paths.size() > 1 && !channels)
    m_host->log(LogLevel::info, "activations: " + std::to_string(paths.size()) + " images x " +
                                    std::to_string(taps.size()) + " layers");

  // Refuse what cannot fit before allocating: one batch through the network, and
  // the largest grid (every channel of a layer, enlarged).
  if (m_device.is_cpu()) {
    vizrun::require_memory("activations: a batch of " + std::to_string(std::min<std::int64_t>(batch, paths.size())) +
                               " images of " + std::to_string(height) + "x" + std::to_string(width) + " through " +
                               taps.back(),
                           kit::activation_bytes(model, height, width, std::min<std::int64_t>(batch, paths.size()),
                                                 taps.back(), 1.0));
  }
  for (const auto& l : layers) {
    if (l.shape.size() != 3) continue;
    const std::int64_t factor = up.is_int() ? std::max<std::int64_t>(1, up.as_int())
                                            : auto_upscale(l.shape[1], l.shape[2], min_cell);
    const double cell_h = static_cast<double>(l.shape[1] * factor + margin);
    const double cell_w = static_cast<double>(l.shape[2] * factor + margin);
    const double cells = static_cast<double>(l.shape[0]);
    vizrun::require_memory("activations: the grid of " + l.name + " (" + std::to_string(l.shape[0]) + " channels of " +
                               std::to_string(l.shape[1] * factor) + "x" + std::to_string(l.shape[2] * factor) +
                               " pixels, upscale " + std::to_string(factor) + ")",
                           cells * cell_h * cell_w * 3 * 2 + cells * static_cast<double>(l.shape[1] * l.shape[2]) * 12);
  }

  kit::PrecisionScope precision(m_precision, m_device, m_host);
  torch::autograd::AutoGradMode grad_off(false);
  const std::int64_t n = static_cast<std::int64_t>(paths.size());
  const bool many = n > 1;
  for (std::int64_t start = 0; start < n; start += batch) {
    m_host->check_stop();
    const std::vector<std::string> chunk(paths.begin() + start, paths.begin() + std::min(n, start + batch));
    const at::Tensor pixels = kit::load_batch(*m_host, chunk, height, width, resize_mode, m_device);
    const Activations acts = model.forward(model.preprocess(pixels), taps);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const std::string prefix = many ? kit::stem(chunk[i]) + "/" : std::string();
      for (const auto& name : taps) {
        const at::Tensor a = acts.at(name)[static_cast<std::int64_t>(i)].to(at::kFloat).to(at::kCPU).contiguous();
        const std::int64_t factor = up.is_int() ? std::max<std::int64_t>(1, up.as_int())
                                                : auto_upscale(a.size(1), a.size(2), min_cell);
        char shape[64];
        std::snprintf(shape, sizeof shape, "  %lldx%lldx%lld", static_cast<long long>(a.size(0)),
                      static_cast<long long>(a.size(1)), static_cast<long long>(a.size(2)));
        const std::string title = titles ? name + shape + (many ? "  " + kit::stem(chunk[i]) : std::string()) : "";
        const Dict meta{{"image", chunk[i]}, {"layer", name}, {"channels", a.size(0)}, {"upscale", factor}};
        out.image(prefix + name, activation_grid(a, per_row, cmap, scale, offset, factor, margin, title), meta);
        if (arrays) out.array(prefix + name, a, meta);
        if (channels) {
          const at::Tensor maps = image::standardize(a, scale, offset).floor() / 255.0;
          for (std::int64_t c = 0; c < a.size(0); ++c) {
            char cname[32];
            std::snprintf(cname, sizeof cname, "/channel_%04lld", static_cast<long long>(c));
            Dict cmeta = meta;
            cmeta["channel"] = c;
            at::Tensor cell = image::upscale(image::colormap(maps[c], cmap), factor);
            if (titles) cell = image::add_title(cell, name + " channel " + std::to_string(c), 1, 32);
            out.image(prefix + name + cname, cell, cmeta);
          }
        }
      }
    }
    m_host->progress("activations", static_cast<std::size_t>(std::min(n, start + batch)), static_cast<std::size_t>(n));
  }
}

}  // namespace vizrun::techniques
