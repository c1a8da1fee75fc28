// vizrun.LayerReplace/1 on the shipped backends (Ablation-CAM's forward from a layer on),
// against each backend's own full forward pass: a layer inside a residual block (whose skip
// path does not depend on it) and a block's output, one and several variants per input.
#include <torch/torch.h>

#include "catch_torch.h"
#include "model_test_util.h"
#include "vizrun/model_extensions.h"

using namespace vizrun;
using namespace vizrun::models::testing;

namespace {

double relative(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-12);
}

/// Replacing `layer` by its own output gives the full forward's taps; with k = 2 variants
/// per input (the output, then zeros) the first variant of every input is still that, the
/// second is not; gradients reach the replacement.
void check_replace(ModelBackend& model, const std::string& layer, const std::string& tap, std::int64_t size) {
  INFO(layer << " -> " << tap);
  auto* replace = query<LayerReplace>(model);
  REQUIRE(replace != nullptr);
  torch::manual_seed(11);
  const at::Tensor x = model.preprocess(torch::rand({2, 3, size, size}) * 255);
  torch::NoGradGuard no_grad;
  const auto plain = model.forward(x, {layer, tap});
  const at::Tensor act = plain.at(layer), want = plain.at(tap);

  const at::Tensor same = replace->forward_replaced(x, layer, act, {tap}).at(tap);
  const double err = relative(same, want);
  std::printf("layer replace %-22s -> %-12s identity: max relative error %.3g\n", layer.c_str(), tap.c_str(), err);
  CHECK(err < 1e-5);

  // Items b*k .. b*k+k-1 belong to input b.
  const at::Tensor variants = at::stack({act, at::zeros_like(act)}, 1).flatten(0, 1);
  const at::Tensor two = replace->forward_replaced(x, layer, variants, {tap}).at(tap);
  REQUIRE(two.size(0) == 4);
  CHECK(relative(two.index({at::indexing::Slice(0, 4, 2)}), want) < 1e-5);
  CHECK(relative(two.index({at::indexing::Slice(1, 4, 2)}), want) > 1e-3);

  torch::autograd::AutoGradMode grad_on(true);
  const at::Tensor r = act.clone().requires_grad_(true);
  const at::Tensor g = torch::autograd::grad({replace->forward_replaced(x, layer, r, {tap}).at(tap).sum()}, {r})[0];
  CHECK(g.abs().sum().item<double>() > 0);
}

}  // namespace

TEST_CASE("resnet50v2: forward from a layer on equals the full forward, skip paths included", "[models][layer_replace]") {
  auto model = create_model("resnet50v2", Value(Dict{{"include_top", false}, {"input_height", 64}, {"input_width", 64}}), "random");
  check_replace(*model, "conv4_block1_1_conv", "post_relu", 64);  // the shortcut conv4_block1_0_conv skips it
  check_replace(*model, "conv3_block4_out", "post_relu", 64);
}

TEST_CASE("vgg16: forward from a layer on equals the full forward", "[models][layer_replace]") {
  auto model = create_model("vgg16", Value(Dict{{"include_top", false}, {"input_height", 64}, {"input_width", 64}}), "random");
  check_replace(*model, "block3_conv2", "block5_pool", 64);
}

TEST_CASE("torchscript: forward from a layer on equals the full forward, skip paths included",
          "[models][layer_replace][torchscript]") {
  auto model = create_model("torchscript", Value(Dict{{"input_size", List{64, 64}}}),
                            fixture_path("torchscript/resnet_small.pt"));
  check_replace(*model, "layer3.0.conv1", "output", 64);  // layer3.0.downsample skips it
  check_replace(*model, "layer2", "output", 64);
  check_replace(*model, "layer4", "layer4.0", 64);       // a module and its last child share a value
  CHECK_THROWS_WITH(query<LayerReplace>(*model)->forward_replaced(torch::zeros({2, 3, 64, 64}), "layer2",
                                                                  torch::zeros({3, 32, 8, 8}), {"output"}),
                    Catch::Matchers::Contains("k x 2 items"));
}
