#pragma once
/// \file cam.h
/// The cam technique: any of the CAM family (cam_engine.h) on one or several layers,
/// several methods in one run, with heatmaps, overlays and predictions as gradcam's.

#include <cstdint>
#include <string>
#include <vector>

#include "cam_engine.h"
#include "vizrun/kit.h"

namespace vizrun::techniques {

/// The options, read once. The schema holds every default and checks every enum.
struct CamOptions {
  explicit CamOptions(const Options& options);

  std::vector<std::string> methods;
  Value layers, classes, size;
  Value metrics;  ///< the faithfulness metrics option (faithfulness.h)
  std::string score, resize;
  bool aug_smooth, eigen_smooth;
  std::int64_t batch_size, masked_batch_size, report_top;
  double memory_mb;
  cam::PictureStyle style;
};

class Cam : public TechniqueBase, public ModelCheck {
 public:
  explicit Cam(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;
  /// Images, size, methods, layers and classes against the model, without running it.
  void check_model(const ModelBackend& model) const override;

 private:
  std::vector<cam::Method> methods(const ModelBackend& model) const;
  std::vector<std::string> target_layers(const ModelBackend& model, std::int64_t height, std::int64_t width) const;
  cam::Request request(const ModelBackend& model, std::int64_t height, std::int64_t width) const;

  CamOptions m_options;
};

extern const char* const kCamSchema;

}  // namespace vizrun::techniques
