// `vizrun layers`: every layer of a model with its type, output shape, parameters and
// inputs, for the config's model or any model plugin. Parameter counts are checked
// against Keras's own summaries of VGG16 and ResNet50V2 (keras.io application table).
#include "catch.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vizrun_host/files.h"

using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

struct Result {
  int exit_code;
  std::string out, err;
};

Result run_vizrun(const std::string& args) {
  const std::string io = vizrun::testing::temp_dir("layers-io");
  const std::string command = "'" + std::string(VIZRUN_BINARY) + "' " + args + " >" + io + "/out 2>" + io + "/err";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, vizrun::host::read_file(io + "/out"),
          vizrun::host::read_file(io + "/err")};
}

const json* layer(const json& summary, const std::string& name) {
  for (const auto& l : summary["layers"]) {
    if (l["name"] == name) return &l;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("layers of VGG16: shapes, per-layer and total parameters as Keras counts them", "[cli][layers]") {
  const Result r = run_vizrun("layers --model vgg16 --json");
  REQUIRE(r.exit_code == 0);
  const json s = json::parse(r.out);
  CHECK(s["parameters"] == 138357544);  // Keras: VGG16 total params 138,357,544
  CHECK(s["weights"] == "none (architecture only)");  // no weights read or fetched to list layers
  std::int64_t sum = 0;
  for (const auto& l : s["layers"]) sum += l["parameters"].get<std::int64_t>();
  CHECK(sum == 138357544);
  const json* conv = layer(s, "block1_conv1");
  REQUIRE(conv);
  CHECK((*conv)["shape"] == json::array({64, 224, 224}));
  CHECK((*conv)["parameters"] == 3 * 3 * 3 * 64 + 64);
  CHECK((*conv)["inputs"] == json::array({"input"}));
  CHECK(s["last_conv_layer"] == "block5_conv3");
  CHECK(s["classes"] == 1000);
}

TEST_CASE("layers of a Keras model file: its architecture, without reading or hashing its weights", "[cli][layers][keras]") {
  const std::string file = std::string(VIZRUN_SOURCE_DIR) + "/tests/fixtures/models/keras/cats_vs_dogs.keras";
  const Result r = run_vizrun("layers --model keras --weights '" + file + "' --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json s = json::parse(r.out);
  CHECK(s["weights"] == "none (architecture only)");
  CHECK(layer(s, "conv2d") != nullptr);
  CHECK(s["layers"].size() > 5);
  // --weights is relative to the working directory (not to the embedded default's configs/).
  const std::string in_source = "cd '" + std::string(VIZRUN_SOURCE_DIR) + "' && '" + VIZRUN_BINARY +
                                "' layers --model keras --weights tests/fixtures/models/keras/cats_vs_dogs.keras >/dev/null 2>&1";
  CHECK(std::system(in_source.c_str()) == 0);
}

TEST_CASE("layers at another size list branches, and a flatten classifier only where its fan-in fits", "[cli][layers]") {
  const Result full = run_vizrun("layers --model resnet50v2 --json");
  REQUIRE(full.exit_code == 0);
  CHECK(json::parse(full.out)["parameters"] == 25613800);  // Keras: ResNet50V2 total params 25,613,800

  const Result small = run_vizrun("layers --model resnet50v2 --size 96 --json");
  REQUIRE(small.exit_code == 0);
  const json s = json::parse(small.out);
  CHECK(s["input"] == json::array({3, 96, 96}));
  const json* add = layer(s, "conv2_block1_out");
  REQUIRE(add);
  CHECK((*add)["type"] == "add");
  CHECK((*add)["inputs"].size() == 2);
  REQUIRE(layer(s, "predictions"));  // after a global average pool: any size
  CHECK((*layer(s, "predictions"))["shape"] == json::array({1000}));

  const Result vgg = run_vizrun("layers --model vgg16 --size 96 --json");
  REQUIRE(vgg.exit_code == 0);
  const json v = json::parse(vgg.out);
  CHECK(layer(v, "block5_pool"));
  CHECK_FALSE(layer(v, "fc1"));  // after a flatten: its fan-in fits only 224 x 224
}

TEST_CASE("layers of the built-in demo print a table with what gradcam picks", "[cli][layers]") {
  const Result r = run_vizrun("layers");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("layer") && Contains("output shape") && Contains("params"));
  CHECK_THAT(r.out, Contains("conv2d_1         conv2d    16 x 28 x 28      160  input"));
  CHECK_THAT(r.out, Contains("total parameters: 60,874"));
  CHECK_THAT(r.out, Contains("last convolution: conv2d_3 (what gradcam's layer: auto takes)"));
}

TEST_CASE("layers refuses an unknown plugin and a size the model cannot take, on one line", "[cli][layers]") {
  const Result unknown = run_vizrun("layers --model vgg61");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Contains("vgg61") && Contains("vgg16"));
  const Result tiny = run_vizrun("layers --model vgg16 --size 8");
  CHECK(tiny.exit_code == 2);
  CHECK_THAT(tiny.err, Contains("at least 32 pixels"));
  CHECK(std::count(tiny.err.begin(), tiny.err.end(), '\n') == 1);
}

TEST_CASE("a model plugin's page points to vizrun layers", "[cli][layers]") {
  const Result r = run_vizrun("plugins vgg16");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("vizrun layers --model vgg16"));
}
