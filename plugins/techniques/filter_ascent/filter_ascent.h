#pragma once
/// \file filter_ascent.h
/// Filter visualisation by gradient ascent in input space: for each selected
/// filter of a layer, find an input that maximises the filter's mean activation.
/// Many filters are optimised at once as one batch (one image per filter), and
/// since each image's loss depends only on that image, one backward pass gives
/// every image its own gradient.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vizrun/plugin.h"

namespace vizrun::techniques {

/// The mathematical recipe of one ascent (everything that changes the numbers).
struct AscentRecipe {
  std::int64_t steps = 40;
  double step_size = 1.0;
  std::string normalization = "rms";  ///< "rms" (x / (sqrt(mean(g^2)) + 1e-5)), "l2" (x / max(||g||, 1e-6)), "none"
  std::int64_t loss_border = 0;       ///< activation pixels excluded at every border of the map
  bool channels_last = true;
  bool target_filters_only = true;    ///< vizrun::forward_channels (ChannelForward) instead of forward + gather
};

struct AscentResult {
  at::Tensor input;       ///< optimised inputs in model space {B, C, H, W}, float32
  at::Tensor losses;      ///< {steps, B}: loss of each image at each step, before that step's update
  at::Tensor first_grad;  ///< raw gradient of the first step {B, C, H, W} (when requested)
};

/// Runs gradient ascent on `start` (model space, {B, C, H, W}, image b for filter
/// filters[b]) for filters of `layer`. `on_step(step)` is called after every step
/// (progress, interruption). Gradients of each image depend only on its own loss.
AscentResult gradient_ascent(ModelBackend& model, const std::string& layer, const std::vector<std::int64_t>& filters,
                             const at::Tensor& start, const AscentRecipe& recipe, bool keep_first_grad,
                             const std::function<void(std::int64_t)>& on_step = {});

class FilterAscent : public Technique {
 public:
  explicit FilterAscent(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;

  /// Start images in model space for `filters` of `layer` (deterministic per
  /// seed, layer and filter, whatever the batching).
  at::Tensor start_images(ModelBackend& model, const std::string& layer, const std::vector<std::int64_t>& filters,
                          std::int64_t height, std::int64_t width) const;
  /// Images per batch for a layer, from the option or the memory budget.
  std::int64_t batch_size(const ModelBackend& model, const std::string& layer, std::int64_t height,
                          std::int64_t width, std::size_t filters) const;

 private:
  Value m_options;
  const Host* m_host;
  c10::Device m_device;
  std::string m_precision;
  std::uint64_t m_seed;
  AscentRecipe m_recipe;
};

extern const char* const kFilterAscentSchema;

}  // namespace vizrun::techniques
