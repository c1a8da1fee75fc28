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

#include <optional>

#include "vizrun/kit.h"

namespace vizrun::techniques {

/// The mathematical recipe of one ascent (everything that changes the numbers).
struct AscentRecipe {
  std::int64_t steps = 40;
  double step_size = 1.0;
  /// rms: g / (sqrt(mean(g^2)) + 1e-5) (the book); l2: g / max(||g||, 1e-6) (keras.io); none: g.
  enum class Normalization { rms, l2, none } normalization = Normalization::rms;
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

/// The recipe's name of a normalization ("rms", "l2", "none"), as the schema spells it.
AscentRecipe::Normalization normalization_named(const std::string& name);

/// The options, read once. The schema holds every default and checks every enum.
struct FilterAscentOptions {
  explicit FilterAscentOptions(const Options& options);

  Value layers, filters, size, init;
  std::string init_space, resize;
  std::optional<double> init_scale, init_offset;  ///< null in the schema: the init's own
  double deprocess_std, memory_budget_mb;
  std::int64_t crop, grid_columns, grid_margin, grid_background;
  std::int64_t batch_size;  ///< 0: chosen from memory_budget_mb and max_batch
  std::int64_t max_batch;
  bool display_pixel, filter_images, save_arrays, loss_curves, titles, reuse_memory;
  AscentRecipe recipe;
};

class FilterAscent : public TechniqueBase, public ModelCheck {
 public:
  explicit FilterAscent(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;
  /// Size, layers, filters, crop and the init photo against the model (run does the
  /// same checks first).
  void check_model(const ModelBackend& model) const override;

  /// Start images in model space for `filters` of `layer` (deterministic per
  /// seed, layer and filter, whatever the batching).
  at::Tensor start_images(ModelBackend& model, const std::string& layer, const std::vector<std::int64_t>& filters,
                          std::int64_t height, std::int64_t width) const;
  /// Images per batch for a layer, from the option or the memory budget.
  std::int64_t batch_size(const ModelBackend& model, const std::string& layer, std::int64_t height,
                          std::int64_t width, std::size_t filters) const;

 private:
  FilterAscentOptions m_options;
};

extern const char* const kFilterAscentSchema;

}  // namespace vizrun::techniques
