// Memory safety and parameter bounds of the layer graph and of declared architectures
// (issue 13, defects 1 and 2). Run these under the sanitizer build (VIZRUN_SANITIZE=ON)
// too: the use-after-free they guard against passes a plain build by luck.

#include "catch_torch.h"

#include <fstream>

#include "model_test_util.h"
#include "vizrun/error.h"
#include "vizrun_models/backend.h"
#include "vizrun_models/graph.h"

using namespace vizrun;
using namespace vizrun::models;
using namespace vizrun::models::testing;
using B = std::pair<std::int64_t, std::int64_t>;

TEST_CASE("Graph::dense reads its input's shape safely whatever the vector's capacity", "[models][graph][asan]") {
  // Graph::dense used to keep a reference to its input node's shape across push(),
  // which reallocates the node vector whenever its capacity is reached: with k nodes
  // before the dense layer, some k hits every power of two. AddressSanitizer reported
  // a heap-use-after-free; the fan-in read from freed memory could be anything.
  for (int k = 1; k <= 17; ++k) {
    INFO(k << " layers before the dense layer");
    Graph g({2, 3, 3});
    int x = g.flatten("flatten", -1);
    for (int d = 1; d < k; ++d) x = g.dropout("dropout_" + std::to_string(d), x, 0.1);
    REQUIRE(g.nodes().size() == static_cast<std::size_t>(k));
    const int dense = g.dense("dense", x, 5);
    const auto& kernel = g.params()[static_cast<std::size_t>(g.nodes()[static_cast<std::size_t>(dense)].params[0])];
    CHECK(kernel.shape == Shape{5, 18});
    CHECK(kernel.flattened_from == Shape{2, 3, 3});
  }
}

TEST_CASE("Graph refuses windows, strides and sizes that would divide by zero or overflow", "[models][graph]") {
  Graph g({3, 8, 8});
  CHECK_THROWS_WITH(g.max_pool("p", -1, 0, 0), Catch::Contains("layer 'p' (max_pool)") && Catch::Contains("pool height must be at least 1, got 0"));
  CHECK_THROWS_WITH(g.avg_pool("p", -1, 2, 0), Catch::Contains("stride must be at least 1, got 0"));
  CHECK_THROWS_WITH(g.conv2d("c", -1, 0, 3, 3, 1, "valid", true), Catch::Contains("filters must be at least 1"));
  CHECK_THROWS_WITH(g.conv2d("c", -1, 4, 3, 0, 1, "valid", true), Catch::Contains("kernel width must be at least 1"));
  CHECK_THROWS_WITH(g.conv2d("c", -1, 4, 3, 3, -2, "same", true), Catch::Contains("stride must be at least 1, got -2"));
  CHECK_THROWS_WITH(g.conv2d("c", -1, 4, 3, 3, 1, "full", true), Catch::Contains("padding must be valid or same"));
  CHECK_THROWS_WITH(g.zero_pad("z", -1, 1, -1, 0, 0), Catch::Contains("padding must be at least 0, got -1"));
  CHECK_THROWS_WITH(g.batch_norm("b", -1, 0.0), Catch::Contains("epsilon must be a positive number"));
  // An input index that does not exist yet is refused before anything reads it.
  CHECK_THROWS_WITH(g.conv2d("c", 4, 4, 3, 3, 1, "valid", true), Catch::Contains("does not exist yet"));
  CHECK_THROWS_WITH(g.dense("d", 7, 4), Catch::Contains("does not exist yet"));
  CHECK_THROWS_WITH(g.batch_norm("b", -5, 1e-3), Catch::Contains("does not exist yet"));
  CHECK(g.nodes().empty());
  // A parameter larger than 8 GiB is refused before it is allocated.
  int f = g.flatten("flatten", -1);  // 192 values
  CHECK_THROWS_WITH(g.dense("huge", f, std::int64_t{1} << 30),
                    Catch::Contains("layer 'huge'") && Catch::Contains("kernel (1073741824, 192)") &&
                        Catch::Contains("8 GiB"));
  // The valid graph still builds and runs.
  int d = g.dense("dense", f, 4);
  CHECK(g.nodes()[static_cast<std::size_t>(d)].shape == Shape{4});
}

namespace {

/// A small_convnet built from an architecture file holding `layers` (JSON text).
std::shared_ptr<ModelBackend> from_file(const std::string& layers, const std::string& input = R"({"height": 64, "width": 64, "channels": 1})") {
  static int counter = 0;
  const std::string dir = temp_dir("bounds");
  const std::string file = "arch" + std::to_string(++counter) + ".json";
  std::ofstream(dir + "/" + file) << R"({"input": )" << input << R"(, "layers": )" << layers << "}";
  SimpleHost host(dir);
  return create_model("small_convnet", Value(Dict{{"architecture", file}}), "random", &host);
}

}  // namespace

