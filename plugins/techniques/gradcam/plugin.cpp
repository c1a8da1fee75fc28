// The gradcam plugin's entry point.
#include "gradcam.h"

VIZRUN_PLUGIN(vizrun::techniques::GradCam, "gradcam", "1.0.0",
              "Grad-CAM class activation heatmaps with JET overlays, batched over images",
              vizrun::techniques::kGradCamSchema)
