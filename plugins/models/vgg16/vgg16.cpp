// vgg16: Keras' VGG16 layer for layer (keras.applications.VGG16), with Keras layer
// names, include_top, pooling and the "caffe" preprocessing.

#include <memory>

#include "vizrun/error.h"
#include "vizrun/plugin.h"
#include "vizrun_models/backend.h"
#include "vizrun_models/imagenet_classes.h"

namespace {

using namespace vizrun;
using namespace vizrun::models;

const char* const kSchema = R"json({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "vgg16 options",
  "description": "Keras VGG16 (13 conv layers in 5 blocks, optional 3 dense layers on top).",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "include_top": {"type": "boolean", "default": true, "description": "Keep flatten, fc1, fc2 and predictions (1000 ImageNet classes). The input must then be 224x224."},
    "pooling": {"type": "string", "enum": ["none", "avg", "max"], "default": "none", "description": "Without the top: none keeps block5_pool as the output, avg/max add a global pooling layer."},
    "input_height": {"type": "integer", "minimum": 32, "maximum": 4096, "default": 224, "description": "Input height in pixels (exactly 224 with the top, 32 to 4096 without)."},
    "input_width": {"type": "integer", "minimum": 32, "maximum": 4096, "default": 224, "description": "Input width in pixels (exactly 224 with the top, 32 to 4096 without)."},
    "preprocessing": {"type": "string", "enum": ["caffe", "tf", "torch", "divide_255", "none"], "default": "caffe", "description": "How RGB pixels in [0, 255] become network input. Keras VGG16 weights use caffe (BGR minus ImageNet means); torchvision weights use torch."},
    "channels_last": {"type": "boolean", "default": false, "description": "Keep convolution kernels and the input in the NHWC memory layout on CPU. Results equal NCHW up to float rounding. Off by default: an input already in channels-last (filter_ascent's default) selects the NHWC kernels anyway. Layer outputs handed to techniques are always standard NCHW tensors."}
  }
})json";

/// torchvision's names for the same tensors (vgg16 state_dict).
std::map<std::string, std::string> torchvision_names() {
  const char* convs[] = {"block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1",
                         "block3_conv2", "block3_conv3", "block4_conv1", "block4_conv2", "block4_conv3",
                         "block5_conv1", "block5_conv2", "block5_conv3"};
  const int index[] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
  std::map<std::string, std::string> m;
  for (int i = 0; i < 13; ++i) {
    std::string f = "features." + std::to_string(index[i]);
    m[f + ".weight"] = std::string(convs[i]) + ".weight";
    m[f + ".bias"] = std::string(convs[i]) + ".bias";
  }
  const char* fcs[] = {"fc1", "fc2", "predictions"};
  const int fc_index[] = {0, 3, 6};
  for (int i = 0; i < 3; ++i) {
    std::string c = "classifier." + std::to_string(fc_index[i]);
    m[c + ".weight"] = std::string(fcs[i]) + ".weight";
    m[c + ".bias"] = std::string(fcs[i]) + ".bias";
  }
  return m;
}

struct Variant {
  bool top;
  std::string pooling;
  InputSpec input;
  std::string preprocessing;
  bool channels_last;
};

Variant read_options(const CreateArgs& args) {
  const Value& o = args.options;
  Variant v;
  v.top = o.get("include_top", true).as_bool();
  v.channels_last = o.get("channels_last", false).as_bool();
  v.pooling = o.get("pooling", "none").as_string();
  v.preprocessing = o.get("preprocessing", "caffe").as_string();
  if (v.top && v.pooling != "none")
    throw Error("vgg16: pooling '" + v.pooling + "' applies only with include_top: false (the top has its own flatten)");
  v.input = input_spec_from(o.get("input_height", 224).as_int(), o.get("input_width", 224).as_int(), 3, v.top, 224,
                            32, "vgg16");
  return v;
}

std::unique_ptr<Graph> build(const Variant& v) {
  auto g = std::make_unique<Graph>(Shape{3, v.input.height, v.input.width});
  const int blocks[5][2] = {{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}};
  int x = -1;
  for (int b = 0; b < 5; ++b) {
    std::string block = "block" + std::to_string(b + 1);
    for (int c = 0; c < blocks[b][0]; ++c)
      x = g->conv2d(block + "_conv" + std::to_string(c + 1), x, blocks[b][1], 3, 3, 1, "same", true, "relu");
    x = g->max_pool(block + "_pool", x, 2, 2);
  }
  if (v.top) {
    x = g->flatten("flatten", x);
    x = g->dense("fc1", x, 4096, true, "relu");
    x = g->dense("fc2", x, 4096, true, "relu");
    g->dense("predictions", x, 1000, true, "linear");  // logits; softmax is output_activation()
  } else if (v.pooling == "avg") {
    g->global_avg_pool("global_average_pooling2d", x);
  } else if (v.pooling == "max") {
    g->global_max_pool("global_max_pooling2d", x);
  }
  return g;
}

BackendDescription describe(const Variant& v) {
  BackendDescription d;
  d.preprocessing = v.preprocessing;
  d.channels_last = v.channels_last;
  d.input = v.input;
  d.last_conv_layer = "block5_conv3";
  if (v.top) {
    d.output_activation = "softmax";
    d.logits_layer = "predictions";
    d.class_names = imagenet_class_names();
  }
  return d;
}

WeightsPlan plan(const Variant& v) {
  WeightsPlan p;
  p.model = "vgg16";
  p.default_source = "imagenet";
  p.optional_layers = {"fc1", "fc2", "predictions"};
  p.tensor_aliases = torchvision_names();
  p.imagenet = ImagenetFile{"vgg16",
                            v.top ? "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
                                  : "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                            v.top ? "64373286793e3c8b2b4e3219cbf3544b" : "6d6bbae143d832006294945121d1f1fc"};
  return p;
}

class Vgg16 : public GraphBackend {
 public:
  explicit Vgg16(const CreateArgs& args) : Vgg16(args, read_options(args)) {}

 private:
  Vgg16(const CreateArgs& args, const Variant& v) : GraphBackend(build(v), describe(v), args, plan(v)) {}
};

}  // namespace

VIZRUN_PLUGIN(Vgg16, "vgg16", "1.0.0", "Keras VGG16 with Keras layer names; weights: imagenet, random, .h5 or .safetensors",
              kSchema)