TEST_CASE("small_convnet: an architecture file is held to the schema's bounds", "[models][small_convnet]") {
  // The architecture file is read at create time, where the schema does not reach:
  // `pool: 0` there used to pass validate and die of SIGFPE in the shape rules.
  CHECK_THROWS_WITH(from_file(R"([{"type": "max_pool", "pool": 0}])"),
                    Catch::Contains("architecture 'arch") && Catch::Contains("layer 1 ('max_pooling2d_1')") &&
                        Catch::Contains("pool must be between 1 and 64, got 0"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "avg_pool", "pool": 2, "stride": -1}])"),
                    Catch::Contains("stride must be between 0 and 64, got -1"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "conv2d", "filters": 0}])"), Catch::Contains("filters must be between 1 and 4096, got 0"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "conv2d", "filters": 4097}])"), Catch::Contains("got 4097"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "conv2d", "kernel": [3, 0]}])"), Catch::Contains("kernel must be between 1 and 64, got 0"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "conv2d", "kernel": 65}])"), Catch::Contains("kernel must be between 1 and 64, got 65"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "conv2d", "kernel": 2.5}])"), Catch::Contains("kernel must be an integer"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "global_avg_pool"}, {"type": "dense", "units": 0}])"),
                    Catch::Contains("layer 2 ('dense_1')") && Catch::Contains("units must be between 1 and 65536, got 0"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "dropout", "rate": 2}])"), Catch::Contains("rate must be a number from"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "batch_norm", "epsilon": 0}])"), Catch::Contains("epsilon must be a number above"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "conv2d", "padding": "full"}])"), Catch::Contains("padding must be valid or same"));
  CHECK_THROWS_WITH(from_file(R"([{"type": "flatten"}])", R"({"height": 100000, "width": 28, "channels": 1})"),
                    Catch::Contains("input.height must be between 1 and 4096, got 100000"));
  // A window larger than its input (valid padding) is refused with the sizes.
  CHECK_THROWS_WITH(from_file(R"([{"type": "max_pool", "pool": 5}])", R"({"height": 4, "width": 4, "channels": 1})"),
                    Catch::Contains("input 4x4 is smaller than the window 5x5"));
  // The bounds themselves are accepted.
  auto edge = from_file(R"([{"type": "max_pool", "pool": 64, "stride": 64},
                            {"type": "conv2d", "filters": 1, "kernel": 64, "padding": "same"},
                            {"type": "conv2d", "filters": 4096, "kernel": 1}, {"type": "global_max_pool"}])");
  CHECK(edge->layers()[2].shape == std::vector<std::int64_t>{4096, 1, 1});
  auto wide = from_file(R"([{"type": "max_pool", "pool": 64}, {"type": "flatten"}, {"type": "dense", "units": 65536}])");
  CHECK(wide->layers()[2].shape == std::vector<std::int64_t>{65536});
  // A pool's stride defaults to its size, in a file (no defaults filled) as inline
  // (where the host fills the schema's default, 0).
  CHECK(from_file(R"([{"type": "max_pool", "pool": 4}])")->layers()[0].shape == std::vector<std::int64_t>{1, 16, 16});
  Value inline_layers(Dict{{"layers", List{Value(Dict{{"type", "max_pool"}, {"pool", 4}}), Value(Dict{{"type", "conv2d"}, {"filters", 2}})}},
                           {"input", Value(Dict{{"height", 64}, {"width", 64}, {"channels", 1}})}});
  auto model = create_model("small_convnet", inline_layers, "random");
  CHECK(model->layers()[0].shape == std::vector<std::int64_t>{1, 16, 16});
  CHECK(model->layers()[1].shape == std::vector<std::int64_t>{2, 14, 14});  // conv stride 0 = 1
}

TEST_CASE("small_convnet: the schema states the bounds the builder checks", "[models][small_convnet][schema]") {
  const auto schema = plugin_schema("small_convnet");
  const auto& layer = schema["properties"]["layers"]["items"]["properties"];
  auto bounds = [](const nlohmann::json& p) { return std::make_pair(p["minimum"].get<std::int64_t>(), p["maximum"].get<std::int64_t>()); };
  CHECK(bounds(layer["pool"]) == B(1, 64));
  CHECK(bounds(layer["kernel"]) == B(1, 64));
  CHECK(bounds(layer["kernel"]["items"]) == B(1, 64));
  CHECK(bounds(layer["stride"]) == B(0, 64));
  CHECK(layer["stride"]["default"] == 0);
  CHECK(bounds(layer["filters"]) == B(1, 4096));
  CHECK(bounds(layer["units"]) == B(1, 65536));
  CHECK(schema["properties"]["layers"]["maxItems"] == 1000);
  const auto& input = schema["properties"]["input"]["properties"];
  CHECK(bounds(input["height"]) == B(1, kMaxModelInputSize));
  CHECK(bounds(input["width"]) == B(1, kMaxModelInputSize));
  for (const char* plugin : {"vgg16", "resnet50v2"}) {
    INFO(plugin);
    const auto s = plugin_schema(plugin);
    CHECK(bounds(s["properties"]["input_height"]) == B(32, kMaxModelInputSize));
    CHECK(bounds(s["properties"]["input_width"]) == B(32, kMaxModelInputSize));
    CHECK_THROWS_WITH(create_model(plugin, Value(Dict{{"include_top", false}, {"input_height", 100000}}), "random"),
                      Catch::Contains("at most 4096x4096") && Catch::Contains("100000x224"));
  }
}

TEST_CASE("a softmax convolution or hidden dense layer builds and normalises over channels", "[models][graph]") {
  // Found by tests/fuzz/fuzz_architecture: the activation name was checked on a 1-D
  // tensor, where softmax over dim 1 throws LibTorch's IndexError at build time.
  Graph g({1, 5, 5});
  int c = g.conv2d("conv", -1, 3, 3, 3, 1, "valid", true, "softmax");
  int f = g.flatten("flatten", c);
  g.dense("hidden", f, 4, true, "softmax");
  init_random(g, 3);
  g.finalize(c10::Device(c10::kCPU));
  const auto out = g.forward(torch::rand({2, 1, 5, 5}), {"conv", "hidden"});
  CHECK(torch::allclose(out.at("conv").sum(1), torch::ones({2, 3, 3}), 1e-5, 1e-5));
  CHECK(torch::allclose(out.at("hidden").sum(1), torch::ones({2}), 1e-5, 1e-5));
  CHECK_THROWS_WITH(g.conv2d("bad", -1, 3, 3, 3, 1, "valid", true, "softmaxx"), Catch::Contains("unknown activation 'softmaxx'"));
}
