// The torchscript backend against PyTorch itself: models traced by
// tests/oracles/models/torchscript_oracle.py (a narrow torchvision ResNet and
// mobilenet_v3_small), module outputs as forward hooks saw them and input
// gradients of a channel mean as torch.autograd computed them. The first test runs on
// VIZRUN_TEST_DEVICE's GPU too (tests/support/oracle_device.h).
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "catch_torch.h"
#include "model_test_util.h"
#include "oracle_device.h"

using namespace vizrun;
using namespace vizrun::models::testing;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<ModelBackend> traced(const std::string& name, Dict options = {}, c10::Device device = c10::kCPU) {
  options.emplace("input_size", List{64, 64});
  return create_model("torchscript", Value(options), fixture_path("torchscript/" + name + ".pt"), nullptr, 0, device);
}

}  // namespace

TEST_CASE("torchscript: module outputs and input gradients equal PyTorch's", "[models][torchscript][oracle]") {
  VIZRUN_ORACLE_DEVICE(on);
  // Outputs within 1e-4 relative everywhere; input gradients (a map) within 1e-3 on a GPU.
  const double grad_tolerance = technique_map_tolerance(on, 1e-4);
  for (const char* name : {"resnet_small", "mobilenet_small"}) {
    INFO(name << " on " << on.device);
    const auto fixture = read_json(fixture_path(std::string("torchscript_") + name + ".json"));
    auto model = traced(name, {}, on.device);
    const at::Tensor pixels = formula_pixels(64, 64).to(on.device);
    for (const auto& [tap, reference] : fixture["taps"].items()) {
      INFO(tap);
      torch::autograd::AutoGradMode grad(true);
      const at::Tensor x = model->preprocess(pixels).requires_grad_(true);
      const at::Tensor y = model->forward(x, {tap}).at(tap);
      CHECK(relative_error(reference["output"], y.detach()) < 1e-4);
      const at::Tensor g = torch::autograd::grad({y.select(1, 0).mean()}, {x})[0];
      CHECK(relative_error(reference["grad_channel0_mean"], g) < grad_tolerance);
    }
    torch::NoGradGuard no_grad;
    const at::Tensor logits = model->forward(model->preprocess(pixels), {"output"}).at("output");
    CHECK(relative_error(fixture["logits"], logits) < 1e-4);
  }
}

TEST_CASE("torchscript: several taps in one pass equal each alone, and a tap is not changed by later in-place ops", "[models][torchscript]") {
  torch::NoGradGuard no_grad;
  auto model = traced("resnet_small");
  const at::Tensor x = model->preprocess(formula_pixels(64, 64));
  // bn1 is followed by an in-place ReLU in torchvision: its tap must keep the negative values.
  const auto all = model->forward(x, {"bn1", "layer2", "fc", "output"});
  CHECK(all.at("bn1").lt(0).any().item<bool>());
  for (const char* tap : {"bn1", "layer2", "fc"}) CHECK(torch::equal(all.at(tap), model->forward(x, {tap}).at(tap)));
  CHECK(torch::equal(all.at("fc"), all.at("output")));
}

TEST_CASE("torchscript: layers are module paths in model order, with shapes at any size and parameter counts", "[models][torchscript]") {
  auto model = traced("resnet_small");
  const auto layers = model->layers();
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.name);
  const auto at = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  REQUIRE(at("conv1") < at("layer1.0.conv2"));
  REQUIRE(at("layer1.0.conv2") < at("layer1"));
  REQUIRE(at("layer4") < at("fc"));
  CHECK(names.back() == "output");
  CHECK(std::find(names.begin(), names.end(), "layer1.0.relu") == names.end());  // called twice: no one output
  CHECK(layers[at("layer4")].shape == std::vector<std::int64_t>{64, 2, 2});
  CHECK(layers[at("layer4")].type == "sequential");
  CHECK(model->layers_for(128, 128)[at("layer4")].shape == std::vector<std::int64_t>{64, 4, 4});
  CHECK(model->last_conv_layer() == "layer4.0.downsample.0");
  std::int64_t sum_of_leaves = 0;
  for (const auto& d : layer_details(*model, 64, 64)) {
    if (d.name == "fc" || d.name == "conv1" || d.name == "bn1" || d.name.rfind("layer", 0) == 0 && d.name.size() == 6) {
      sum_of_leaves += d.parameters;
    }
  }
  CHECK(sum_of_leaves == model->parameter_count());  // conv1 + bn1 + layer1..4 + fc hold every parameter
}

TEST_CASE("torchscript: bad files, names and sizes give one line", "[models][torchscript]") {
  CHECK_THROWS_WITH(create_model("torchscript", Value(Dict{}), "random"), Contains("must name the .pt file"));
  const std::string junk = temp_dir("torchscript") + "/junk.pt";
  std::ofstream(junk) << "not a zip";
  CHECK_THROWS_WITH(create_model("torchscript", Value(Dict{}), junk), Contains("is not a TorchScript model"));
  auto model = traced("resnet_small");
  const at::Tensor x = torch::zeros({1, 3, 64, 64});
  CHECK_THROWS_WITH(model->forward(x, {"layer4.0.conv3"}), Contains("no layer named 'layer4.0.conv3'") && Contains("layer4.0.conv2"));
  CHECK_THROWS_WITH(model->layers_for(16, 16), Contains("at least 32 pixels"));
  auto fixed = traced("resnet_small", Dict{{"fixed_size", true}});
  CHECK_THROWS_WITH(fixed->forward(torch::zeros({1, 3, 96, 96}), {"fc"}), Contains("runs only at 64x64"));
}

TEST_CASE("torchscript: a model whose weights hold NaN is refused at load, naming the tensor", "[models][torchscript][hostile]") {
  torch::jit::Module module = torch::jit::load(fixture_path("torchscript/resnet_small.pt"));
  for (const auto& p : module.named_parameters()) {
    if (p.name != "layer2.0.conv1.weight") continue;
    torch::NoGradGuard no_grad;
    p.value.flatten()[0] = std::nan("");
  }
  const std::string file = temp_dir("torchscript-nan") + "/nan.pt";
  module.save(file);
  CHECK_THROWS_WITH(create_model("torchscript", Value(Dict{{"input_size", List{64, 64}}}), file),
                    Contains("torchscript: " + file + ": parameter 'layer2.0.conv1.weight' holds 1 NaN and 0 infinite values of") &&
                        Contains("the weights are damaged"));
}
