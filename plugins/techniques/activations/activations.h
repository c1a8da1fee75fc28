#pragma once
/// \file activations.h
/// Intermediate activations: every channel of chosen layers for one or many
/// images, standardised as the book does and tiled into one grid per layer.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "vizrun/kit.h"

namespace vizrun::techniques {

/// Renders one activation {C, H, W} as a titled grid: each channel standardised
/// (scale, offset, clip), coloured, upscaled `factor` times, `per_row` per row.
at::Tensor activation_grid(const at::Tensor& chw, std::int64_t per_row, const std::string& colormap, double scale,
                           double offset, std::int64_t factor, std::int64_t margin, const std::string& title);

/// Upscale factor that makes an h x w map at least `min_side` pixels on its short side.
std::int64_t auto_upscale(std::int64_t h, std::int64_t w, std::int64_t min_side);

/// The options, read once. The schema holds every default and checks every enum.
struct ActivationsOptions {
  explicit ActivationsOptions(const Options& options);

  Value layers, size;
  std::int64_t upscale;  ///< 0: auto (small maps enlarged to min_cell_size)
  std::int64_t images_per_row, margin, min_cell_size, batch_size;
  std::string colormap, resize;
  double scale, offset;
  bool titles, channel_images, save_arrays;
};

class ActivationGrids : public TechniqueBase, public ModelCheck {
 public:
  explicit ActivationGrids(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;
  /// Images, size and layers against the model (run does the same checks first).
  void check_model(const ModelBackend& model) const override;

 private:
  ActivationsOptions m_options;
};

extern const char* const kActivationsSchema;

}  // namespace vizrun::techniques
