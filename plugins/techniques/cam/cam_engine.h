#pragma once
/// \file cam_engine.h
/// The CAM family's shared mechanism. One forward pass taps the target layers and
/// the logits; one backward pass per target class gives the gradients every
/// gradient method of the batch needs; each method is then only how it turns a
/// layer's activations A {B, C, h, w} (and gradients G) into a map. Definitions
/// follow pytorch-grad-cam 1.5.7:
///   gradcam       w_c = mean_ij G                          map = sum_c w_c A_c
///   gradcam++     w_c = sum_ij relu(G) a_ij, a = G^2 / (2 G^2 + sum_ij(A) G^3 + 1e-6) (0 where G = 0)
///   xgradcam      w_c = sum_ij G A / (sum_ij A + 1e-7)
///   hirescam      map = sum_c G A                          (element-wise)
///   layercam      map = sum_c relu(G) A
///   eigencam      map = first principal component of A     (no gradients)
///   eigengradcam  map = first principal component of G A
///   scorecam      w_c = softmax_c(score(input * norm(upsample(A_c))))   (no gradients)
///   ablationcam   w_c = (score - score with A_c ablated) / score         (no gradients)
/// then ReLU. With eigen_smooth the weighted activations (w_c A_c, or the element-wise
/// products) are projected on their first principal component instead of summed.
/// The gradcam and cam plugins both compute through it.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vizrun/kit.h"

