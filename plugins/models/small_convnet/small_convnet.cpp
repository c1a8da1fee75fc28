// small_convnet: a Keras-Sequential-like convnet declared in the experiment (or in
// a JSON file it references), e.g. the cats-vs-dogs model of "Deep Learning with
// Python". Layer names default to Keras auto names (conv2d_1, max_pooling2d_1, ...).

#include "vizrun/error.h"
#include "vizrun/option_check.h"
#include "vizrun/plugin.h"
#include "vizrun_models/small_convnet.h"

namespace {

using namespace vizrun;
using namespace vizrun::models;

const char* const kSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "small_convnet options",
  "description": "A sequential convnet declared layer by layer, Keras style.",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "architecture": {"type": "string", "default": "", "description": "Path of a YAML or JSON file holding {input, layers, preprocessing, class_names} (e.g. configs/models/dlwp_cats_vs_dogs.yaml), relative to the experiment file; its values are used where this mapping leaves the defaults. Empty: use the layers given here."},
    "input": {
      "type": "object",
      "additionalProperties": false,
      "default": {"height": 150, "width": 150, "channels": 3},
      "description": "Input size: height, width and channels (1 or 3).",
      "properties": {
        "height": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 150, "description": "Input height in pixels (1 to 4096)."},
        "width": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 150, "description": "Input width in pixels (1 to 4096)."},
        "channels": {"type": "integer", "enum": [1, 3], "default": 3, "description": "1 (grayscale) or 3 (RGB)."}
      }
    },
    "layers": {
      "type": "array",
      "maxItems": 1000,
      "default": [],
      "description": "The layers in order (at most 1000).",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["type"],
        "properties": {
          "type": {"type": "string", "enum": ["conv2d", "max_pool", "avg_pool", "batch_norm", "activation", "dropout", "flatten", "global_avg_pool", "global_max_pool", "dense"], "description": "Layer kind."},
          "name": {"type": "string", "default": "", "description": "Layer name; empty gives the Keras auto name (conv2d_1, max_pooling2d_1, dense_1, ...)."},
          "filters": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 32, "description": "conv2d: number of filters (1 to 4096)."},
          "kernel": {"type": ["integer", "array"], "minimum": 1, "maximum": 64, "items": {"type": "integer", "minimum": 1, "maximum": 64}, "minItems": 2, "maxItems": 2, "default": 3, "description": "conv2d: kernel size, n or [height, width], each 1 to 64 and at most the input of the layer (valid padding)."},
          "stride": {"type": "integer", "minimum": 0, "maximum": 64, "default": 0, "description": "conv2d: stride (0 = 1); pools: stride (0 = the pool size, as Keras)."},
          "padding": {"type": "string", "enum": ["valid", "same"], "default": "valid", "description": "conv2d and pools: Keras padding."},
          "activation": {"type": "string", "enum": ["linear", "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus", "swish", "silu", "gelu"], "default": "linear", "description": "conv2d, dense and activation layers: the activation."},
          "use_bias": {"type": "boolean", "default": true, "description": "conv2d and dense: add a bias."},
          "units": {"type": "integer", "minimum": 1, "maximum": 65536, "default": 1, "description": "dense: output units (1 to 65536)."},
          "pool": {"type": "integer", "minimum": 1, "maximum": 64, "default": 2, "description": "max_pool and avg_pool: window size, 1 to 64 and at most the input of the layer (valid padding)."},
          "rate": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5, "description": "dropout: rate (no effect at inference)."},
          "epsilon": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.001, "description": "batch_norm: epsilon (Keras default 0.001)."}
        }
      }
    },
    "preprocessing": {"type": "string", "enum": ["caffe", "tf", "torch", "divide_255", "none"], "default": "divide_255", "description": "How RGB pixels in [0, 255] become network input; the book divides by 255."},
    "class_names": {"type": "array", "items": {"type": "string"}, "default": [], "description": "Names of the classifier outputs (for one sigmoid unit: the positive class)."},
    "channels_last": {"type": "boolean", "default": false, "description": "Keep convolution kernels and the input in the NHWC memory layout on CPU. Results equal NCHW up to float rounding. Off by default: an input already in channels-last (filter_ascent's default) selects the NHWC kernels anyway. Layer outputs handed to techniques are always standard NCHW tensors."}
  }
})json";

class SmallConvnet : public GraphBackend {
 public:
  explicit SmallConvnet(const CreateArgs& args) : SmallConvnet(args, build_small_convnet(args.options, args.host)) {}
  /// `vizrun validate`: the declared layers, the architecture file included.
  static void check_options(const CreateArgs& args) { check_small_convnet(args.options, args.host); }

 private:
  SmallConvnet(const CreateArgs& args, SmallConvnetModel m)
      : GraphBackend(std::move(m.graph), with_layout(m.description, args.options), args, small_convnet_weights_plan()) {}

  static BackendDescription with_layout(BackendDescription d, const Value& options) {
    d.channels_last = options.get("channels_last", false).as_bool();
    return d;
  }
};

}  // namespace

VIZRUN_PLUGIN(SmallConvnet, "small_convnet", "1.0.0",
              "A Keras-Sequential-like convnet declared in the experiment (e.g. the book's cats-vs-dogs model)", kSchema)
VIZRUN_PLUGIN_OPTION_CHECK(SmallConvnet)
