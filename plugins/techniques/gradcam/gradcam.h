#pragma once
/// \file gradcam.h
/// Grad-CAM (Selvaraju et al.) as the book computes it: the gradient of a class
/// score with respect to a convolutional layer's output, averaged over space to
/// weigh the channels, weighted sum, ReLU, normalised to [0, 1] by the maximum.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cam_engine.h"
#include "vizrun/kit.h"

namespace vizrun::techniques {

/// Heatmaps of one batch: {B, K, h, w} in [0, 1] at the layer's resolution, and
/// the logits {B, classes} of the batch.
struct CamBatch {
  at::Tensor heatmaps;
  at::Tensor raw;     ///< before normalisation: ReLU(sum_c w_c A_c), {B, K, h, w}
  at::Tensor logits;  ///< {B, classes}
  at::Tensor classes; ///< {B, K} int64: the class of every heatmap
};

/// How target classes are chosen: the top-K predictions, or explicit ids.
using ClassChoice = cam::ClassChoice;

/// Computes Grad-CAM for a batch of model-space inputs {B, C, H, W} through the CAM
/// family's mechanism (plugins/techniques/cam/cam_engine.h). `score` is "logit"
/// (pre-activation) or "probability" (after the backend's output activation).
CamBatch grad_cam(ModelBackend& model, const at::Tensor& input, const std::string& layer, const ClassChoice& classes,
                  const std::string& score);

/// The options, read once. The schema holds every default and checks every enum.
struct GradCamOptions {
  explicit GradCamOptions(const Options& options);

  std::string layer;  ///< "auto": the backend's last convolutional layer
  Value classes, size;
  std::string score, resize, overlay_colormap, heatmap_colormap;
  double intensity;
  std::int64_t report_top, batch_size, heatmap_size, overlay_min_size;
  bool titles, save_arrays;
};

class GradCam : public TechniqueBase, public ModelCheck {
 public:
  explicit GradCam(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;
  /// Images, size, layer and classes against the model (run does the same checks first).
  void check_model(const ModelBackend& model) const override;

 private:
  std::string target_layer(const ModelBackend& model) const;

  GradCamOptions m_options;
};

extern const char* const kGradCamSchema;

}  // namespace vizrun::techniques
