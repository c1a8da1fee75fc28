#pragma once
/// \file attribution.h
/// Gradient attribution as captum 0.9.0 computes it: Saliency, InputXGradient,
/// IntegratedGradients (Riemann and Gauss-Legendre), NoiseTunnel (smoothgrad,
/// smoothgrad_sq, vargrad), GuidedBackprop, GuidedGradCam and Occlusion. Every map is
/// {N, C, H, W} in the model's input space. Expanded inputs (IG's steps, SmoothGrad's
/// samples, occluded copies) go through the model `rows` at a time, so peak memory
/// depends on `rows`, never on the number of steps or samples.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vizrun/kit.h"

namespace vizrun::techniques::attribution {

/// The class score each input row is explained for: logits, or probabilities after the
/// model's output activation, at `classes` ({N} int64). Differentiable.
at::Tensor target_scores(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes, const std::string& score);

/// d score / d input of each row ({N, C, H, W}), in passes of at most `rows` inputs.
at::Tensor input_gradients(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes, const std::string& score,
                           std::int64_t rows);

/// captum's step sizes and alphas for `method` (riemann_left, riemann_right,
/// riemann_middle, riemann_trapezoid, gausslegendre) and `steps` (>= 2).
struct Quadrature {
  std::vector<double> step_sizes, alphas;
};
Quadrature quadrature(const std::string& method, std::int64_t steps);

/// Integrated gradients from `baseline` (same shape as x) to x.
at::Tensor integrated_gradients(ModelBackend& model, const at::Tensor& x, const at::Tensor& baseline,
                                const at::Tensor& classes, const std::string& score, std::int64_t steps,
                                const std::string& method, std::int64_t rows);

/// An attribution of input rows: (x {M, ...}, source {M} int64: the original image of
/// each row) -> {M, ...}. The noise tunnel calls it on noisy copies.
using Inner = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& source)>;
/// Noise for samples [first, first + count) of every image: {B, count, C, H, W}.
using NoiseSource = std::function<at::Tensor(std::int64_t first, std::int64_t count)>;

/// captum's NoiseTunnel: `kind` smoothgrad (mean), smoothgrad_sq (mean of squares) or
/// vargrad (variance) of `inner` over x + noise, `samples` per image, about `rows`
/// noisy rows per call of `inner`.
at::Tensor noise_tunnel(const Inner& inner, const at::Tensor& x, const std::string& kind, std::int64_t samples,
                        const NoiseSource& noise, std::int64_t rows);
/// Gaussian noise of standard deviation `stdev` from a generator seeded once: sample s of
/// an image is the same whatever `rows` is.
NoiseSource gaussian_noise(const at::Tensor& x, double stdev, std::uint64_t seed);

/// Input gradients with every ReLU guided (vizrun::GuidedRelu); an Error naming the
/// interface when the backend lacks it.
at::Tensor guided_backprop(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes,
                           const std::string& score, std::int64_t rows);

/// Grad-CAM of `layer` ({N, 1, h, w}, ReLU'd, as captum's LayerGradCam with
/// relu_attributions), computed without guided ReLUs.
at::Tensor layer_grad_cam(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes,
                          const std::string& score, const std::string& layer);
/// captum's GuidedGradCam: guided backprop times the Grad-CAM map upsampled (nearest,
/// as F.interpolate) to the input.
at::Tensor guided_grad_cam(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes,
                           const std::string& score, const std::string& layer, std::int64_t rows);

/// captum's Occlusion with windows covering all channels: window x window patches at
/// offsets 0, stride, ... (the last may be cut at the border) set to `baseline`; each
/// pixel's attribution is the mean score drop of the patches covering it.
at::Tensor occlusion(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes, const std::string& score,
                     std::int64_t window, std::int64_t stride, double baseline, std::int64_t rows);

/// captum visualization's scale: the value of |v| where the cumulative sum of the sorted
/// |v| reaches `percentile` % of their total.
double cumulative_threshold(const at::Tensor& values, double percentile);

/// A map in [-1, 1] ({H, W}) as blue (-1), white (0), red (+1): uint8 {H, W, 3}.
at::Tensor diverging_colormap(const at::Tensor& signed_unit);

/// The options, read once (the schema holds the defaults).
struct AttributionOptions {
  explicit AttributionOptions(const Options& o);
  std::vector<std::string> methods;
  Value classes, size;
  Value metrics;  ///< the faithfulness metrics option (faithfulness.h)
  std::string score, resize, ig_method, ig_baseline, gc_layer, heatmap_colormap, overlay_colormap;
  bool saliency_abs, save_arrays, titles;
  std::int64_t ig_steps, sg_samples, occ_window, occ_stride, batch_size, max_rows, min_image_size;
  double sg_noise, ig_blur_sigma, occ_baseline, memory_mb, outlier_percent, intensity;
};

class Attribution : public TechniqueBase, public ModelCheck {
 public:
  explicit Attribution(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;
  void check_model(const ModelBackend& model) const override;

 private:
  /// Explicit class ids, or empty with `top` set for the top-K of each image.
  std::vector<std::int64_t> class_ids(const ModelBackend& model) const;
  std::string cam_layer(const ModelBackend& model) const;
  /// One method's maps {B, C, H, W} for classes {B}.
  at::Tensor compute(const std::string& method, ModelBackend& model, const at::Tensor& x, const at::Tensor& pixels,
                     const at::Tensor& classes, std::int64_t rows, std::uint64_t seed);
  at::Tensor baseline_for(ModelBackend& model, const at::Tensor& x, const at::Tensor& pixels);

  AttributionOptions m_options;
};

extern const char* const kAttributionSchema;

}  // namespace vizrun::techniques::attribution
