// The Keras legacy HDF5 reader and loader: every naming generation, string kind
// and layout, layout conversion, and one error listing every mismatch.

#include "catch_torch.h"
#include <hdf5.h>

#include <chrono>

#include <filesystem>
#include <fstream>

#include "model_test_util.h"
#include "vizrun/error.h"
#include "vizrun_models/keras_h5.h"
#include "vizrun_models/keras_h5_writer.h"
#include "vizrun_models/weights.h"

using namespace vizrun;
using namespace vizrun::models;
using namespace vizrun::models::testing;

namespace {

/// A small model touching every converted layout: conv (HWIO), BN statistics,
/// dense after flatten (H,W,C rows), plain dense.
std::unique_ptr<Graph> small_graph() {
  auto g = std::make_unique<Graph>(Shape{3, 12, 10});
  int x = g->conv2d("conv2d_1", -1, 4, 3, 3, 1, "same", true, "relu");
  x = g->batch_norm("batch_normalization_1", x, 1e-3);
  x = g->max_pool("max_pooling2d_1", x, 2, 2);
  x = g->conv2d("conv2d_2", x, 5, 3, 2, 1, "valid", false, "relu");
  x = g->flatten("flatten_1", x);
  x = g->dropout("dropout_1", x, 0.5);
  x = g->dense("dense_1", x, 6, true, "relu");
  g->dense("predictions", x, 3, true);
  return g;
}

void expect_same_params(const Graph& a, const Graph& b) {
  REQUIRE(a.params().size() == b.params().size());
  for (std::size_t i = 0; i < a.params().size(); ++i) {
    INFO(a.params()[i].torch_name);
    CHECK(torch::equal(a.params()[i].tensor, b.params()[i].tensor));
  }
}

WeightsPlan small_plan() {
  WeightsPlan p;
  p.model = "test";
  return p;
}

}  // namespace

TEST_CASE("Keras h5 round trip in every naming and string variant", "[models][h5]") {
  auto source = small_graph();
  init_random(*source, 11);
  std::string dir = temp_dir("h5");
  struct Variant {
    std::string naming;
    bool vlen, model_weights;
    std::size_t chunk;
  };
  for (const Variant& v : {Variant{"keras1", false, false, 0}, Variant{"keras2", false, false, 0},
                           Variant{"keras3", true, false, 0}, Variant{"keras2", true, true, 0},
                           Variant{"keras2", false, false, 3}, Variant{"keras3", true, true, 2}}) {
    DYNAMIC_SECTION(v.naming << (v.vlen ? " vlen" : " fixed") << (v.model_weights ? " model_weights" : " root")
                             << " chunk " << v.chunk) {
      KerasH5WriteOptions o;
      o.naming = v.naming;
      o.variable_length_strings = v.vlen;
      o.model_weights_group = v.model_weights;
      o.names_per_chunk = v.chunk;
      std::string path = dir + "/" + v.naming + std::to_string(v.vlen) + std::to_string(v.model_weights) +
                         std::to_string(v.chunk) + ".h5";
      write_keras_h5(*source, path, o);
      KerasH5 file(path);
      REQUIRE(file.layers().size() == source->nodes().size());
      CHECK(file.layers()[0].name == "conv2d_1");
      CHECK(file.layers()[2].weights.empty());
      if (v.naming == "keras1") CHECK(file.layers()[0].weights[0].name == "conv2d_1_W_1:0");
      if (v.naming == "keras2") CHECK(file.layers()[0].weights[0].name == "conv2d_1/kernel:0");
      if (v.naming == "keras3") CHECK(file.layers()[0].weights[0].name == "conv2d_1/kernel");
      CHECK((file.layers()[0].weights[0].shape == Shape{3, 3, 3, 4}));
      auto target = small_graph();
      auto info = load_keras_h5(*target, path, small_plan());
      CHECK(info.skipped.empty());
      expect_same_params(*source, *target);
    }
  }
}

