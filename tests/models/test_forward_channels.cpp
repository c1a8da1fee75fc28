// ModelBackend::forward_channels: the backends' optimised path (only the selected
// filters of a convolution run) against the SDK's default (the whole layer, then a
// gather). Same outputs within 1e-5 and the same input gradients.

#include "catch_torch.h"

#include <cstdio>

#include "model_test_util.h"

using namespace vizrun;
using namespace vizrun::models::testing;

namespace {

struct Paths {
  at::Tensor out, grad;
};

// Output and the gradient of sum(mean over space) with respect to the input.
Paths run(ModelBackend& model, const at::Tensor& start, const std::string& layer, const at::Tensor& channels,
          bool optimised) {
  torch::autograd::AutoGradMode grad_on(true);
  at::Tensor x = start.clone().requires_grad_(true);
  at::Tensor y = optimised ? model.forward_channels(x, layer, channels)
                           : model.ModelBackend::forward_channels(x, layer, channels);
  at::Tensor g = torch::autograd::grad({y.mean({1, 2, 3}).sum()}, {x})[0];
  return {y.detach().contiguous(), g.detach().contiguous()};
}

double relative(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-12);
}

void compare(ModelBackend& model, const std::string& layer, std::int64_t size, const std::vector<std::int64_t>& picked) {
  INFO(layer);
  torch::manual_seed(7);
  const at::Tensor start = model.preprocess(torch::rand({static_cast<std::int64_t>(picked.size()), 3, size, size}) * 255);
  const at::Tensor channels = torch::tensor(picked, torch::kLong);
  const Paths fast = run(model, start, layer, channels, true);
  const Paths ref = run(model, start, layer, channels, false);
  REQUIRE(fast.out.sizes() == ref.out.sizes());
  CHECK(fast.out.size(1) == 1);
  const double out_err = relative(fast.out, ref.out);
  const double grad_err = relative(fast.grad, ref.grad);
  std::printf("forward_channels %s: output max rel error %.3g, input-gradient max rel error %.3g\n", layer.c_str(),
              out_err, grad_err);
  CHECK(ref.out.abs().max().item<double>() > 0);
  CHECK(ref.grad.abs().max().item<double>() > 0);
  CHECK(out_err < 1e-5);
  CHECK(grad_err < 1e-5);
}

}  // namespace

TEST_CASE("forward_channels: selected filters only = whole layer then gather (VGG16)", "[forward_channels]") {
  auto model = create_model("vgg16", Value(Dict{{"include_top", false}}), "random");
  // block1_conv1 reads the graph input; the others an earlier layer's output.
  compare(*model, "block1_conv1", 48, {0, 5, 63});
  compare(*model, "block1_conv2", 48, {3, 3, 17, 40});
  compare(*model, "block3_conv1", 48, {0, 255, 100});
  compare(*model, "block5_conv3", 64, {511, 2, 77});
  // Channels that are not a convolution's take the gathered path and still work.
  compare(*model, "block2_pool", 48, {1, 127});
  CHECK_THROWS_WITH(model->forward_channels(torch::zeros({2, 3, 48, 48}), "block1_conv1", torch::tensor({0, 64})),
                    Catch::Contains("out of range"));
}

TEST_CASE("forward_channels: ResNet50V2 convolutions (linear, strided, padded) and add layers", "[forward_channels]") {
  auto model = create_model("resnet50v2", Value(Dict{{"include_top", false}}), "random");
  compare(*model, "conv1_conv", 64, {0, 63});
  compare(*model, "conv3_block4_2_conv", 64, {5, 100});
  compare(*model, "conv4_block1_2_conv", 96, {7, 200});
  compare(*model, "conv3_block4_out", 64, {9, 511});
}

TEST_CASE("the graph backends answer the ChannelForward extension", "[forward_channels][extension]") {
  auto model = create_model("vgg16", Value(Dict{{"include_top", false}}), "random");
  ChannelForward* extension = query<ChannelForward>(*model);
  REQUIRE(extension != nullptr);
  CHECK(dynamic_cast<ModelBackend*>(extension) == model.get());
  // The helper takes the backend's path: bitwise what the backend itself returns.
  torch::manual_seed(3);
  const at::Tensor x = model->preprocess(torch::rand({2, 3, 48, 48}) * 255);
  const at::Tensor channels = torch::tensor({4, 9}, torch::kLong);
  CHECK(torch::equal(forward_channels(*model, x, "block1_conv2", channels),
                     extension->forward_channels(x, "block1_conv2", channels)));
}
