// The deep_dream plugin's entry point (its mathematics live in feature_vis).
#include "technique.h"

VIZRUN_PLUGIN(vizrun::techniques::DeepDream, "deep_dream", "1.0.0",
              "DeepDream from a photo with octaves and detail reinjection (keras.io's recipe)",
              vizrun::techniques::kDeepDreamSchema)