namespace vizrun::techniques::cam {

enum class Method { gradcam, gradcam_pp, xgradcam, hirescam, layercam, eigencam, eigengradcam, scorecam, ablationcam };

/// The names configs use: gradcam, gradcam++, xgradcam, hirescam, layercam, eigencam,
/// eigengradcam, scorecam, ablationcam.
const std::vector<std::string>& method_names();
/// Throws vizrun::Error naming the method and the known ones (with a close match).
Method parse_method(const std::string& name);
std::string method_name(Method method);
/// The name in output paths ("gradcam++" -> "gradcam_pp").
std::string method_slug(Method method);
bool uses_gradients(Method method);

/// How target classes are chosen: the top-K predictions, or explicit ids.
struct ClassChoice {
  std::int64_t top = 1;           ///< used when `ids` is empty
  std::vector<std::int64_t> ids;  ///< explicit class ids (same for every image)
};

/// The classes an option names: {top: K}, or a list of ids and class names. Throws one
/// line (prefixed with `who`) for an unknown name or an id past the model's outputs.
ClassChoice resolve_classes(const ModelBackend& model, const Value& spec, const std::string& who);

/// What to compute for a batch.
struct Request {
  std::vector<Method> methods;
  std::vector<std::string> layers;
  std::string score = "logit";  ///< "logit" or "probability" (after the model's output activation)
  bool eigen_smooth = false;
  /// Score-CAM's masked inputs and Ablation-CAM's ablated activations run in batches
  /// that fit this many bytes; `masked_batch_size` > 0 sets the batch instead.
  double masked_memory_bytes = 2.0 * 1024 * 1024 * 1024;
  std::int64_t masked_batch_size = 0;
  std::string who = "cam";  ///< the technique's name, for messages
};

/// One batch's maps.
struct Result {
  at::Tensor logits;   ///< {B, classes}
  at::Tensor classes;  ///< {B, K} int64: the class of every map
  /// maps[m][l]: request.methods[m] on request.layers[l], {B, K, h, w}, after the ReLU and
  /// before any scaling, at the layer's resolution.
  std::vector<std::vector<at::Tensor>> maps;
};

/// Computes every requested method on every requested layer for a batch of model-space
/// inputs {B, C, H, W}. `fixed_classes` ({B, K} int64), when defined, replaces `choice`.
Result compute(ModelBackend& model, const at::Tensor& input, const Request& request, const ClassChoice& choice,
               const at::Tensor& fixed_classes = at::Tensor());

/// pytorch-grad-cam's scale_cam_image over the last two dimensions: x - min, then
/// divided by 1e-7 + its max.
at::Tensor scale(const at::Tensor& maps);

/// Bilinear resize of {..., h, w} maps with half-pixel centres (cv2.resize's INTER_LINEAR,
/// which pytorch-grad-cam uses), no antialiasing.
at::Tensor resize_maps(const at::Tensor& maps, std::int64_t height, std::int64_t width);

/// One map per image and class from a method's per-layer maps, as pytorch-grad-cam
/// aggregates layers: a single layer is only scaled (at its own resolution, unless
/// `at_input`); several are each scaled, resized to height x width, averaged and scaled.
at::Tensor combine_layers(const std::vector<at::Tensor>& per_layer, std::int64_t height, std::int64_t width,
                          bool at_input);

/// pytorch-grad-cam's aug_smooth: the combined maps (at height x width) of the input
/// flipped or not and multiplied by 0.9, 1 and 1.1, flipped back and averaged; the
/// targets are `classes` for every augmentation. One {B, K, H, W} tensor per method.
std::vector<at::Tensor> aug_smooth(ModelBackend& model, const at::Tensor& input, const Request& request,
                                   const at::Tensor& classes);

// --- the pieces, exposed for tests -----------------------------------------------

/// Channel weights {B, C} of gradcam, gradcam++ and xgradcam.
at::Tensor channel_weights(Method method, const at::Tensor& acts, const at::Tensor& grads);
/// The map before the ReLU, {B, h, w}, of a method computed from A and G alone.
at::Tensor gradient_map(Method method, const at::Tensor& acts, const at::Tensor& grads, bool eigen_smooth);
/// sum_c w_c A_c (or its principal component): weights {B, K, C}, acts {B, C, h, w} -> {B, K, h, w}.
at::Tensor weighted_maps(const at::Tensor& weights, const at::Tensor& acts, bool eigen_smooth);
/// pytorch-grad-cam's get_2d_projection: {N, C, h, w} -> {N, h, w}, the centred
/// positions projected on the first right-singular vector (LAPACK's sign, as numpy's).
at::Tensor projection_2d(const at::Tensor& x);

/// The class score of logits {N, classes}: the logits or the output activation's values.
at::Tensor class_scores(const ModelBackend& model, const at::Tensor& logits, const std::string& score);

/// How many masked inputs (or ablated activations) one forward pass takes, from the
/// request's budget; throws a one-line Error when even one does not fit in memory.
std::int64_t masked_batch(const ModelBackend& model, std::int64_t height, std::int64_t width, const Request& request,
                          const std::string& what);

/// Score-CAM's channel weights {B, K, C}.
at::Tensor score_cam_weights(ModelBackend& model, const at::Tensor& input, const at::Tensor& acts,
                             const at::Tensor& classes, const Request& request);
/// Ablation-CAM's channel weights {B, K, C}; `original` {B, K} are the unablated scores.
/// Needs vizrun::LayerReplace: throws one line naming the backend without it.
at::Tensor ablation_cam_weights(ModelBackend& model, const at::Tensor& input, const std::string& layer,
                                const at::Tensor& acts, const at::Tensor& classes, const at::Tensor& original,
                                const Request& request);

// --- pictures, shared by the plugins --------------------------------------------

struct PictureStyle {
  std::string overlay_colormap = "jet", heatmap_colormap = "viridis";
  double intensity = 0.4;
  std::int64_t heatmap_size = 224, overlay_min_size = 224;
  bool titles = true, save_arrays = true;
};

/// The photo an overlay is drawn on: HWC uint8 at its own resolution, enlarged by whole
/// pixels when its short side is under overlay_min_size (memory checked first).
at::Tensor overlay_photo(const at::Tensor& original_chw, const std::string& path, const PictureStyle& style,
                         const std::string& who);

/// Emits one map {h, w} in [0, 1]: `<base>_heatmap` as .npy (save_arrays), the heatmap
/// picture and the overlay, with `meta` plus view ("heatmap" / "overlay").
void emit_map(Output& out, const std::string& base, const at::Tensor& map, const at::Tensor& photo, const Dict& meta,
              const PictureStyle& style, const std::string& title, const std::string& heatmap_title);

/// The top predictions of one image: [{class, name, probability}], for the manifest.
List top_predictions(const ModelBackend& model, const at::Tensor& probabilities, std::int64_t count);

}  // namespace vizrun::techniques::cam
