// Fidelity against independent references (fixtures from tests/oracles/models):
// Keras' VGG16, ResNet50V2 and the book's convnet from the legacy .h5 layout,
// a Keras-written Sequential .h5, and torchvision's VGG16 through safetensors.
// On the CPU, or on a GPU with VIZRUN_TEST_DEVICE=cuda (tests/support/oracle_device.h).

#include "catch_torch.h"
#include <yaml-cpp/yaml.h>

#include <iostream>
#include <map>

#include "model_test_util.h"
#include "oracle_device.h"
#include "vizrun/error.h"
#include "vizrun_models/keras_h5_writer.h"
#include "vizrun_models/safetensors.h"

using namespace vizrun;
using namespace vizrun::models;
using namespace vizrun::models::testing;

Value book_options();  // test_small_convnet.cpp

namespace {

constexpr double kTolerance = 1e-4;  // relative, on the CPU and on a GPU

void compare(ModelBackend& model, const nlohmann::json& fixture, const at::Tensor& pixels, const std::string& label) {
  std::vector<std::string> taps;
  for (auto it = fixture["layers"].begin(); it != fixture["layers"].end(); ++it) taps.push_back(it.key());
  torch::NoGradGuard no_grad;
  auto out = model.forward(model.preprocess(pixels.to(model.device())), taps);
  // Keras flattens in H,W,C order, LibTorch (and vizrun) in C,H,W order: bring the
  // flat outputs of flatten (and of dropout after it) into Keras' order to compare.
  std::map<std::string, std::vector<std::int64_t>> flattened_from;
  std::vector<std::int64_t> last_map;
  for (const auto& l : model.layers()) {
    if (l.shape.size() == 3) last_map = l.shape;
    else if ((l.type == "flatten" || l.type == "dropout") && !last_map.empty()) flattened_from[l.name] = last_map;
  }
  double worst = 0;
  for (const auto& t : taps) {
    INFO(label << " layer " << t);
    at::Tensor ours = out.at(t);
    if (flattened_from.count(t)) {
      const auto& chw = flattened_from[t];
      ours = ours.view({ours.size(0), chw[0], chw[1], chw[2]}).permute({0, 2, 3, 1}).reshape({ours.size(0), -1});
    }
    double e = relative_error(fixture["layers"][t], ours);
    worst = std::max(worst, e);
    std::cout << "oracle " << label << " on " << model.device() << " " << t << " max relative error " << e << "\n";
    CHECK(e <= kTolerance);
  }
  std::cout << "oracle " << label << " on " << model.device() << " worst " << worst << std::endl;
}

std::string write_from_layout(const std::string& layout_fixture, bool keras1_names, const std::string& file,
                              bool keras3_weights_layout = false) {
  auto layout = read_json(fixture_path(layout_fixture));
  std::string path = temp_dir("oracle") + "/" + file;
  KerasH5WriteOptions o;
  o.variable_length_strings = !keras1_names;  // Keras 1/2 wrote fixed-length names, Keras 3 variable-length
  o.naming = keras1_names ? "keras1" : "keras3";
  o.keras3_weights_layout = keras3_weights_layout;
  write_keras_h5_layers(path, layout_with_formula(layout, keras1_names), o);
  return path;
}

}  // namespace

TEST_CASE("vgg16 equals Keras for the official file layout (Keras-1 names)", "[models][oracle][vgg16]") {
  VIZRUN_ORACLE_DEVICE(on);
  auto fixture = read_json(fixture_path("keras_vgg16_top.json"));
  std::string path = write_from_layout("keras_vgg16_h5_layout.json", true, "vgg16_top.h5");
  SimpleHost host;
  auto model = create_model("vgg16", Value(Dict{}), path, &host, 0, on.device);
  CHECK(model->weights_info().file == path);
  CHECK(model->weights_info().sha256.size() == 64);
  CHECK(model->weights_info().skipped.empty());
  compare(*model, fixture, formula_pixels(224, 224), "keras vgg16");

  // The same file into the headless variant: the top is skipped and listed.
  auto headless = create_model("vgg16", Value(Dict{{"include_top", false}}), path, &host, 0, on.device);
  auto skipped = headless->weights_info().skipped;
  CHECK((skipped == std::vector<std::string>{"fc1/fc1_W_1:0", "fc1/fc1_b_1:0", "fc2/fc2_W_1:0", "fc2/fc2_b_1:0",
                                            "predictions/predictions_W_1:0", "predictions/predictions_b_1:0"}));
}

TEST_CASE("resnet50v2 equals Keras, including conv3_block4_out", "[models][oracle][resnet50v2]") {
  VIZRUN_ORACLE_DEVICE(on);
  std::string path = write_from_layout("keras_resnet50v2_h5_layout.json", false, "resnet50v2_top.h5");
  SimpleHost host;
  auto top = create_model("resnet50v2", Value(Dict{}), path, &host, 0, on.device);
  compare(*top, read_json(fixture_path("keras_resnet50v2_top.json")), formula_pixels(224, 224), "keras resnet50v2");
  auto notop = create_model("resnet50v2",
                            Value(Dict{{"include_top", false}, {"input_height", 180}, {"input_width", 180}}), path, &host,
                            0, on.device);
  CHECK((notop->weights_info().skipped == std::vector<std::string>{"predictions/predictions/kernel", "predictions/predictions/bias"}));
  compare(*notop, read_json(fixture_path("keras_resnet50v2_notop180.json")), formula_pixels(180, 180),
          "keras resnet50v2 notop 180");
}

