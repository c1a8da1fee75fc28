#pragma once
/// \file faithfulness.h
/// Faithfulness metrics for saliency maps, for every technique that explains a class:
/// does the map point at what the model uses? (SDK 1.4)
///
/// - pytorch-grad-cam 1.5.7's `metrics` module, with its definitions:
///   CamMultImageConfidenceChange (score(x * map) - score(x)), DropInConfidence
///   (max(0, -change)), IncreaseInConfidence (change > 0 as 0/1), and ROAD
///   (Rong et al. 2022): pixels at or above the p-th percentile of the map (most relevant
///   first, MoRF) or of 1 - map (least relevant first, LeRF) are replaced by the
///   NoisyLinearImputer's infill, score(imputed) - score(x), averaged over percentiles;
///   ROADCombined = (LeRF average - MoRF average) / 2.
/// - Deletion and insertion (Petsiuk et al. 2018, RISE): pixels ranked by the map (most
///   relevant first, ties by raster index), moved in `steps` equal parts from the image
///   to a substrate (deletion) or from a blurred image to the image (insertion); the
///   curve is the class score after each step, k / steps of the pixels moved after step
///   k, and its area by the trapezoid rule on [0, 1].
///
/// Everything happens in the model's input space (after `preprocess`), as both references
/// perturb the normalised tensor. The score is the class probability (the model's
/// softmax / sigmoid, pytorch-grad-cam's ClassifierOutputSoftmaxTarget) or the logit.
/// Maps are {N, h, w}; a map whose size differs from the input's is resized bilinearly
/// (OpenCV INTER_LINEAR, half-pixel centres, as pytorch-grad-cam's scale_cam_image). The
/// confidence metrics multiply the input by the map as given: pass maps in [0, 1].
///
/// Perturbed inputs go through the model in batches sized from `memory_mb` (and what the
/// machine has), so a curve of many steps never sits in memory as inputs at once.
///
/// A technique wires it in with its schema and two calls:
///
///     "metrics": VIZRUN_FAITHFULNESS_SCHEMA,                          // in the schema
///     vizrun::faithfulness::MetricsLog metrics(options().value("metrics"), "mytech");
///     metrics.evaluate(model, out, input, maps, classes, {{path, "gradcam", layer}, ...});

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vizrun/export.h"
#include "vizrun/host.h"
#include "vizrun/model.h"
#include "vizrun/value.h"

