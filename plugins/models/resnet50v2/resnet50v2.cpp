// resnet50v2: Keras' ResNet50V2 exactly (pre-activation bottlenecks, stride on the
// 3x3 conv of each stack's last block, 1x1/2 max-pool shortcuts, zero-padded
// pool1, BatchNorm eps 1.001e-5), every Keras layer name addressable.

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
  "title": "resnet50v2 options",
  "description": "Keras ResNet50V2 (pre-activation ResNet-50, stacks conv2..conv5 of 3/4/6/3 blocks).",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "include_top": {"type": "boolean", "default": true, "description": "Keep avg_pool and predictions (1000 ImageNet classes). The input must then be 224x224."},
    "pooling": {"type": "string", "enum": ["none", "avg", "max"], "default": "none", "description": "Without the top: none keeps post_relu as the output, avg/max add avg_pool/max_pool."},
    "input_height": {"type": "integer", "minimum": 32, "maximum": 4096, "default": 224, "description": "Input height in pixels (exactly 224 with the top, 32 to 4096 without)."},
    "input_width": {"type": "integer", "minimum": 32, "maximum": 4096, "default": 224, "description": "Input width in pixels (exactly 224 with the top, 32 to 4096 without)."},
    "preprocessing": {"type": "string", "enum": ["caffe", "tf", "torch", "divide_255", "none"], "default": "tf", "description": "How RGB pixels in [0, 255] become network input. Keras ResNet50V2 weights use tf (x / 127.5 - 1)."},
    "channels_last": {"type": "boolean", "default": false, "description": "Keep convolution kernels and the input in the NHWC memory layout on CPU. Results equal NCHW up to float rounding. Off by default: an input already in channels-last (filter_ascent's default) selects the NHWC kernels anyway. Layer outputs handed to techniques are always standard NCHW tensors."},
    "fold_layers": {"type": "boolean", "default": true, "description": "Run a convolution that feeds only a BatchNorm as one convolution with the BatchNorm folded into its kernels and bias (inference BatchNorm is affine per channel), and a ZeroPadding2D that feeds only a convolution as that convolution's own padding: the same function up to float rounding, without those layers' passes over the activation forward and backward. Every layer stays tappable."}
  }
})json";

constexpr double kEps = 1.001e-5;

struct Variant {
  bool top;
  std::string pooling;
  InputSpec input;
  std::string preprocessing;
  bool channels_last;
  bool fold_layers;
};

Variant read_options(const CreateArgs& args) {
  const Value& o = args.options;
  Variant v;
  v.top = o.get("include_top", true).as_bool();
  v.channels_last = o.get("channels_last", false).as_bool();
  v.fold_layers = o.get("fold_layers", true).as_bool();
  v.pooling = o.get("pooling", "none").as_string();
  v.preprocessing = o.get("preprocessing", "tf").as_string();
  if (v.top && v.pooling != "none")
    throw Error("resnet50v2: pooling '" + v.pooling + "' applies only with include_top: false (the top has avg_pool)");
  v.input = input_spec_from(o.get("input_height", 224).as_int(), o.get("input_width", 224).as_int(), 3, v.top, 224,
                            32, "resnet50v2");
  return v;
}

/// One pre-activation bottleneck block, layers added in Keras' model.layers order.
int block(Graph& g, int x, std::int64_t filters, const std::string& name, std::int64_t stride, bool conv_shortcut,
          int& pool_counter) {
  int preact = g.batch_norm(name + "_preact_bn", x, kEps);
  preact = g.activation(name + "_preact_relu", preact, "relu");
  int y = g.conv2d(name + "_1_conv", preact, filters, 1, 1, 1, "valid", false);
  y = g.batch_norm(name + "_1_bn", y, kEps);
  y = g.activation(name + "_1_relu", y, "relu");
  y = g.zero_pad(name + "_2_pad", y, 1, 1, 1, 1);
  y = g.conv2d(name + "_2_conv", y, filters, 3, 3, stride, "valid", false);
  y = g.batch_norm(name + "_2_bn", y, kEps);
  y = g.activation(name + "_2_relu", y, "relu");
  int shortcut = x;
  if (conv_shortcut) {
    shortcut = g.conv2d(name + "_0_conv", preact, 4 * filters, 1, 1, stride, "valid", true);
  } else if (stride > 1) {
    std::string pool = pool_counter == 0 ? "max_pooling2d" : "max_pooling2d_" + std::to_string(pool_counter);
    ++pool_counter;
    shortcut = g.max_pool(pool, x, 1, stride);
  }
  y = g.conv2d(name + "_3_conv", y, 4 * filters, 1, 1, 1, "valid", true);
  return g.add(name + "_out", {shortcut, y});
}

