// The attribution plugin's entry point.
#include "attribution.h"

VIZRUN_PLUGIN(vizrun::techniques::attribution::Attribution, "attribution", "1.0.0",
              "Gradient attribution as captum: saliency, gradient x input, integrated gradients, SmoothGrad, "
              "guided backprop, guided Grad-CAM and occlusion, as .npy and diverging / heatmap / overlay images",
              vizrun::techniques::attribution::kAttributionSchema)
