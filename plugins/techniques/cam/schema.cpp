// The cam plugin's options: the only place their defaults are written.
#include "cam.h"
#include "vizrun/faithfulness.h"

namespace vizrun::techniques {

const char* const kCamSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "cam options",
  "type": "object",
  "additionalProperties": false,
  "required": ["images"],
  "properties": {
    "images": {
      "description": "Photos to explain: paths or globs, relative to the experiment file.",
      "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
    },
    "methods": {
      "description": "CAM methods, all computed in one run (one forward and one backward pass per class serve every gradient method): gradcam, gradcam++, xgradcam, hirescam, layercam, eigencam, eigengradcam (gradient-weighted Eigen-CAM), scorecam, ablationcam. Definitions as pytorch-grad-cam 1.5.7.",
      "default": ["gradcam"],
      "oneOf": [
        {"type": "string", "enum": ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "eigengradcam", "scorecam", "ablationcam"]},
        {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "eigengradcam", "scorecam", "ablationcam"]}}
      ]
    },
    "layers": {
      "description": "Target layer(s): names or globs; auto is the backend's last convolutional layer. Several layers are combined as pytorch-grad-cam does: each map min-max scaled, resized (bilinear, half-pixel centres as cv2.resize) to the input, averaged and scaled again; a single layer's map stays at its own resolution.",
      "default": "auto",
      "oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": {"type": "string"}}]
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
      "description": "The class score every method explains: logit (pytorch-grad-cam's ClassifierOutputTarget) or probability (after the model's softmax/sigmoid)."
    },
    "aug_smooth": {"type": "boolean", "default": false, "description": "Test-time augmentation as pytorch-grad-cam: the maps of the input flipped or not and multiplied by 0.9, 1 and 1.1, averaged (maps at the input's resolution)."},
    "eigen_smooth": {"type": "boolean", "default": false, "description": "Project the weighted activations on their first principal component instead of summing them (pytorch-grad-cam's eigen_smooth)."},
    "size": {
      "description": "Side of the square network input, or \"model\" for the backend's input size.",
      "default": "model",
      "oneOf": [{"type": "integer", "minimum": 1, "maximum": 8192}, {"type": "string", "enum": ["model"]}]
    },
    "resize": {
      "type": "string", "enum": ["nearest", "bilinear"], "default": "nearest",
      "description": "How photos are resized to the network input: nearest as Keras's load_img, or bilinear as OpenCV's INTER_LINEAR."
    },
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 16, "description": "Images per forward/backward pass; memory stays bounded by one batch whatever the number of images."},
    "memory_mb": {"type": "number", "minimum": 1, "maximum": 1048576, "default": 2048, "description": "Memory budget (MiB) of the batches of Score-CAM's masked inputs and Ablation-CAM's ablated activations: their batch size follows from it, so memory does not grow with the layer's channels."},
    "masked_batch_size": {"type": "integer", "minimum": 0, "maximum": 65536, "default": 0, "description": "Masked inputs (Score-CAM) or ablations (Ablation-CAM) per forward pass; 0 chooses it from memory_mb."},
    "intensity": {"type": "number", "minimum": 0, "maximum": 10, "default": 0.4, "description": "Heatmap intensity of the overlay: clip(photo + intensity * colormap(heatmap))."},
    "overlay_colormap": {"type": "string", "enum": ["jet", "viridis", "magma", "inferno", "gray"], "default": "jet", "description": "Colormap of the overlay (jet is OpenCV's COLORMAP_JET)."},
    "heatmap_colormap": {"type": "string", "enum": ["viridis", "jet", "magma", "inferno", "gray"], "default": "viridis", "description": "Colormap of the stand-alone heatmap image."},
    "overlay_min_size": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 224, "description": "Photos whose shorter side is smaller are enlarged by whole pixels (nearest) before the overlay."},
    "heatmap_size": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 224, "description": "Minimum side of the stand-alone heatmap image; cells are repeated (nearest) to reach it."},
    "report_top": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 3, "description": "Top predictions (class, name, probability) recorded per image in the manifest."},
    "titles": {"type": "boolean", "default": true, "description": "Add a title band (method, class, id, probability) above the heatmap and overlay images."},
    "save_arrays": {"type": "boolean", "default": true, "description": "Also emit each map as float32 .npy: at the layer's resolution for one layer, at the input's for several layers or aug_smooth."},
    "metrics": )json" VIZRUN_FAITHFULNESS_SCHEMA R"json(
  }
})json";

}  // namespace vizrun::techniques