/// The JSON Schema (draft-07) of the `metrics` option, a string literal to embed in a
/// technique's schema literal. Its default `{}` computes nothing: `which` lists the metrics.
#define VIZRUN_FAITHFULNESS_SCHEMA \
  R"json({ )json" \
  R"json("type": "object", "additionalProperties": false, "default": {}, )json" \
  R"json("description": "Faithfulness metrics of every map, recorded in the manifest (key metrics) and the report. Off until which names some.", )json" \
  R"json("properties": { )json" \
  R"json("which": {"type": "array", "uniqueItems": true, "default": [], )json" \
  R"json("items": {"type": "string", "enum": ["deletion", "insertion", "cam_mult_confidence_change", "drop_in_confidence", )json" \
  R"json("increase_in_confidence", "road_morf", "road_lerf", "road_combined"]}, )json" \
  R"json("description": "Metrics to compute (none by default; e.g. [deletion, insertion, drop_in_confidence, increase_in_confidence, road_combined]): deletion/insertion (RISE curves and AUC), pytorch-grad-cam's confidence change of input x map, drop / increase in confidence, ROAD most / least relevant first and combined."}, )json" \
  R"json("percentiles": {"type": "array", "minItems": 1, "items": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100}, )json" \
  R"json("default": [10, 20, 30, 40, 50, 60, 70, 80, 90], "description": "ROAD's percentiles of the map, averaged (pytorch-grad-cam's defaults)."}, )json" \
  R"json("road_noise": {"type": "number", "minimum": 0, "maximum": 10, "default": 0.01, )json" \
  R"json("description": "Standard deviation of the Gaussian noise the NoisyLinearImputer adds to its infill (0.01 as pytorch-grad-cam)."}, )json" \
  R"json("steps": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 100, )json" \
  R"json("description": "Deletion/insertion steps: after step k, k/steps of the pixels have been moved."}, )json" \
  R"json("deletion_substrate": {"type": "string", "enum": ["zero", "blur"], "default": "zero", )json" \
  R"json("description": "What deleted pixels become: zero (in the model's input space, as RISE) or the blurred image."}, )json" \
  R"json("insertion_substrate": {"type": "string", "enum": ["blur", "zero"], "default": "blur", )json" \
  R"json("description": "What insertion starts from: the blurred image (as RISE) or zero."}, )json" \
  R"json("blur_sigma": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "default": 5, )json" \
  R"json("description": "Standard deviation of the substrate's Gaussian blur, in pixels (RISE: 5)."}, )json" \
  R"json("blur_kernel": {"type": "integer", "minimum": 1, "maximum": 255, "default": 11, )json" \
  R"json("description": "Side of the blur kernel (odd; RISE: 11); the image is zero-padded as RISE's convolution."}, )json" \
  R"json("score": {"type": "string", "enum": ["probability", "logit"], "default": "probability", )json" \
  R"json("description": "The class score the metrics watch: probability (the model's softmax/sigmoid) or logit."}, )json" \
  R"json("memory_mb": {"type": "integer", "minimum": 1, "maximum": 1048576, "default": 512, )json" \
  R"json("description": "Memory budget of one batch of perturbed inputs through the model, in MiB."} )json" \
  R"json(} )json" \
  R"json(} )json"

namespace vizrun::faithfulness {

/// The `metrics` option, read.
struct VIZRUN_SDK_API MetricsOptions {
  std::vector<std::string> which;
  std::vector<double> percentiles{10, 20, 30, 40, 50, 60, 70, 80, 90};
  double road_noise = 0.01;
  std::int64_t steps = 100;
  std::string deletion_substrate = "zero", insertion_substrate = "blur";
  double blur_sigma = 5.0;
  std::int64_t blur_kernel = 11;
  std::string score = "probability";
  std::int64_t memory_mb = 512;
  std::uint64_t seed = 0;  ///< of ROAD's noise

  /// From the option as the schema completed it (`where` names it in messages).
  static MetricsOptions from_value(const Value& option, const std::string& where = "metrics");
  bool wants(const std::string& metric) const;
};

/// The metrics of one map.
struct MapMetrics {
  double score = 0;                          ///< the class score of the unperturbed input
  std::map<std::string, double> values;      ///< metric -> value (NaN where undefined)
  std::vector<double> deletion, insertion;   ///< steps + 1 scores each, when chosen
  std::vector<double> road_morf, road_lerf;  ///< per percentile, when chosen
};

/// The metrics of each map: `input` {N, C, H, W} in the model's input space, `maps`
/// {N, h, w}, `classes` N class ids. Runs the model without gradients.
VIZRUN_SDK_API std::vector<MapMetrics> evaluate(ModelBackend& model, const at::Tensor& input, const at::Tensor& maps,
                                                const std::vector<std::int64_t>& classes, const MetricsOptions& options);

// --- The pieces, public for tests and for techniques with their own loops. ----------

/// np.percentile(values, p) with its default linear interpolation, p in [0, 100], in
/// float32 arithmetic as numpy computes it for a float32 map.
VIZRUN_SDK_API double percentile(const at::Tensor& values, double p);

/// ROAD's mask of the pixels kept (1) and imputed (0) for map {H, W}: most relevant
/// first keeps map < percentile(map, p); least relevant first keeps 1 - map < percentile(1 - map, p).
VIZRUN_SDK_API at::Tensor road_keep_mask(const at::Tensor& map, double p, bool most_relevant_first);

/// The NoisyLinearImputer: each imputed pixel (keep == 0) of `image` {C, H, W} becomes
/// the weighted mean of its 8 neighbours (1/6 for edges, 1/12 for corners, over those
/// inside the image), solved as one sparse linear system per image, plus Gaussian noise
/// of `noise` standard deviation drawn from `seed`. Pixels kept stay. When no pixel is
/// kept the system is singular and the infill is NaN, as scipy's spsolve gives it.
VIZRUN_SDK_API at::Tensor noisy_linear_impute(const at::Tensor& image, const at::Tensor& keep, double noise,
                                              std::uint64_t seed);

/// The substrate's Gaussian blur of {N, C, H, W}: a normalised `kernel` x `kernel` kernel
/// of `sigma`, per channel, zero padding.
VIZRUN_SDK_API at::Tensor gaussian_blur(const at::Tensor& images, std::int64_t kernel, double sigma);

/// Area under a curve of equally spaced points on [0, 1], trapezoid rule.
VIZRUN_SDK_API double auc(const std::vector<double>& curve);

/// Inputs per batch through the model for a budget of `memory_mb`, at least 1.
VIZRUN_SDK_API std::int64_t perturbation_batch(const ModelBackend& model, std::int64_t height, std::int64_t width,
                                               std::int64_t memory_mb);

/// Which map a result belongs to, for the manifest and the report.
struct MapLabel {
  std::string image;   ///< the photo's path
  std::string method;  ///< "gradcam", "gradcam++", "integrated_gradients", ...
  std::string layer;   ///< the target layer, "" for input attributions
};

/// Computes the chosen metrics and records them in the manifest under the key
/// `metrics`: a list of {image, method, layer, class, score, values, curves, road}
/// entries, one per map, kept for the run (re-recorded whole after each call, as
/// Output::record replaces a key). Disabled (evaluate does nothing) when the option is
/// null or its `which` is empty.
class VIZRUN_SDK_API MetricsLog {
 public:
  /// `option`: the technique's `metrics` option (null: disabled); `where` names it in messages.
  explicit MetricsLog(const Value& option, const std::string& where = "metrics", std::uint64_t seed = 0);
  bool enabled() const { return m_enabled; }
  const MetricsOptions& options() const { return m_options; }

  /// Metrics of `maps` {N, h, w} for `classes` (N ids) of `input` {N, C, H, W}, recorded
  /// with `labels` (N). Returns them too.
  std::vector<MapMetrics> evaluate(ModelBackend& model, Output& out, const at::Tensor& input, const at::Tensor& maps,
                                   const std::vector<std::int64_t>& classes, const std::vector<MapLabel>& labels);

 private:
  bool m_enabled = false;
  MetricsOptions m_options;
  List m_entries;
};

}  // namespace vizrun::faithfulness
