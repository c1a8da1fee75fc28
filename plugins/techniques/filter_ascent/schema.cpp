// The filter_ascent plugin's options: the only place their defaults are written.
#include "filter_ascent.h"
#include "vizrun/schema_fragments.h"

namespace vizrun::techniques {

const char* const kFilterAscentSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "filter_ascent options",
  "type": "object",
  "additionalProperties": false,
  "required": ["layers"],
  "properties": {
    "layers": {
      "description": "Layers whose filters are visualised: a name, a glob (block*_conv*), all_conv (every convolution), all, a list of these, or a count N (the first N layers with spatial output).",
      "oneOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        {"type": "integer", "minimum": 1, "maximum": 10000}
      ]
    },
    "filters": {
      "description": "Filters of each layer: a count N (the first N), \"all\", a list of indices, or a range {start, stop, step} (stop exclusive).",
      "default": 64,
      "oneOf": )json" VIZRUN_CHANNEL_SELECTION_ONEOF R"json(
    },
    "size": {
      "description": "Side of the square input picture in pixels, or \"model\" for the backend's input size (required by models with a fixed input).",
      "default": 150,
      "oneOf": [{"type": "integer", "minimum": 1, "maximum": 8192}, {"type": "string", "enum": ["model"]}]
    },
    "init": {
      "description": "Start picture: gray_noise (uniform [0,1) x 20 + 128, pixel space, the book), uniform ((uniform [0,1) - 0.5) x 0.25, model space, keras.io), normal (mean 127, std 10, pixel space, the blog) or {image: PATH} (a photo, resized to size).",
      "default": "gray_noise",
      "oneOf": [
        {"type": "string", "enum": ["gray_noise", "uniform", "normal"]},
        {"type": "object", "additionalProperties": false, "required": ["image"],
         "properties": {"image": {"type": "string", "description": "Photo path, relative to the experiment file."}}}
      ]
    },
    "init_space": {
      "type": "string", "enum": ["auto", "pixel", "model"], "default": "auto",
      "description": "Where the start values live: pixel (RGB 0..255, passed through the backend's preprocess), model (fed to the network as they are, as the Keras seeds fed their noise to VGG16), or auto (model for uniform, pixel otherwise)."
    },
    "init_scale": {
      "type": ["number", "null"], "minimum": -1000000, "maximum": 1000000, "default": null,
      "description": "Overrides the noise amplitude of the init (20 for gray_noise, 0.25 for uniform, the std 10 for normal)."
    },
    "init_offset": {
      "type": ["number", "null"], "minimum": -1000000, "maximum": 1000000, "default": null,
      "description": "Overrides the noise offset of the init (128 for gray_noise, -0.125 for uniform, the mean 127 for normal)."
    },
    "resize": {
      "type": "string", "enum": ["nearest", "bilinear"], "default": "nearest",
      "description": "How an init photo is resized: nearest as Keras's load_img, or bilinear as OpenCV's INTER_LINEAR."
    },
    "steps": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 40, "description": "Gradient-ascent steps (the book 40, the notebook 50, keras.io 30, the blog 20)."},
    "step_size": {"type": "number", "minimum": -1000000, "maximum": 1000000, "default": 1.0, "description": "Multiplier of the normalised gradient added to the picture each step (keras.io uses 10 with l2)."},
    "gradient_normalization": {
      "type": "string", "enum": ["rms", "l2", "none"], "default": "rms",
      "description": "rms: divide by sqrt(mean(g^2)) + 1e-5 (the book); l2: divide by the L2 norm (keras.io's tf.math.l2_normalize); none: raw gradient."
    },
    "loss_border": {
      "type": "integer", "minimum": 0, "maximum": 4096, "default": 0,
      "description": "Activation pixels excluded from the loss at every border of the filter's map (keras.io excludes 2)."
    },
    "deprocess_std": {
      "type": "number", "exclusiveMinimum": 0, "maximum": 1000, "default": 0.1,
      "description": "Standard deviation the picture is normalised to before the 0.5 offset and clipping (the book 0.1, keras.io 0.15)."
    },
    "crop": {"type": "integer", "minimum": 0, "maximum": 4096, "default": 0, "description": "Pixels cropped from every border of the displayed picture (keras.io crops 25)."},
    "display_space": {
      "type": "string", "enum": ["pixel", "model"], "default": "pixel",
      "description": "pixel: map the optimised input back through the backend's deprocess (RGB as the network sees it) before display; model: display the raw model-space tensor as the seeds did (BGR on caffe-style backends)."
    },
    "grid_columns": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 8, "description": "Columns of each layer's grid."},
    "grid_margin": {"type": "integer", "minimum": 0, "maximum": 256, "default": 5, "description": "Pixels between grid cells."},
    "grid_background": {"type": "integer", "minimum": 0, "maximum": 255, "default": 0, "description": "Gray level of the grid background (0: black, as the book)."},
    "titles": {"type": "boolean", "default": true, "description": "Add a title band (layer and filters) above each grid."},
    "filter_images": {"type": "boolean", "default": true, "description": "Also emit one image per filter."},
    "save_arrays": {"type": "boolean", "default": false, "description": "Also emit each optimised input (model space, float32 {C, H, W}) as .npy."},
    "loss_curves": {"type": "boolean", "default": false, "description": "Record every filter's loss at every step in the manifest (final losses are always recorded)."},
    "batch_size": {"type": "integer", "minimum": 0, "maximum": 1024, "default": 0, "description": "Filters optimised together in one batch; 0 chooses from memory_budget_mb and max_batch."},
    "memory_budget_mb": {"type": "number", "exclusiveMinimum": 0, "maximum": 1048576, "default": 2048, "description": "Memory a batch may use (activations kept for the backward pass), for choosing the batch size."},
    "max_batch": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 8, "description": "Upper bound of the automatic batch size (small batches keep oneDNN convolutions cache-friendly: 2-8 measured fastest on VGG16 at 128 px)."},
    "reuse_memory": {"type": "boolean", "default": true, "description": "Keep freed CPU tensor memory for the next step instead of returning it to the system (avoids page faults on every step)."},
    "channels_last": {"type": "boolean", "default": true, "description": "Run the pictures in channels-last memory format (faster oneDNN convolutions on CPU)."},
    "target_filters_only": {"type": "boolean", "default": true, "description": "Ask the backend for only the watched filter of the target layer (ModelBackend::forward_channels: a convolution then runs only those filters, forward and backward); false computes the whole layer and picks the filter from it."}
  }
})json";

}  // namespace vizrun::techniques
