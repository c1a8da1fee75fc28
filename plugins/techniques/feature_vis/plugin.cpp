// The feature_vis plugin's entry point.
#include "technique.h"

VIZRUN_PLUGIN(vizrun::techniques::FeatureVis, "feature_vis", "1.0.0",
              "Feature visualisation as lucid/lucent: Fourier + decorrelated parameterisation, random transforms, "
              "composable objectives (channel, neuron, direction, layer, class, diversity, regularisers)",
              vizrun::techniques::kFeatureVisSchema)