TEST_CASE("vgg16 and resnet50v2 load Keras 3 .weights.h5 files (layers/<class>/vars/<i>) and equal Keras",
          "[models][oracle][keras3]") {
  VIZRUN_ORACLE_DEVICE(on);
  SimpleHost host;
  // Groups named by class (conv2d_12, batch_normalization_3): only the `name` attribute of
  // each vars group says which layer it is, as in the files Keras 3's save_weights writes.
  const std::string vgg = write_from_layout("keras_vgg16_h5_layout.json", false, "vgg16.weights.h5", true);
  auto vgg16 = create_model("vgg16", Value(Dict{}), vgg, &host, 0, on.device);
  CHECK(vgg16->weights_info().skipped.empty());
  compare(*vgg16, read_json(fixture_path("keras_vgg16_top.json")), formula_pixels(224, 224), "keras3 vgg16");
  const std::string resnet = write_from_layout("keras_resnet50v2_h5_layout.json", false, "resnet50v2.weights.h5", true);
  auto resnet50v2 = create_model("resnet50v2", Value(Dict{}), resnet, &host, 0, on.device);
  compare(*resnet50v2, read_json(fixture_path("keras_resnet50v2_top.json")), formula_pixels(224, 224), "keras3 resnet50v2");
}

TEST_CASE("small_convnet equals Keras for the book's model", "[models][oracle][small_convnet]") {
  VIZRUN_ORACLE_DEVICE(on);
  auto fixture = read_json(fixture_path("keras_dlwp_cats_vs_dogs.json"));
  CHECK(fixture["params"] == 3453121);
  std::string path = write_from_layout("keras_dlwp_cats_vs_dogs_h5_layout.json", false, "dlwp.h5");
  auto model = create_model("small_convnet", book_options(), path, nullptr, 0, on.device);
  compare(*model, fixture, formula_pixels(150, 150), "keras dlwp convnet");
}

TEST_CASE("small_convnet loads a Sequential model saved by Keras itself", "[models][oracle][small_convnet]") {
  VIZRUN_ORACLE_DEVICE(on);
  auto fixture = read_json(fixture_path("keras_tiny_sequential.json"));
  List layers{Value(Dict{{"type", "conv2d"}, {"filters", 8}, {"kernel", 3}, {"activation", "relu"}}),
              Value(Dict{{"type", "max_pool"}, {"pool", 2}}),
              Value(Dict{{"type", "conv2d"}, {"filters", 16}, {"kernel", 3}, {"stride", 2}, {"padding", "same"},
                         {"activation", "relu"}}),
              Value(Dict{{"type", "batch_norm"}}),
              Value(Dict{{"type", "avg_pool"}, {"pool", 2}, {"padding", "same"}}),
              Value(Dict{{"type", "flatten"}}),
              Value(Dict{{"type", "dropout"}, {"rate", 0.3}}),
              Value(Dict{{"type", "dense"}, {"units", 16}, {"activation", "tanh"}}),
              Value(Dict{{"type", "dense"}, {"units", 3}, {"activation", "softmax"}})};
  SimpleHost host;
  auto model = create_model("small_convnet",
                            Value(Dict{{"layers", layers},
                                       {"input", Value(Dict{{"height", 32}, {"width", 32}, {"channels", 3}})}}),
                            fixture_path("keras_tiny_sequential.h5"), &host, 0, on.device);
  CHECK(model->parameter_count() == fixture["params"].get<std::int64_t>());
  // Keras named the layers conv2d, max_pooling2d, ... in its session: matched by order.
  REQUIRE_FALSE(host.logs.empty());
  CHECK_THAT(host.logs.back(), Catch::Contains("matched the 5 weighted layers by order"));
  // Rename the fixture's Keras names to ours (same positions).
  nlohmann::json renamed = fixture;
  renamed["layers"] = nlohmann::json::object();
  auto ours = model->layers();
  const auto& keras_names = fixture["keras_layer_names"];
  for (std::size_t i = 0; i < keras_names.size(); ++i)
    renamed["layers"][ours[i].name] = fixture["layers"][keras_names[i].get<std::string>()];
  compare(*model, renamed, formula_pixels(32, 32), "keras tiny sequential");
}

TEST_CASE("vgg16 equals torchvision through safetensors", "[models][oracle][vgg16][safetensors]") {
  VIZRUN_ORACLE_DEVICE(on);
  auto fixture = read_json(fixture_path("torchvision_vgg16.json"));
  std::vector<SafeTensorOut> tensors;
  int p = 0;
  for (const auto& entry : fixture["state_dict"]) {
    std::string name = entry[0].get<std::string>();
    Shape shape = entry[1].get<Shape>();
    bool weight = name.size() > 6 && name.compare(name.size() - 6, 6, "weight") == 0;
    // The oracle's formula in LibTorch layout: fan_in = numel / shape[0]. Reuse the
    // Keras-layout generator by moving the output dimension last.
    Shape as_keras = shape;
    std::rotate(as_keras.begin(), as_keras.begin() + 1, as_keras.end());
    tensors.push_back({name, shape, formula(p++, as_keras, weight ? "kernel" : "bias")});
  }
  std::string path = temp_dir("oracle") + "/vgg16_torchvision.safetensors";
  write_safetensors(path, tensors);
  tensors.clear();
  auto model = create_model("vgg16", Value(Dict{{"preprocessing", "torch"}}), path, nullptr, 0, on.device);
  compare(*model, fixture, formula_pixels(224, 224), "torchvision vgg16");
}
