// `vizrun validate` knows the model: layer names, image paths, classes, filters and
// sizes are checked against the model's graph (built without weights where the backend
// can), at the option's file:line:column, so that a config that validates does not
// fail later for these reasons.
#include "catch.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "test_support.h"
#include "vizrun_host/files.h"

using Catch::Matchers::Contains;

namespace {

const std::string kSource = VIZRUN_SOURCE_DIR;

struct Result {
  int exit_code;
  std::string err, out;
};

Result validate(const std::string& yaml, const std::string& env = "") {
  const std::string dir = vizrun::testing::temp_dir("validate-model");
  vizrun::host::write_file_atomic(dir + "/exp.yaml", yaml);
  const std::string command = env + " '" + std::string(VIZRUN_BINARY) + "' validate " + dir + "/exp.yaml >" + dir +
                              "/out 2>" + dir + "/err";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, vizrun::host::read_file(dir + "/err"),
          vizrun::host::read_file(dir + "/out")};
}

/// The shipped demo model and photos, with `techniques` (YAML, indented by two).
std::string demo(const std::string& techniques) {
  return "experiment: check\nmodel:\n  plugin: small_convnet\n"
         "  weights: " + kSource + "/examples/fashion_mnist/fashion_mnist.safetensors\n"
         "  options: {architecture: " + kSource + "/configs/models/fashion_mnist.yaml}\n"
         "techniques:\n" + techniques;
}

const std::string kBoot = kSource + "/data/fashion_mnist/9_ankle_boot.png";

}  // namespace

TEST_CASE("validate passes a config whose options fit the model", "[validate][model]") {
  const Result r = validate(demo("  - plugin: gradcam\n    options: {images: [" + kBoot + "], classes: [Sandal, 3]}\n"
                                 "  - plugin: activations\n    options: {images: [" + kBoot + "], layers: all_conv}\n"
                                 "  - plugin: filter_ascent\n    options: {layers: [conv2d_2], filters: [0, 31], size: 28}\n"));
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("valid"));
}

TEST_CASE("validate names an unknown layer at its line, with close names", "[validate][model]") {
  const Result r = validate(demo("  - plugin: gradcam\n    options:\n      images: [" + kBoot + "]\n      layer: conv2d_9\n"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("exp.yaml:10:") && Contains("conv2d_9") && Contains("did you mean"));
}

TEST_CASE("validate refuses an unknown class name and a class id past the model's outputs", "[validate][model]") {
  const Result name = validate(demo("  - plugin: gradcam\n    options:\n      images: [" + kBoot + "]\n      classes: [Sandle]\n"));
  CHECK(name.exit_code == 2);
  CHECK_THAT(name.err, Contains("exp.yaml:10:") && Contains("Sandle") && Contains("Sandal"));
  const Result id = validate(demo("  - plugin: gradcam\n    options:\n      images: [" + kBoot + "]\n      classes: [12]\n"));
  CHECK(id.exit_code == 2);
  CHECK_THAT(id.err, Contains("exp.yaml:10:") && Contains("class 12 is out of range") && Contains("0..9"));
}

TEST_CASE("validate refuses images that match no file, filters past a layer's channels and sizes the model cannot take", "[validate][model]") {
  const Result images = validate(demo("  - plugin: activations\n    options:\n      images: [" + kSource + "/data/nothing_here_*.png]\n"));
  CHECK(images.exit_code == 2);
  CHECK_THAT(images.err, Contains("exp.yaml:9:") && Contains("matches no file"));
  const Result filters = validate(demo("  - plugin: filter_ascent\n    options:\n      layers: [conv2d_1]\n      filters: [0, 500]\n"));
  CHECK(filters.exit_code == 2);
  CHECK_THAT(filters.err, Contains("exp.yaml:10:") && Contains("500") && Contains("out of range"));
  const Result size = validate(demo("  - plugin: filter_ascent\n    options:\n      layers: [conv2d_1]\n      size: 3\n"));
  CHECK(size.exit_code == 2);
  CHECK_THAT(size.err, Contains("exp.yaml:10:") && Contains("size"));
}

TEST_CASE("validate builds VGG16 from its architecture alone: weights: imagenet is never fetched", "[validate][model]") {
  const std::string cache = vizrun::testing::temp_dir("validate-cache");
  const std::string yaml = "experiment: vgg\nmodel: {plugin: vgg16, weights: imagenet}\ntechniques:\n"
                           "  - plugin: gradcam\n    options:\n      images: [" + kSource + "/../shared/data/images/chelsea.png]\n"
                           "      layer: block5_conv4\n";
  // An unreachable server: a download attempt would fail validate.
  const Result r = validate(yaml, "VIZRUN_CACHE=" + cache + " VIZRUN_WEIGHTS_BASE_URL=http://127.0.0.1:9");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("exp.yaml:7:") && Contains("block5_conv4") && Contains("block5_conv3"));
  CHECK(std::filesystem::is_empty(cache));
}
