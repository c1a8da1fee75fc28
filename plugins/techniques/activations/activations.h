#pragma once
/// \file activations.h
/// Intermediate activations: every channel of chosen layers for one or many
/// images, standardised as the book does and tiled into one grid per layer.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "vizrun/plugin.h"

namespace vizrun::techniques {

/// Renders one activation {C, H, W} as a titled grid: each channel standardised
/// (scale, offset, clip), coloured, upscaled `factor` times, `per_row` per row.
at::Tensor activation_grid(const at::Tensor& chw, std::int64_t per_row, const std::string& colormap, double scale,
                           double offset, std::int64_t factor, std::int64_t margin, const std::string& title);

/// Upscale factor that makes an h x w map at least `min_side` pixels on its short side.
std::int64_t auto_upscale(std::int64_t h, std::int64_t w, std::int64_t min_side);

class ActivationGrids : public Technique {
 public:
  explicit ActivationGrids(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;

 private:
  Value m_options;
  const Host* m_host;
  c10::Device m_device;
  std::string m_precision;
};

extern const char* const kActivationsSchema;

}  // namespace vizrun::techniques
