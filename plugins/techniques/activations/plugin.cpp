// The activations plugin's entry point.
#include "activations.h"

VIZRUN_PLUGIN(vizrun::techniques::ActivationGrids, "activations", "1.0.0",
              "Every channel of intermediate activations, standardised and tiled per layer",
              vizrun::techniques::kActivationsSchema)