TEST_CASE("dense after flatten takes Keras' H,W,C rows", "[models][h5]") {
  // Build the Keras kernel by hand: row (h*W + w)*C + c holds 1000*c + 10*h + w in output 0.
  auto g = std::make_unique<Graph>(Shape{2, 3, 4});
  int x = g->flatten("flatten", -1);
  g->dense("fc", x, 1, false);
  std::string path = temp_dir("h5") + "/hwc.h5";
  H5OutLayer flatten{"flatten", {}};
  H5OutLayer fc{"fc", {{"fc/kernel:0", {24, 1}, [](float* d) {
                          for (int h = 0; h < 3; ++h)
                            for (int w = 0; w < 4; ++w)
                              for (int c = 0; c < 2; ++c) d[(h * 4 + w) * 2 + c] = 1000.f * c + 10.f * h + w;
                        }}}};
  write_keras_h5_layers(path, {flatten, fc});
  load_keras_h5(*g, path, small_plan());
  at::Tensor wgt = g->params()[0].tensor;  // (1, 24) in C,H,W column order
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 3; ++h)
      for (int w = 0; w < 4; ++w) CHECK(wgt[0][c * 12 + h * 4 + w].item<float>() == 1000.f * c + 10.f * h + w);
}

TEST_CASE("loading reports every mismatch in one error", "[models][h5]") {
  auto source = small_graph();
  init_random(*source, 1);
  std::string dir = temp_dir("h5");
  // A different model: conv2d_1 has 8 filters, dense_1 is missing, an extra layer exists.
  auto other = std::make_unique<Graph>(Shape{3, 12, 10});
  int x = other->conv2d("conv2d_1", -1, 8, 3, 3, 1, "same", true, "relu");
  x = other->batch_norm("batch_normalization_1", x, 1e-3);
  x = other->conv2d("extra_conv", x, 2, 1, 1, 1, "valid", true);
  init_random(*other, 2);
  std::string path = dir + "/other.h5";
  write_keras_h5(*other, path);
  auto target = small_graph();
  try {
    load_keras_h5(*target, path, small_plan());
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK_THAT(m, Catch::Contains("the file has shape (3, 3, 3, 8), the model expects (3, 3, 3, 4)"));
    CHECK_THAT(m, Catch::Contains("'extra_conv' has no counterpart"));
    CHECK_THAT(m, Catch::Contains("'conv2d_2' has no weights in the file"));
    CHECK_THAT(m, Catch::Contains("'dense_1' has no weights in the file"));
    CHECK_THAT(m, Catch::Contains("'predictions' has no weights"));
    CHECK_THAT(m, Catch::Contains(" problems: "));
    CHECK(m.find('\n') == std::string::npos);  // one line, however many problems
  }
}

TEST_CASE("layers of other variants are skipped and listed, aliases and order matching", "[models][h5]") {
  auto source = small_graph();
  init_random(*source, 3);
  std::string dir = temp_dir("h5");
  KerasH5WriteOptions o;
  o.rename = {{"predictions", "probs"}};
  std::string path = dir + "/probs.h5";
  write_keras_h5(*source, path, o);

  // Without the alias the 'probs' layer is unknown.
  auto target = small_graph();
  CHECK_THROWS_WITH(load_keras_h5(*target, path, small_plan()), Catch::Contains("'probs' has no counterpart"));
  WeightsPlan plan = small_plan();
  plan.layer_aliases = {{"probs", "predictions"}};
  load_keras_h5(*target, path, plan);
  expect_same_params(*source, *target);

  // A model without the top: the file's top tensors are skipped when declared optional.
  auto headless = std::make_unique<Graph>(Shape{3, 12, 10});
  int x = headless->conv2d("conv2d_1", -1, 4, 3, 3, 1, "same", true, "relu");
  x = headless->batch_norm("batch_normalization_1", x, 1e-3);
  x = headless->max_pool("max_pooling2d_1", x, 2, 2);
  headless->conv2d("conv2d_2", x, 5, 3, 2, 1, "valid", false, "relu");
  CHECK_THROWS_WITH(load_keras_h5(*headless, path, plan), Catch::Contains("'dense_1' has no counterpart"));
  plan.optional_layers = {"dense_1", "predictions", "probs"};
  auto info = load_keras_h5(*headless, path, plan);
  CHECK((info.skipped == std::vector<std::string>{"dense_1/dense_1/kernel:0", "dense_1/dense_1/bias:0",
                                                 "probs/probs/kernel:0", "probs/probs/bias:0"}));

  // Names that differ entirely (Keras auto names from another session): by order when allowed.
  KerasH5WriteOptions renamed;
  renamed.rename = {{"conv2d_1", "conv2d"}, {"conv2d_2", "conv2d_7"}, {"dense_1", "dense"}, {"predictions", "dense_9"},
                    {"batch_normalization_1", "batch_normalization"}};
  std::string path2 = dir + "/renamed.h5";
  write_keras_h5(*source, path2, renamed);
  auto t2 = small_graph();
  CHECK_THROWS(load_keras_h5(*t2, path2, small_plan()));
  WeightsPlan by_order = small_plan();
  by_order.allow_topological = true;
  load_keras_h5(*t2, path2, by_order);
  expect_same_params(*source, *t2);
}

