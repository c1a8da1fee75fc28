// The cam plugin's entry point.
#include "cam.h"

VIZRUN_PLUGIN(vizrun::techniques::Cam, "cam", "1.0.0",
              "The CAM family (Grad-CAM, Grad-CAM++, XGrad-CAM, HiResCAM, Layer-CAM, Eigen-CAM, Eigen-Grad-CAM, "
              "Score-CAM, Ablation-CAM) as pytorch-grad-cam computes them, several methods per run, batched",
              vizrun::techniques::kCamSchema)
