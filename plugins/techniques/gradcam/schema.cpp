// The gradcam plugin's options: the only place their defaults are written.
#include "gradcam.h"
#include "vizrun/faithfulness.h"

namespace vizrun::techniques {

const char* const kGradCamSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "gradcam options",
  "type": "object",
  "additionalProperties": false,
  "required": ["images"],
  "properties": {
    "images": {
      "description": "Photos to explain: paths or globs, relative to the experiment file.",
      "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
    },
    "layer": {
      "type": "string", "default": "auto",
      "description": "Convolutional layer whose output is weighted; auto takes the backend's last convolutional layer (block5_conv3 on VGG16)."
    },
    "classes": {
      "description": "Target classes: {top: K} for the K most probable classes of each image, or a list of class ids and/or class names (the same for every image).",
      "default": {"top": 1},
      "oneOf": [
        {"type": "object", "additionalProperties": false, "required": ["top"],
         "properties": {"top": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "How many of the top predicted classes."}}},
        {"type": "array", "minItems": 1, "items": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 1000000}, {"type": "string"}]}}
      ]
    },
    "score": {
      "type": "string", "enum": ["logit", "probability"], "default": "logit",
      "description": "Which class score is differentiated. logit (default): the pre-activation class score, as the Grad-CAM paper defines it; it does not saturate when the class is nearly certain and reflects evidence for this class alone. probability: the score after the model's softmax/sigmoid, as the book differentiates Keras's softmax output; its gradient p_c (dy_c - sum_j p_j dy_j) fades as p_c nears 1 and subtracts evidence for competing classes."
    },
    "size": {
      "description": "Side of the square network input, or \"model\" for the backend's input size.",
      "default": "model",
      "oneOf": [{"type": "integer", "minimum": 1, "maximum": 8192}, {"type": "string", "enum": ["model"]}]
    },
    "resize": {
      "type": "string", "enum": ["nearest", "bilinear"], "default": "nearest",
      "description": "How photos are resized to the network input: nearest as Keras's load_img, or bilinear as OpenCV's INTER_LINEAR."
    },
    "intensity": {"type": "number", "minimum": 0, "maximum": 10, "default": 0.4, "description": "Heatmap intensity of the overlay: clip(photo + intensity * colormap(heatmap)), 0.4 as the book."},
    "overlay_colormap": {"type": "string", "enum": ["jet", "viridis", "magma", "inferno", "gray"], "default": "jet", "description": "Colormap of the overlay (jet is OpenCV's COLORMAP_JET, as the book)."},
    "heatmap_colormap": {"type": "string", "enum": ["viridis", "jet", "magma", "inferno", "gray"], "default": "viridis", "description": "Colormap of the stand-alone heatmap image (viridis, as matplotlib's matshow)."},
    "overlay_min_size": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 224, "description": "Photos whose shorter side is smaller are enlarged by whole pixels (nearest) before the overlay, so small pictures stay visible; larger photos keep their size."},
    "heatmap_size": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 224, "description": "Minimum side of the stand-alone heatmap image; cells are repeated (nearest) to reach it."},
    "report_top": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 3, "description": "Top predictions (class, name, probability) recorded per image in the manifest."},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 16, "description": "Images per forward/backward pass; memory stays bounded by one batch whatever the number of images."},
    "titles": {"type": "boolean", "default": true, "description": "Add a title band (class, id, probability) above the heatmap and overlay images."},
    "save_arrays": {"type": "boolean", "default": true, "description": "Also emit each heatmap at the layer's resolution as float32 .npy."},
    "metrics": )json" VIZRUN_FAITHFULNESS_SCHEMA R"json(
  }
})json";

}  // namespace vizrun::techniques
