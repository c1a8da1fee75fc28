// The feature_vis and deep_dream options: the only place their defaults are written.
#include "technique.h"
#include "vizrun/schema_fragments.h"

namespace vizrun::techniques {

const char* const kFeatureVisSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "feature_vis options",
  "type": "object",
  "additionalProperties": false,
  "required": ["renders"],
  "definitions": {
    "term": {
      "type": "object", "additionalProperties": false, "required": ["type"],
      "properties": {
        "type": {"type": "string", "enum": ["channel", "neuron", "direction", "layer", "class_logit", "class_probability", "diversity", "total_variation", "l1", "l2", "squared_l2", "blur"],
                 "description": "What to maximise (lucid's definitions): channel/neuron/direction/layer (mean of squares, DeepDream) of a layer, class_logit/class_probability of the classifier, diversity (minus the batch's Gram similarity), or a regulariser of the picture: total_variation, l1, l2 (sqrt of the sum of squares), squared_l2, blur (give penalties negative weights)."},
        "weight": {"type": "number", "default": 1.0},
        "layer": {"type": "string", "description": "The layer (class terms: the model's logits layer when absent)."},
        "channel": {"type": "integer", "minimum": 0},
        "class": {"type": "integer", "minimum": 0},
        "x": {"type": "integer", "minimum": 0},
        "y": {"type": "integer", "minimum": 0},
        "batch": {"type": "integer", "minimum": 0, "description": "Only this picture of the batch."},
        "direction": {"type": "array", "items": {"type": "number"}, "minItems": 1},
        "constant": {"type": "number", "description": "l1/l2/squared_l2: the value the picture is pulled towards."}
      }
    }
  },
  "properties": {
    "renders": {
      "type": "array", "minItems": 1,
      "description": "What to render: each a batch of pictures optimised together for a weighted sum of objective terms; `channels` (a filter selection) or `classes` makes one render per channel or class.",
      "items": {
        "type": "object", "additionalProperties": false, "required": ["objective"],
        "properties": {
          "name": {"type": "string"},
          "batch": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1},
          "objective": {"type": "array", "items": {"$ref": "#/definitions/term"}, "minItems": 1},
          "channels": {"oneOf": )json" VIZRUN_CHANNEL_SELECTION_ONEOF R"json(},
          "classes": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 1000000}, {"type": "string", "enum": ["all"]},
                                {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 999999}}]}
        }
      }
    },
    "size": {"type": "integer", "minimum": 2, "maximum": 4096, "default": 128, "description": "Side of the parameterised picture (lucent: 128)."},
    "steps": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 512, "description": "Adam steps (lucent's threshold 512)."},
    "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000, "default": 0.05, "description": "Adam's learning rate (lucent: 0.05)."},
    "parameterization": {"type": "string", "enum": ["fourier", "pixel"], "default": "fourier", "description": "fourier: lucent's fft_image (1/f scaled spectrum); pixel: the pixels themselves."},
    "decorrelate": {"type": "boolean", "default": true, "description": "Decorrelated colour (lucid's ImageNet colour-correlation matrix)."},
    "valid_range": {"type": "string", "enum": ["sigmoid", "clip", "none"], "default": "sigmoid", "description": "How raw values become [0, 1]: sigmoid (lucent), clip (clamp of raw + 0.5), none (raw + 0.5, for class models held by an L2 penalty)."},
    "sd": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "default": 0.01, "description": "Standard deviation of the random start (lucent: 0.01)."},
    "decay_power": {"type": "number", "minimum": 0, "maximum": 10, "default": 1.0, "description": "Spectrum decay of the Fourier parameterisation."},
    "transforms": {
      "default": "standard",
      "description": "Random transforms each step: standard (lucent's standard_transforms: pad 12, jitter 8, scale 0.9-1.1, rotate -10..10, jitter 4), none, or a list.",
      "oneOf": [
        {"type": "string", "enum": ["standard", "none"]},
        {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["type"],
          "properties": {"type": {"type": "string", "enum": ["pad", "jitter", "scale", "rotate"]},
                         "width": {"type": "integer", "minimum": 0, "maximum": 4096}, "value": {"type": "number", "minimum": -1e6, "maximum": 1e6},
                         "mode": {"type": "string", "enum": ["constant", "reflect"]},
                         "amount": {"type": "integer", "minimum": 2, "maximum": 4096},
                         "factors": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0, "maximum": 100}, "minItems": 1},
                         "angles": {"type": "array", "items": {"type": "number", "minimum": -360, "maximum": 360}, "minItems": 1}}}}
      ]
    },
    "input_size": {
      "default": "auto",
      "description": "What the network sees after the transforms: auto (the model's size for a fixed-size model, else the transformed picture as it is), model, none (as it is), or a side in pixels (lucent upsamples to 224), bilinear with align_corners.",
      "oneOf": [{"type": "string", "enum": ["auto", "model", "none"]}, {"type": "integer", "minimum": 1, "maximum": 8192}]
    },
    "min_display_size": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 128, "description": "Small pictures are enlarged by whole pixels to at least this side."},
    "objective_curves": {"type": "boolean", "default": false, "description": "Record the objective at every step in the manifest."},
    "channels_last": {"type": "boolean", "default": true, "description": "Channels-last memory format (faster oneDNN convolutions on CPU)."},
    "reuse_memory": {"type": "boolean", "default": true, "description": "Keep freed CPU tensor memory for the next step."}
  }
})json";

const char* const kDeepDreamSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "deep_dream options",
  "type": "object",
  "additionalProperties": false,
  "required": ["images", "layers"],
  "properties": {
    "images": {"description": "Photos to dream from (paths, globs, folders).", "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
    "layers": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "number"}, "description": "Layer name -> coefficient of its mean squared activation (keras.io: mixed4 1, mixed5 1.5, mixed6 2, mixed7 2.5)."},
    "size": {"type": "integer", "minimum": 0, "maximum": 8192, "default": 0, "description": "Resize the photo to a square of this side first (0: its own size)."},
    "octaves": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3},
    "octave_scale": {"type": "number", "exclusiveMinimum": 1, "maximum": 10, "default": 1.4},
    "iterations": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 20, "description": "Ascent steps per octave."},
    "step": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000, "default": 0.01, "description": "Step along the L2-normalised gradient."},
    "max_loss": {"type": ["number", "null"], "minimum": -1e12, "maximum": 1e12, "default": 15.0, "description": "Stop an octave once the loss passes this (null: never)."},
    "border": {"type": "integer", "minimum": 0, "maximum": 64, "default": 2, "description": "Activation pixels left out at every border (keras.io: 2)."}
  }
})json";

}  // namespace vizrun::techniques
