// The shipped seed configs: each validates, and each runs end to end through the
// `vizrun` executable with overrides that make it small (random weights, few
// filters, small pictures, few steps).
#include "catch.h"

#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_support.h"

using json = nlohmann::json;

namespace {

struct Result {
  int exit_code;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result vizrun_cli(const std::string& args) {
  const std::string dir = vizrun::testing::temp_dir("tech-cli");
  const std::string command = std::string(VIZRUN_BINARY) + " " + args + " >" + dir + "/out 2>" + dir + "/err";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir + "/err") + slurp(dir + "/out")};
}

std::string config(const std::string& name) { return std::string(VIZRUN_SOURCE_DIR) + "/configs/" + name + ".yaml"; }

json run_small(const std::string& name, const std::vector<std::string>& sets) {
  const std::string out = vizrun::testing::temp_dir("tech-e2e") + "/run";
  std::string args = "run " + config(name) + " --out " + out + " -q --set model.weights=random";
  for (const auto& s : sets) args += " --set '" + s + "'";
  const Result r = vizrun_cli(args);
  INFO(name << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  const json m = json::parse(slurp(out + "/manifest.json"));
  CHECK(m["status"] == "complete");
  return m;
}

std::size_t outputs_of(const json& manifest, std::size_t technique) {
  return manifest["techniques"][technique]["outputs"].size();
}

}  // namespace

TEST_CASE("every seed config validates", "[configs]") {
  for (const char* name : {"vgg16_all_layers", "dlwp_filters", "dlwp_activations", "dlwp_gradcam",
                           "keras_io_resnet50v2", "dream_of_cats"}) {
    const Result r = vizrun_cli("validate " + config(name));
    INFO(name << ": " << r.err);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("vgg16_all_layers runs small: every conv layer, 2 filters", "[configs][e2e]") {
  const json m = run_small("vgg16_all_layers", {"techniques.0.options.filters=2", "techniques.0.options.size=32",
                                                "techniques.0.options.steps=2"});
  // 13 layers x (2 filter images + 1 grid)
  CHECK(outputs_of(m, 0) == 13 * 3);
  CHECK(m["techniques"][0]["records"]["final_losses"].size() == 13);
}

TEST_CASE("dlwp_filters runs small", "[configs][e2e]") {
  const json m = run_small("dlwp_filters", {"techniques.0.options.filters=2", "techniques.0.options.size=32",
                                            "techniques.0.options.steps=2", "techniques.1.options.size=32",
                                            "techniques.1.options.steps=2"});
  CHECK(outputs_of(m, 0) == 5 * 3);
  CHECK(outputs_of(m, 1) == 2);
}

TEST_CASE("dlwp_activations runs with random weights", "[configs][e2e]") {
  const json m = run_small("dlwp_activations", {});
  CHECK(outputs_of(m, 0) == 8);           // one grid per layer
  CHECK(outputs_of(m, 1) == 1 + 1 + 32);  // grid, raw array, 32 channels
}

TEST_CASE("dlwp_gradcam runs with random weights", "[configs][e2e]") {
  const json m = run_small("dlwp_gradcam", {});
  CHECK(outputs_of(m, 0) == 3);  // heatmap .npy, heatmap image, overlay
  CHECK(m["techniques"][0]["records"]["predictions"][0]["top"].size() == 3);
}

TEST_CASE("keras_io_resnet50v2 runs small", "[configs][e2e]") {
  const json m = run_small("keras_io_resnet50v2", {"techniques.0.options.filters=2", "techniques.0.options.size=96",
                                                   "techniques.0.options.steps=2"});
  CHECK(outputs_of(m, 0) == 3);
}

TEST_CASE("dream_of_cats runs small", "[configs][e2e]") {
  const json m = run_small("dream_of_cats", {"techniques.0.options.filters=2", "techniques.0.options.size=32",
                                             "techniques.0.options.steps=2", "techniques.1.options.size=64",
                                             "techniques.1.options.steps=2"});
  CHECK(outputs_of(m, 0) == 5 * 3);
  CHECK(outputs_of(m, 1) == 2);
}

namespace {
/// Width of a PNG from its IHDR chunk (bytes 16-19, big-endian).
std::uint32_t png_width(const std::string& path) {
  const std::string bytes = slurp(path);
  REQUIRE(bytes.size() > 24);
  std::uint32_t w = 0;
  for (int i = 16; i < 20; ++i) w = (w << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return w;
}
}  // namespace

TEST_CASE("a fixed-size model runs the layers before its classifier at other sizes", "[configs][e2e]") {
  // demo.yaml's convnet takes 28x28 as a whole (flatten, then dense); like a Keras model
  // truncated at a convolution, its convolutions run on 64x64 pictures.
  const std::string out = vizrun::testing::temp_dir("tech-e2e") + "/run";
  const Result ok = vizrun_cli("run " + config("demo") + " -q --out " + out +
                               " --set model.weights=random --set techniques.1.options.size=64"
                               " --set techniques.1.options.filters=2 --set techniques.1.options.steps=2");
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  const json m = json::parse(slurp(out + "/manifest.json"));
  bool checked = false;
  for (const auto& o : m["techniques"][1]["outputs"])
    if (o["kind"] == "image" && o["meta"].contains("filter")) {
      CHECK(png_width(out + "/" + o["path"].get<std::string>()) == 64);
      checked = true;
    }
  CHECK(checked);
  // A layer after the flatten needs the model's own size, and the error says so.
  const Result bad = vizrun_cli("run " + config("demo") + " -q --out " + out + "2 --set model.weights=random" +
                                " --set techniques.0.options.size=64 --set 'techniques.0.options.layers=[dense_1]'");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("only the layers up to") && Catch::Contains("28x28"));
}

TEST_CASE("cam_methods configs validate and run small (VGG16 random, the shipped Fashion-MNIST model)", "[configs][e2e][cam]") {
  for (const char* name : {"cam_methods", "cam_methods_fashion_mnist"}) {
    const Result r = vizrun_cli("validate " + config(name));
    INFO(name << ": " << r.err);
    CHECK(r.exit_code == 0);
  }
  // Score-CAM on VGG16 is 512 forward passes per image: the small run leaves it to the bench.
  const json vgg = run_small("cam_methods", {"techniques.0.options.methods=[gradcam, gradcam++, eigencam, ablationcam]"});
  CHECK(outputs_of(vgg, 0) == 4 * 3);
  CHECK(outputs_of(vgg, 1) == 3);
  const std::string out = vizrun::testing::temp_dir("tech-e2e") + "/fashion";
  const Result r = vizrun_cli("run " + config("cam_methods_fashion_mnist") + " -q --out " + out);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json m = json::parse(slurp(out + "/manifest.json"));
  // 10 pictures x 9 methods x 2 classes x (array, heatmap, overlay)
  CHECK(outputs_of(m, 0) == 10 * 9 * 2 * 3);
}
