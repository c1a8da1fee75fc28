// The attribution plugin's options: the only place their defaults are written.
#include "attribution.h"
#include "vizrun/faithfulness.h"

namespace vizrun::techniques::attribution {

const char* const kAttributionSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "attribution options",
  "type": "object",
  "additionalProperties": false,
  "required": ["images"],
  "properties": {
    "images": {
      "description": "Photos to explain: paths or globs, relative to the experiment file.",
      "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
    },
    "methods": {
      "type": "array", "minItems": 1, "default": ["saliency", "integrated_gradients"],
      "description": "Methods, each saliency, gradient_x_input, integrated_gradients, guided_backprop, guided_gradcam or occlusion, or a noise tunnel around one of the gradient methods: smoothgrad(M), smoothgrad_sq(M), vargrad(M) (smoothgrad alone is smoothgrad(saliency)).",
      "items": {"type": "string", "pattern": "^((saliency|gradient_x_input|integrated_gradients|guided_backprop|guided_gradcam|occlusion)|smoothgrad|(smoothgrad|smoothgrad_sq|vargrad)\\((saliency|gradient_x_input|integrated_gradients|guided_backprop|guided_gradcam)\\))$"}
    },
    "classes": {
      "description": "Target classes: {top: K} for the K most probable classes of each image, or a list of class ids and/or class names (the same for every image).",
      "default": {"top": 1},
      "oneOf": [
        {"type": "object", "additionalProperties": false, "required": ["top"],
         "properties": {"top": {"type": "integer", "minimum": 1, "maximum": 1000}}},
        {"type": "array", "minItems": 1, "items": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 1000000}, {"type": "string"}]}}
      ]
    },
    "score": {"type": "string", "enum": ["logit", "probability"], "default": "logit", "description": "The class score differentiated: the logit (captum on a model returning logits) or the probability after the model's softmax/sigmoid."},
    "size": {"description": "Side of the square network input, or \"model\".", "default": "model", "oneOf": [{"type": "integer", "minimum": 1, "maximum": 8192}, {"type": "string", "enum": ["model"]}]},
    "resize": {"type": "string", "enum": ["nearest", "bilinear"], "default": "nearest", "description": "How photos are resized to the network input."},
    "saliency": {"type": "object", "additionalProperties": false, "default": {}, "properties": {
      "abs": {"type": "boolean", "default": true, "description": "Absolute value of the gradient, as captum's Saliency (abs=True)."}}},
    "integrated_gradients": {"type": "object", "additionalProperties": false, "default": {}, "properties": {
      "steps": {"type": "integer", "minimum": 2, "maximum": 100000, "default": 50, "description": "Integration steps (captum's n_steps)."},
      "method": {"type": "string", "enum": ["gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"], "default": "gausslegendre", "description": "Quadrature, with captum's step sizes and alphas."},
      "baseline": {"type": "string", "default": "black", "description": "black (a photo of zeros, preprocessed), blurred (the photo blurred with a Gaussian of blur_sigma pixels), uniform (uniform noise pixels, seeded) or the path of an image, resized to the input."},
      "blur_sigma": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000, "default": 10, "description": "Standard deviation in pixels of the blurred baseline."}}},
    "smoothgrad": {"type": "object", "additionalProperties": false, "default": {}, "properties": {
      "samples": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 16, "description": "Noisy copies per image (captum's nt_samples)."},
      "noise_level": {"type": "number", "minimum": 0, "maximum": 1000, "default": 0.15, "description": "Standard deviation of the Gaussian noise in the model's input space (captum's stdevs), relative to nothing: a model taking x / 255 has inputs in [0, 1]."}}},
    "occlusion": {"type": "object", "additionalProperties": false, "default": {}, "properties": {
      "window": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 16, "description": "Side of the square patch, covering all channels."},
      "stride": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 8, "description": "Step between patches (at most the window)."},
      "baseline": {"type": "number", "minimum": -1e6, "maximum": 1e6, "default": 0, "description": "Value of the occluded pixels in the model's input space (captum's baselines)."}}},
    "guided_gradcam": {"type": "object", "additionalProperties": false, "default": {}, "properties": {
      "layer": {"type": "string", "default": "auto", "description": "The Grad-CAM layer; auto: the backend's last convolutional layer."}}},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 8, "description": "Photos per batch."},
    "memory_mb": {"type": "number", "minimum": 1, "maximum": 1048576, "default": 2048, "description": "Memory budget of one forward/backward pass: IG's steps, SmoothGrad's samples and occluded copies go through the model in passes sized to it, so memory does not grow with steps or samples."},
    "max_rows": {"type": "integer", "minimum": 1, "maximum": 65536, "default": 256, "description": "At most this many inputs per pass, whatever the budget allows."},
    "outlier_percent": {"type": "number", "minimum": 0, "maximum": 50, "default": 2, "description": "Images scale maps by the |value| where the cumulative sum of sorted |values| reaches 100 - this percent (captum visualization's outlier_perc)."},
    "heatmap_colormap": {"type": "string", "enum": ["viridis", "jet", "magma", "inferno", "gray"], "default": "viridis", "description": "Colormap of the absolute heatmap."},
    "overlay_colormap": {"type": "string", "enum": ["jet", "viridis", "magma", "inferno", "gray"], "default": "jet", "description": "Colormap of the overlay."},
    "intensity": {"type": "number", "minimum": 0, "maximum": 10, "default": 0.5, "description": "Overlay intensity: clip(photo + intensity * colormap(map))."},
    "min_image_size": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 224, "description": "Images smaller than this are enlarged by whole pixels."},
    "titles": {"type": "boolean", "default": true, "description": "A title band (method, class) above each image."},
    "save_arrays": {"type": "boolean", "default": true, "description": "Also emit each map as float32 .npy {C, H, W} at the network input's size (channels not summed)."},
    "metrics": )json" VIZRUN_FAITHFULNESS_SCHEMA R"json(
  }
})json";

}  // namespace vizrun::techniques::attribution
