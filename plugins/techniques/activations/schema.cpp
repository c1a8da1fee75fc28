// The activations plugin's options: the only place their defaults are written.
#include "activations.h"

namespace vizrun::techniques {

const char* const kActivationsSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "activations options",
  "type": "object",
  "additionalProperties": false,
  "required": ["images"],
  "properties": {
    "images": {
      "description": "Input photos: paths or globs, relative to the experiment file.",
      "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
    },
    "layers": {
      "description": "Layers to show: a count N (the first N layers with spatial output, as the book's first eight), a name, a glob (block*_conv*), all_conv, all, or a list of these.",
      "default": 8,
      "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": 10000},
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1}
      ]
    },
    "size": {
      "description": "Side of the square network input, or \"model\" for the backend's input size.",
      "default": "model",
      "oneOf": [{"type": "integer", "minimum": 1, "maximum": 8192}, {"type": "string", "enum": ["model"]}]
    },
    "resize": {"type": "string", "enum": ["nearest", "bilinear"], "default": "nearest", "description": "How photos are resized to the input: nearest as Keras's load_img, or bilinear as OpenCV's INTER_LINEAR."},
    "images_per_row": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 16, "description": "Channels per grid row; the last row may be partial (no channel is dropped)."},
    "colormap": {"type": "string", "enum": ["viridis", "magma", "inferno", "jet", "gray"], "default": "viridis", "description": "Colormap of the channels."},
    "scale": {"type": "number", "minimum": -1000000, "maximum": 1000000, "default": 64, "description": "Standardised channels are multiplied by this (the book's 64)."},
    "offset": {"type": "number", "minimum": -1000000, "maximum": 1000000, "default": 128, "description": "...and shifted by this before clipping to 0..255 (the book's 128); a constant channel shows this level."},
    "upscale": {
      "description": "Pixel repetition of each map: an integer factor, or auto (small maps are enlarged to min_cell_size).",
      "default": "auto",
      "oneOf": [{"type": "integer", "minimum": 1, "maximum": 256}, {"type": "string", "enum": ["auto"]}]
    },
    "min_cell_size": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 48, "description": "With upscale auto, the smallest side in pixels a channel is shown at."},
    "margin": {"type": "integer", "minimum": 0, "maximum": 256, "default": 2, "description": "White pixels between channels in the grid."},
    "titles": {"type": "boolean", "default": true, "description": "Add a title band (layer and shape) above each grid."},
    "channel_images": {"type": "boolean", "default": false, "description": "Also emit every channel as its own image."},
    "save_arrays": {"type": "boolean", "default": false, "description": "Also emit each raw activation {C, H, W} as float32 .npy."},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 8, "description": "Images per forward pass."}
  }
})json";

}  // namespace vizrun::techniques