std::unique_ptr<Graph> build(const Variant& v) {
  auto g = std::make_unique<Graph>(Shape{3, v.input.height, v.input.width});
  int x = g->zero_pad("conv1_pad", -1, 3, 3, 3, 3);
  x = g->conv2d("conv1_conv", x, 64, 7, 7, 2, "valid", true);
  x = g->zero_pad("pool1_pad", x, 1, 1, 1, 1);
  x = g->max_pool("pool1_pool", x, 3, 2);
  struct Stack {
    const char* name;
    std::int64_t filters;
    int blocks;
    std::int64_t stride;
  };
  const Stack stacks[] = {{"conv2", 64, 3, 2}, {"conv3", 128, 4, 2}, {"conv4", 256, 6, 2}, {"conv5", 512, 3, 1}};
  int pools = 0;
  for (const auto& s : stacks) {
    x = block(*g, x, s.filters, std::string(s.name) + "_block1", 1, true, pools);
    for (int b = 2; b < s.blocks; ++b)
      x = block(*g, x, s.filters, std::string(s.name) + "_block" + std::to_string(b), 1, false, pools);
    x = block(*g, x, s.filters, std::string(s.name) + "_block" + std::to_string(s.blocks), s.stride, false, pools);
  }
  x = g->batch_norm("post_bn", x, kEps);
  x = g->activation("post_relu", x, "relu");
  if (v.top) {
    x = g->global_avg_pool("avg_pool", x);
    g->dense("predictions", x, 1000, true, "linear");  // logits; softmax is output_activation()
  } else if (v.pooling == "avg") {
    g->global_avg_pool("avg_pool", x);
  } else if (v.pooling == "max") {
    g->global_max_pool("max_pool", x);
  }
  return g;
}

BackendDescription describe(const Variant& v) {
  BackendDescription d;
  d.preprocessing = v.preprocessing;
  d.channels_last = v.channels_last;
  d.fold_layers = v.fold_layers;
  d.input = v.input;
  d.last_conv_layer = "post_relu";
  if (v.top) {
    d.output_activation = "softmax";
    d.logits_layer = "predictions";
    d.class_names = imagenet_class_names();
  }
  return d;
}

WeightsPlan plan(const Variant& v) {
  WeightsPlan p;
  p.model = "resnet50v2";
  p.default_source = "imagenet";
  // keras-applications named the classifier "probs"; tf.keras and Keras 3 call it "predictions".
  p.optional_layers = {"predictions", "probs"};
  p.layer_aliases = {{"probs", "predictions"}};
  p.tensor_aliases = {{"probs.weight", "predictions.weight"}, {"probs.bias", "predictions.bias"}};
  p.imagenet = ImagenetFile{"resnet",
                            v.top ? "resnet50v2_weights_tf_dim_ordering_tf_kernels.h5"
                                  : "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                            v.top ? "3ef43a0b657b3be2300d5770ece849e0" : "fac2f116257151a9d068a22e544a4917"};
  return p;
}

class ResNet50V2 : public GraphBackend {
 public:
  explicit ResNet50V2(const CreateArgs& args) : ResNet50V2(args, read_options(args)) {}

 private:
  ResNet50V2(const CreateArgs& args, const Variant& v) : GraphBackend(build(v), describe(v), args, plan(v)) {}
};

}  // namespace

VIZRUN_PLUGIN(ResNet50V2, "resnet50v2", "1.0.0",
              "Keras ResNet50V2 with every Keras layer name; weights: imagenet, random, .h5 or .safetensors", kSchema)