TEST_CASE("non-Keras and Keras 3 native files are refused clearly", "[models][h5]") {
  std::string dir = temp_dir("h5");
  std::string plain = dir + "/plain.h5";
  hid_t f = H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  CHECK_THROWS_WITH(KerasH5(plain), Catch::Contains("not Keras weights"));
  std::string k3 = dir + "/model.weights.h5";
  f = H5Fcreate(k3.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(g);
  H5Fclose(f);
  CHECK_THROWS_WITH(KerasH5(k3), Catch::Contains("Keras 3 '.weights.h5'"));
  std::string text = dir + "/text.h5";
  std::ofstream(text) << "hello";
  CHECK_THROWS_WITH(KerasH5(text), Catch::Contains("not an HDF5 file"));
  CHECK_THROWS_WITH(create_model("vgg16", Value(Dict{{"include_top", false}}), text),
                    Catch::Contains("neither an HDF5"));
  CHECK_THROWS_WITH(create_model("vgg16", Value(Dict{{"include_top", false}}), dir + "/missing.h5"),
                    Catch::Contains("does not exist"));
}

TEST_CASE("a Keras 3 layer tree whose hard links make a cycle is refused, not walked for ever", "[models][h5][hostile]") {
  // layers/conv2d/layers and layers/dense/layers both link back to the top layers/
  // group: read naively, the tree has 2^32 paths within the nesting bound.
  const std::string path = temp_dir("h5-cycle") + "/cycle.weights.h5";
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  for (const char* name : {"conv2d", "dense"}) {
    hid_t g = H5Gcreate2(layers, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(g, "vars", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Lcreate_hard(f, "/layers", g, "layers", H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
  }
  H5Gclose(layers);
  H5Fclose(f);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(KerasH5(path, /*allow_keras3=*/true),
                    Catch::Contains("'layers/conv2d/layers' links back to an enclosing group (the layer tree is a cycle)"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("the reader accepts the structure Keras' own writer produces", "[models][h5]") {
  for (const char* name : {"keras_vgg16_h5_layout.json", "keras_resnet50v2_h5_layout.json",
                           "keras_dlwp_cats_vs_dogs_h5_layout.json"}) {
    INFO(name);
    auto layout = read_json(fixture_path(name));
    // What the oracle saw: variable-length names and an empty non-string attribute for weightless layers.
    CHECK(layout["layer_names_kind"] == "vlen");
    std::string path = temp_dir("layout") + "/layout.h5";
    // Same names and shapes, tiny stand-in values: the structure is what is checked here.
    auto layers = layout_with_formula(layout);
    for (auto& l : layers)
      for (auto& w : l.weights) w.fill = [](float*) {};
    KerasH5WriteOptions o;
    o.variable_length_strings = true;
    write_keras_h5_layers(path, layers, o);
    KerasH5 file(path);
    REQUIRE(file.layers().size() == layout["layer_names"].size());
    for (std::size_t i = 0; i < file.layers().size(); ++i) {
      const auto& entry = layout["layers"][file.layers()[i].name];
      REQUIRE(file.layers()[i].weights.size() == entry["weight_names"].size());
      for (std::size_t k = 0; k < file.layers()[i].weights.size(); ++k) {
        CHECK(file.layers()[i].weights[k].name == entry["weight_names"][k].get<std::string>());
        CHECK(file.layers()[i].weights[k].shape == entry["shapes"][k].get<Shape>());
      }
    }
  }
}
