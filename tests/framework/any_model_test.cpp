// Every shipped technique runs on a user's own PyTorch model (the torchscript
// backend, a traced narrow torchvision ResNet from tests/fixtures), through vizrun
// as a user runs it, and `vizrun layers` lists its module paths.
#include "catch.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vizrun_host/files.h"

using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

const std::string kSource = VIZRUN_SOURCE_DIR;

std::string torchscript_config(const std::string& dir) {
  const std::string path = dir + "/exp.yaml";
  vizrun::host::write_file_atomic(
      path, "experiment: any_model\nseed: 1\ndevice: cpu\nthreads: 1\n"
            "model:\n  plugin: torchscript\n  weights: " + kSource + "/tests/fixtures/models/torchscript/resnet_small.pt\n"
            "  options: {input_size: [64, 64], classes: [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9]}\n"
            "techniques:\n"
            "  - plugin: activations\n    options: {images: [" + kSource + "/../shared/data/images/chelsea.png], layers: [layer1, layer2.0.conv2]}\n"
            "  - plugin: filter_ascent\n    options: {layers: [layer3], filters: 2, steps: 3, size: 64}\n"
            "  - plugin: gradcam\n    options: {images: [" + kSource + "/../shared/data/images/chelsea.png]}\n");
  return path;
}

}  // namespace

TEST_CASE("activations, filter_ascent and gradcam run on a traced PyTorch model", "[any_model][torchscript]") {
  const std::string dir = vizrun::testing::temp_dir("any-model");
  const std::string command = std::string(VIZRUN_BINARY) + " " + torchscript_config(dir) + " -q --out " + dir + "/run";
  REQUIRE(std::system(command.c_str()) == 0);
  const json m = json::parse(vizrun::host::read_file(dir + "/run/manifest.json"));
  CHECK(m["status"] == "complete");
  REQUIRE(m["techniques"].size() == 3);
  for (const auto& t : m["techniques"]) {
    INFO(t["id"]);
    CHECK(t["status"] == "complete");
    CHECK_FALSE(t["outputs"].empty());
  }
  // gradcam's layer: auto is the backend's last convolution, a module path.
  bool auto_layer = false;
  for (const auto& o : m["techniques"][2]["outputs"]) auto_layer |= o["meta"].value("layer", "") == "layer4.0.downsample.0";
  CHECK(auto_layer);
}

TEST_CASE("vizrun layers lists a traced model's module paths", "[any_model][torchscript]") {
  const std::string dir = vizrun::testing::temp_dir("any-model-layers");
  const std::string out = dir + "/layers.txt";
  const std::string command = std::string(VIZRUN_BINARY) + " layers " + torchscript_config(dir) + " > " + out;
  REQUIRE(std::system(command.c_str()) == 0);
  const std::string text = vizrun::host::read_file(out);
  CHECK_THAT(text, Contains("layer4.0.conv2") && Contains("basicblock") && Contains("64 x 2 x 2"));
  CHECK_THAT(text, Contains("total parameters: 79,682"));
}

namespace {

std::string keras_config(const std::string& dir, const std::string& file) {
  const std::string path = dir + "/exp.yaml";
  vizrun::host::write_file_atomic(
      path, "experiment: any_keras_model\nseed: 1\ndevice: cpu\nthreads: 1\n"
            "model:\n  plugin: keras\n  weights: " + kSource + "/tests/fixtures/models/keras/" + file + "\n"
            "  options: {preprocessing: divide_255, classes: [dog]}\n"
            "techniques:\n"
            "  - plugin: activations\n    options: {images: [" + kSource + "/../shared/data/images/chelsea.png], layers: [conv2d, max_pooling2d_1, conv2d_3]}\n"
            "  - plugin: gradcam\n    options: {images: [" + kSource + "/../shared/data/images/chelsea.png]}\n");
  return path;
}

}  // namespace

TEST_CASE("activations and gradcam run on the book's cats-vs-dogs Keras model, .keras and .h5", "[any_model][keras]") {
  for (const char* file : {"cats_vs_dogs.keras", "cats_vs_dogs.h5"}) {
    INFO(file);
    const std::string dir = vizrun::testing::temp_dir("any-keras-model");
    const std::string command = std::string(VIZRUN_BINARY) + " " + keras_config(dir, file) + " -q --out " + dir + "/run";
    REQUIRE(std::system(command.c_str()) == 0);
    const json m = json::parse(vizrun::host::read_file(dir + "/run/manifest.json"));
    CHECK(m["status"] == "complete");
    REQUIRE(m["techniques"].size() == 2);
    for (const auto& t : m["techniques"]) {
      INFO(t["id"]);
      CHECK(t["status"] == "complete");
      CHECK_FALSE(t["outputs"].empty());
    }
    // gradcam's layer: auto is the model's last Conv2D, under its Keras name.
    bool auto_layer = false;
    for (const auto& o : m["techniques"][1]["outputs"]) auto_layer |= o["meta"].value("layer", "") == "conv2d_3";
    CHECK(auto_layer);
  }
}

TEST_CASE("vizrun layers lists a Keras model's layers under their Keras names", "[any_model][keras]") {
  const std::string dir = vizrun::testing::temp_dir("any-keras-layers");
  const std::string out = dir + "/layers.txt";
  const std::string command = std::string(VIZRUN_BINARY) + " layers " + keras_config(dir, "cats_vs_dogs.keras") + " > " + out;
  REQUIRE(std::system(command.c_str()) == 0);
  const std::string text = vizrun::host::read_file(out);
  CHECK_THAT(text, Contains("max_pooling2d_3") && Contains("conv2d") && Contains("32 x 2 x 2"));
  CHECK_THAT(text, Contains("total parameters: 31,921"));
}

TEST_CASE("a malformed Keras model file stops vizrun with one line", "[any_model][keras]") {
  const std::string dir = vizrun::testing::temp_dir("any-keras-bad");
  const std::string bad = dir + "/bad.keras";
  vizrun::host::write_file_atomic(bad, std::string("PK\x03\x04", 4) + "not really a zip");
  const std::string config = keras_config(dir, "cats_vs_dogs.keras");
  std::string text = vizrun::host::read_file(config);
  text.replace(text.find(kSource + "/tests/fixtures/models/keras/cats_vs_dogs.keras"),
               (kSource + "/tests/fixtures/models/keras/cats_vs_dogs.keras").size(), bad);
  vizrun::host::write_file_atomic(config, text);
  const std::string err = dir + "/stderr.txt";
  const int status = std::system((std::string(VIZRUN_BINARY) + " " + config + " -q --out " + dir + "/run 2> " + err).c_str());
  CHECK(status != 0);
  const std::string message = vizrun::host::read_file(err);
  // One error line naming the file and the reason; the host adds where the manifest is.
  const std::string first = message.substr(0, message.find('\n'));
  CHECK_THAT(first, Contains("vizrun: error:") && Contains("bad.keras is not a readable .keras zip"));
  CHECK_THAT(message.substr(first.size()), !Contains("error"));
}
