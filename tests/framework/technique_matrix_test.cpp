// Every shipped technique on every model backend, through `vizrun` as a user runs it:
// the declared backends (VGG16, ResNet50V2 on seeded random weights, the demo convnet)
// and users' own files (TorchScript ResNet and MobileNetV3, Keras MobileNetV2-like with
// depthwise/separable convolutions, Inception-like with Concatenate, cats-vs-dogs).
// Small settings: the point is that each pair runs and writes what it should; the
// numbers are checked against references in the models' and techniques' own tests.
#include "catch.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vizrun_host/files.h"

using nlohmann::json;

namespace {

const std::string kSource = VIZRUN_SOURCE_DIR;
const std::string kPhoto = kSource + "/../shared/data/images/chelsea.png";

struct Backend {
  const char* name;
  std::string model;  ///< the YAML of `model:`, indented by two
};

std::vector<Backend> backends() {
  const std::string fixtures = kSource + "/tests/fixtures/models/";
  return {
      {"vgg16", "  plugin: vgg16\n  weights: random\n"},
      {"resnet50v2", "  plugin: resnet50v2\n  weights: random\n"},
      {"small_convnet (demo)", "  plugin: small_convnet\n  weights: " + kSource +
                                   "/examples/fashion_mnist/fashion_mnist.safetensors\n  options: {architecture: " +
                                   kSource + "/configs/models/fashion_mnist.yaml}\n"},
      {"torchscript resnet", "  plugin: torchscript\n  weights: " + fixtures + "torchscript/resnet_small.pt\n"
                             "  options: {input_size: [64, 64]}\n"},
      {"torchscript mobilenet", "  plugin: torchscript\n  weights: " + fixtures + "torchscript/mobilenet_small.pt\n"
                                "  options: {input_size: [64, 64]}\n"},
      {"keras mobilenet-like", "  plugin: keras\n  weights: " + fixtures + "keras/mobilenet_like.keras\n"},
      {"keras concat", "  plugin: keras\n  weights: " + fixtures + "keras/concat_net.keras\n"},
      {"keras cats-vs-dogs", "  plugin: keras\n  weights: " + fixtures + "keras/cats_vs_dogs.keras\n"},
  };
}

}  // namespace

TEST_CASE("activations, filter_ascent and gradcam run on every backend", "[matrix]") {
  for (const auto& backend : backends()) {
    INFO(backend.name);
    const std::string dir = vizrun::testing::temp_dir("matrix");
    vizrun::host::write_file_atomic(
        dir + "/exp.yaml",
        "experiment: matrix\nseed: 1\ndevice: cpu\nthreads: 2\nmodel:\n" + backend.model +
            "techniques:\n"
            "  - plugin: activations\n    options: {images: [" + kPhoto + "], layers: 2}\n"
            "  - plugin: filter_ascent\n    options: {layers: 1, filters: 2, steps: 2, size: model, filter_images: false}\n"
            "  - plugin: gradcam\n    options: {images: [" + kPhoto + "]}\n");
    // validate first: what it accepts must run.
    const std::string vizrun = "'" + std::string(VIZRUN_BINARY) + "' ";
    REQUIRE(std::system((vizrun + "validate " + dir + "/exp.yaml >/dev/null").c_str()) == 0);
    REQUIRE(std::system((vizrun + dir + "/exp.yaml -q --out " + dir + "/run").c_str()) == 0);
    const json m = json::parse(vizrun::host::read_file(dir + "/run/manifest.json"));
    CHECK(m["status"] == "complete");
    REQUIRE(m["techniques"].size() == 3);
    for (const auto& t : m["techniques"]) {
      INFO(t["plugin"]);
      CHECK(t["status"] == "complete");
      // activations: a grid per layer (2); filter_ascent: the layer's grid; gradcam: heatmap, overlay, array
      const std::size_t expected = t["plugin"] == "activations" ? 2 : t["plugin"] == "filter_ascent" ? 1 : 3;
      CHECK(t["outputs"].size() == expected);
    }
  }
}
