// The keras backend against Keras itself: models saved with model.save() by
// tests/oracles/models/keras_oracle.py (Keras 3 on TensorFlow) and tf_keras2_oracle.py (Keras 2), layer outputs and
// input gradients of a channel mean as GradientTape computed them, and malformed
// model files, each of which must give one line.
#include <torch/torch.h>
#include <hdf5.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "catch_torch.h"
#include "model_test_util.h"
#include "vizrun_models/keras_h5_writer.h"
#include "vizrun_models/keras_model.h"
#include "vizrun_models/weights.h"

using namespace vizrun;
using namespace vizrun::models;
using namespace vizrun::models::testing;
using Catch::Matchers::Contains;

namespace {

std::shared_ptr<ModelBackend> keras_model(const std::string& path, Dict options = {}) {
  return create_model("keras", Value(options), path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The text of an entry of a .keras zip.
std::string zip_entry(const std::string& path, const char* name) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &code);
  REQUIRE(z);
  zip_stat_t st;
  REQUIRE(zip_stat(z, name, 0, &st) == 0);
  std::string text(st.size, '\0');
  zip_file_t* f = zip_fopen(z, name, 0);
  REQUIRE(zip_fread(f, text.data(), st.size) == static_cast<zip_int64_t>(st.size));
  zip_fclose(f);
  zip_discard(z);
  return text;
}

/// A copy of a .keras file whose config.json has `from` replaced by `to` (each occurrence).
std::string with_config_edit(const std::string& source, const std::string& from, const std::string& to,
                             const std::string& tag) {
  std::string config = zip_entry(source, "config.json");
  REQUIRE(config.find(from) != std::string::npos);
  for (std::size_t at = config.find(from); at != std::string::npos; at = config.find(from, at + to.size()))
    config.replace(at, from.size(), to);
  const std::string copy = temp_dir("keras") + "/" + tag + ".keras";
  std::filesystem::copy_file(source, copy, std::filesystem::copy_options::overwrite_existing);
  int code = 0;
  zip_t* z = zip_open(copy.c_str(), 0, &code);
  REQUIRE(z);
  // libzip keeps the buffer until zip_close writes the archive.
  auto* kept = new std::string(config);
  zip_source_t* src = zip_source_buffer(z, kept->data(), kept->size(), 0);
  REQUIRE(zip_file_add(z, "config.json", src, ZIP_FL_OVERWRITE) >= 0);
  REQUIRE(zip_close(z) == 0);
  delete kept;
  return copy;
}

/// A Flatten tap in Keras's element order. The graph flattens LibTorch's C,H,W layout
/// (and reorders the rows of the Dense after it to match); Keras flattens H,W,C. The
/// values are the same, so the comparison is of the same values in Keras's order.
at::Tensor keras_order(const ModelBackend& model, const std::string& tap, const at::Tensor& y) {
  const auto& layers = model.layers();
  for (std::size_t i = 1; i < layers.size(); ++i) {
    if (layers[i].name != tap || layers[i].type != "flatten") continue;
    const auto& from = layers[i - 1].shape;  // the flattened map, {C, H, W}
    REQUIRE(from.size() == 3);
    return y.reshape({y.size(0), from[0], from[1], from[2]}).permute({0, 2, 3, 1}).reshape({y.size(0), -1});
  }
  return y;
}

struct Oracle {
  const char* name;
  const char* file;
  Dict options;
};

}  // namespace

TEST_CASE("keras: layer outputs, input gradients and logits equal Keras's", "[models][keras]") {
  const std::vector<Oracle> oracles = {
      {"mobilenet_like", "mobilenet_like.keras", {}},
      {"concat_net", "concat_net.keras", {}},
      {"cats_vs_dogs", "cats_vs_dogs.keras", {{"preprocessing", "divide_255"}}},
      {"cats_vs_dogs", "cats_vs_dogs.h5", {{"preprocessing", "divide_255"}}},
      {"extras", "extras.keras", {}},
      {"nested", "nested.keras", {}},
      {"nested", "nested.h5", {}},
      // Written by Keras 2 itself (tf_keras, tests/oracles/models/tf_keras2_oracle.py).
      {"keras2_cats_vs_dogs", "keras2_cats_vs_dogs.h5", {{"preprocessing", "divide_255"}}},
      {"keras2_finetune", "keras2_finetune.h5", {{"preprocessing", "divide_255"}}},
      {"keras2_finetune", "keras2_finetune.keras", {{"preprocessing", "divide_255"}}},
      {"keras2_mobilenet_like", "keras2_mobilenet_like.h5", {}},
      {"keras2_mobilenet_like", "keras2_mobilenet_like.keras", {}},
  };
  for (const auto& o : oracles) {
    INFO(o.file);
    const auto fixture = read_json(fixture_path(std::string("keras_") + o.name + ".json"));
    auto model = keras_model(fixture_path(std::string("keras/") + o.file), o.options);
    const std::int64_t h = fixture["input"][1], w = fixture["input"][2];
    CHECK(model->input_spec().height == h);
    const at::Tensor pixels = formula_pixels(h, w);
    double worst_output = 0, worst_grad = 0;
    for (const auto& [keras_tap, reference] : fixture["taps"].items()) {
      // A nested model's layer keeps its own Keras name ("features/features_conv1" in the fixture).
      const std::string tap = keras_tap.substr(keras_tap.find('/') + 1);
      INFO(tap);
      torch::autograd::AutoGradMode grad(true);
      const at::Tensor x = model->preprocess(pixels).requires_grad_(true);
      at::Tensor y = model->forward(x, {tap}).at(tap);
      // A final Dense returns logits here; Keras's output is after its softmax or sigmoid.
      const bool stripped = tap == model->logits_layer() && tap == model->layers().back().name;
      if (stripped && model->output_activation() == "softmax") y = y.softmax(1);
      if (stripped && model->output_activation() == "sigmoid") y = y.sigmoid();
      const double e_out = relative_error(reference["output"], keras_order(*model, tap, y.detach()));
      CHECK(e_out < 1e-4);
      const at::Tensor g = torch::autograd::grad({y.select(1, 0).mean()}, {x})[0];
      const double e_grad = relative_error(reference["grad_channel0_mean"], g);
      CHECK(e_grad < 1e-4);
      worst_output = std::max(worst_output, e_out);
      worst_grad = std::max(worst_grad, e_grad);
    }
    torch::NoGradGuard no_grad;
    const std::string logits_layer = model->logits_layer();
    REQUIRE(!logits_layer.empty());
    const at::Tensor logits = model->forward(model->preprocess(pixels), {logits_layer}).at(logits_layer);
    const double e_logits = relative_error(fixture["logits"], logits);
    CHECK(e_logits < 1e-4);
    std::cout << "keras oracle " << o.file << ": max relative error outputs " << worst_output << ", input gradients "
              << worst_grad << ", logits " << e_logits;
    if (fixture.contains("gradcam")) {
      // Grad-CAM as the gradcam technique computes it, from this backend's taps.
      const auto& cam_ref = fixture["gradcam"];
      const std::string layer = cam_ref["layer"];
      torch::autograd::AutoGradMode grad(true);
      const at::Tensor x = model->preprocess(pixels).requires_grad_(true);
      const auto acts = model->forward(x, {layer, logits_layer});
      const std::int64_t top = acts.at(logits_layer).argmax(1).item<std::int64_t>();
      CHECK(top == cam_ref["class"].get<std::int64_t>());
      const at::Tensor grads = torch::autograd::grad({acts.at(logits_layer).select(1, top).sum()}, {acts.at(layer)})[0];
      const at::Tensor cam = (grads.mean({2, 3}, true) * acts.at(layer)).sum(1).relu().detach();
      const double e_cam = relative_error(cam_ref["raw"], cam);
      CHECK(e_cam < 1e-3);
      std::cout << ", Grad-CAM at " << layer << " " << e_cam;
    }
    std::cout << "\n";
  }
}

TEST_CASE("keras: the model's own activation, logits layer, layer names and parameter count", "[models][keras]") {
  auto cats = keras_model(fixture_path("keras/cats_vs_dogs.keras"), Dict{{"preprocessing", "divide_255"}});
  CHECK(cats->output_activation() == "sigmoid");
  CHECK(cats->logits_layer() == "dense_1");
  CHECK(cats->last_conv_layer() == "conv2d_3");
  CHECK(cats->input_spec().fixed_size);
  // Keras' model.summary(): 8*27+8 + 16*72+16 + 32*144+32 + 32*288+32 + 128*128+128 + 128+1.
  CHECK(cats->parameter_count() == 224 + 1168 + 4640 + 9248 + 16512 + 129);
  const auto layers = cats->layers();
  REQUIRE(layers.size() == 12);  // a Sequential model's InputLayer is not one of model.layers
  CHECK(layers[0].name == "conv2d");
  CHECK(layers[0].type == "conv2d");
  CHECK(layers[0].shape == std::vector<std::int64_t>{8, 62, 62});
  CHECK(layers[9].name == "dropout");
  CHECK(layers.back().name == "dense_1");

  auto mobile = keras_model(fixture_path("keras/mobilenet_like.keras"));
  CHECK(mobile->output_activation() == "softmax");
  CHECK(mobile->last_conv_layer() == "head_conv");
  CHECK(!mobile->input_spec().fixed_size);
  std::map<std::string, std::string> types;
  for (const auto& l : mobile->layers()) types[l.name] = l.type;
  CHECK(types.at("image") == "input_layer");
  CHECK(types.at("block2_depthwise") == "depthwise_conv2d");
  CHECK(types.at("sep_conv") == "separable_conv2d");
  CHECK(types.at("block1_add") == "add");
  // Without a classifier after a flatten, the model runs at other sizes.
  CHECK(mobile->layers_for(96, 96).back().shape == std::vector<std::int64_t>{5});

  auto nested = keras_model(fixture_path("keras/nested.keras"));
  std::vector<std::string> names;
  for (const auto& l : nested->layers()) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"photo", "scale", "features_conv1", "features_bn", "features_relu",
                                          "features_pool", "features_conv2", "features", "gap", "head"});
  // Several taps in one pass equal each alone.
  torch::NoGradGuard no_grad;
  const at::Tensor x = nested->preprocess(formula_pixels(32, 32));
  const auto all = nested->forward(x, {"features_bn", "features", "head"});
  CHECK(torch::allclose(all.at("features_bn"), nested->forward(x, {"features_bn"}).at("features_bn")));
  CHECK(torch::allclose(all.at("head"), nested->forward(x, {"head"}).at("head")));
}

namespace {

/// A copy of `source` whose root attribute keras_version is `version`, or an integer
/// when `version` is empty.
std::string with_keras_version(const std::string& source, const std::string& version, const std::string& tag) {
  const std::string copy = temp_dir("keras") + "/" + tag + ".h5";
  std::filesystem::copy_file(source, copy, std::filesystem::copy_options::overwrite_existing);
  const hid_t f = H5Fopen(copy.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  REQUIRE(H5Adelete(f, "keras_version") >= 0);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t type = version.empty() ? H5Tcopy(H5T_NATIVE_INT) : H5Tcopy(H5T_C_S1);
  if (!version.empty()) H5Tset_size(type, version.size());
  const hid_t attr = H5Acreate2(f, "keras_version", type, space, H5P_DEFAULT, H5P_DEFAULT);
  const int number = 2;
  REQUIRE(H5Awrite(attr, type, version.empty() ? static_cast<const void*>(&number) : version.data()) >= 0);
  H5Aclose(attr);
  H5Tclose(type);
  H5Sclose(space);
  H5Fclose(f);
  return copy;
}

}  // namespace

TEST_CASE("keras: the file's keras_version decides what hard_sigmoid means, and a damaged one is ignored", "[models][keras]") {
  // keras2_mobilenet_like gates its squeeze-excitation with hard_sigmoid.
  const std::string keras2 = fixture_path("keras/keras2_mobilenet_like.h5");
  const at::Tensor x = formula_pixels(40, 40);
  const auto gate = [&](const std::string& path) {
    torch::NoGradGuard no_grad;
    auto model = keras_model(path);
    return model->forward(model->preprocess(x), {"se_gate"}).at("se_gate");
  };
  const at::Tensor as_keras2 = gate(keras2);
  const at::Tensor as_keras3 = gate(with_keras_version(keras2, "3.5.0", "relabelled"));
  CHECK((as_keras2 - as_keras3).abs().max().item<double>() > 1e-3);
  CHECK(gate(with_keras_version(keras2, "2.15.0", "older")).equal(as_keras2));
  const at::Tensor damaged = gate(with_keras_version(keras2, "", "integer_version"));
  CHECK(damaged.equal(as_keras3));
}

TEST_CASE("keras: explicit preprocessing is (x * scale - mean) / std", "[models][keras]") {
  auto plain = keras_model(fixture_path("keras/nested.keras"));
  auto scaled = keras_model(fixture_path("keras/nested.keras"),
                            Dict{{"preprocessing", Dict{{"scale", 2.0}, {"mean", List{1.0, 2.0, 3.0}}, {"std", List{4.0}}}}});
  const at::Tensor pixels = formula_pixels(32, 32);
  const at::Tensor mean = torch::tensor({1.0f, 2.0f, 3.0f}).view({1, 3, 1, 1});
  CHECK(torch::allclose(scaled->preprocess(pixels), (plain->preprocess(pixels) * 2 - mean) / 4));
  CHECK(torch::allclose(scaled->deprocess(scaled->preprocess(pixels)), pixels, 1e-4, 1e-3));
}

TEST_CASE("keras: malformed model files give one line", "[models][keras]") {
  const std::string cats = fixture_path("keras/cats_vs_dogs.keras");
  const std::string nested = fixture_path("keras/nested.keras");
  auto one_line = [](const std::string& path, const std::string& expected) {
    INFO(path);
    try {
      keras_model(path);
      FAIL("no error");
    } catch (const Error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find('\n') == std::string::npos);
      CHECK_THAT(what, Contains(expected));
    }
  };
  // Truncated zip: the central directory is gone.
  const std::string bytes = read_file(cats);
  const std::string truncated = temp_dir("keras") + "/truncated.keras";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3);
  one_line(truncated, "is not a readable .keras zip");
  // A damaged weights entry (one byte flipped inside it): the CRC check catches it, and
  // the temporary copy of the weights is removed.
  // The copy goes to a temporary folder of this test's own: CTest runs other Keras tests
  // at the same time, and their copies in the shared folder would be counted too.
  const std::string private_tmp = temp_dir("keras_private_tmp");
  const ScopedEnv tmpdir("TMPDIR", private_tmp);
  const auto temporaries = [&] {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(private_tmp))
      n += e.path().filename().string().rfind("vizrun-keras-", 0) == 0;
    return n;
  };
  const std::size_t before = temporaries();
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x55);
  const std::string damaged = temp_dir("keras") + "/damaged.keras";
  std::ofstream(damaged, std::ios::binary) << flipped;
  one_line(damaged, "model.weights.h5 is damaged");
  CHECK(temporaries() == before);
  // A layer the weights file does not know.
  one_line(with_config_edit(cats, "\"conv2d_1\"", "\"conv2d_9\"", "missing_weight"),
           "layer 'conv2d_9' (Conv2D) has no weights in the file");
  one_line(with_config_edit(cats, "\"class_name\": \"Dropout\"", "\"class_name\": \"FancyDropout\"", "unknown"),
           "layer 'dropout' (FancyDropout): unsupported layer class; supported: InputLayer, Conv2D");
  one_line(with_config_edit(nested, "\"keras_history\": [\"photo\", 0, 0]", "\"keras_history\": [\"gap\", 0, 0]", "cycle"),
           "read each other in a cycle");
  one_line(with_config_edit(cats, "\"filters\": 16", "\"filters\": 17", "shape"),
           "layer 'conv2d_1' kernel: the file has (3, 3, 8, 16), the config needs (3, 3, 8, 17)");
  one_line(with_config_edit(cats, "\"class_name\": \"Sequential\"", "\"class_name\": \"Dense\"", "not_a_model"),
           "not a Sequential or functional model");
  one_line(with_config_edit(cats, "\"module\"", "\"module", "bad_json"), "is not valid JSON");
  // Weights only, and not a model file at all.
  const std::string weights_only = temp_dir("keras") + "/weights_only.h5";
  Graph tiny(Shape{3, 8, 8});
  tiny.conv2d("conv2d", -1, 2, 3, 3, 1, "valid", true);
  write_keras_h5(tiny, weights_only);
  one_line(weights_only, "holds weights only");
  const std::string junk = temp_dir("keras") + "/junk.keras";
  std::ofstream(junk) << "not a model";
  one_line(junk, "neither a Keras .keras file");
  CHECK_THROWS_WITH(keras_model("random"), Contains("must name the file model.save() wrote"));
}

TEST_CASE("keras: the config reader refuses what it cannot represent", "[models][keras]") {
  const auto build = [](const std::string& config) { return build_keras_model(config, "test.json"); };
  const std::string input = R"({"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "name": "in"}})";
  const auto sequential = [&](const std::string& layer) {
    return R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)" + input + ", " + layer + "]}}";
  };
  CHECK_NOTHROW(build(sequential(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [3, 3]}})")));
  CHECK_THROWS_WITH(build(sequential(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [9, 9]}})")),
                    Contains("test.json") && Contains("layer 'c'") && Contains("smaller than the window"));
  CHECK_THROWS_WITH(build(sequential(R"({"class_name": "Dense", "config": {"name": "d", "units": 2}})")),
                    Contains("only flat inputs are supported"));
  CHECK_THROWS_WITH(build(sequential(R"({"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "data_format": "channels_first"}})")),
                    Contains("only channels_last"));
  CHECK_THROWS_WITH(build(sequential(R"({"class_name": "Concatenate", "config": {"name": "c", "axis": 1}})")),
                    Contains("takes 2 or more inputs"));
  CHECK_THROWS_WITH(build(sequential(R"({"class_name": "Activation", "config": {"name": "a", "activation": "wobble"}})")),
                    Contains("unknown activation 'wobble'"));
  CHECK_THROWS_WITH(build(R"({"class_name": "Sequential", "config": {"name": "s", "layers": []}})"), Contains("has no layers"));
  CHECK_THROWS_WITH(build("[1, 2"), Contains("not valid JSON"));
  // Functional: a layer called twice (shared) and one reading a layer that does not exist.
  const std::string functional_head = R"({"class_name": "Functional", "config": {"name": "f", "input_layers": [["in", 0, 0]], "output_layers": [["r", 0, 0]], "layers": [)" + input;
  CHECK_THROWS_WITH(build(functional_head + R"(, {"class_name": "ReLU", "name": "r", "config": {"name": "r"}, "inbound_nodes": [[["in", 0, 0, {}]], [["in", 0, 0, {}]]]}]}})"),
                    Contains("called 2 times"));
  CHECK_THROWS_WITH(build(functional_head + R"(, {"class_name": "ReLU", "name": "r", "config": {"name": "r"}, "inbound_nodes": [[["ghost", 0, 0, {}]]]}]}})"),
                    Contains("reads layer 'ghost', which the model does not have"));
  // Keras 2 spelling of a working functional model.
  const auto m = build(functional_head + R"(, {"class_name": "ReLU", "name": "r", "config": {"name": "r", "max_value": 6.0}, "inbound_nodes": [[["in", 0, 0, {}]]]}]}})");
  CHECK(m.graph->nodes().size() == 2);
  CHECK(m.graph->nodes()[1].attrs.max_value == 6.0);
  // A nested model reusing a name already taken: its layer becomes "<nested>/<name>",
  // and its weights are still looked up as (nested, name).
  const auto nested = build(R"({"class_name": "Functional", "config": {"name": "f", "input_layers": [["in", 0, 0]],
    "output_layers": [["inner", 0, 0]], "layers": [)" + input + R"(,
    {"class_name": "Conv2D", "name": "c", "config": {"name": "c", "filters": 2, "kernel_size": 1}, "inbound_nodes": [[["in", 0, 0, {}]]]},
    {"class_name": "Sequential", "name": "inner", "config": {"name": "inner", "layers": [
      {"class_name": "Conv2D", "config": {"name": "c", "filters": 3, "kernel_size": 1}}]},
     "inbound_nodes": [[["c", 0, 0, {}]]]}]}})");
  std::vector<std::string> names;
  for (const auto& n : nested.graph->nodes()) names.push_back(n.name);
  CHECK(names == std::vector<std::string>{"in", "c", "inner/c", "inner"});
  REQUIRE(nested.weights.size() == 2);
  CHECK(nested.weights[1].top == "inner");
  CHECK(nested.weights[1].leaf == "c");
  CHECK(nested.weights[1].layer == "inner/c");
}

TEST_CASE("keras: Keras 3 .weights.h5 files load into a backend that declares the architecture", "[models][keras]") {
  // small_convnet with the layers of the cats-vs-dogs fixture (save_weights, Keras 3 layout).
  const auto conv = [](std::int64_t filters) {
    return Value(Dict{{"type", "conv2d"}, {"filters", filters}, {"kernel", 3}, {"activation", "relu"}});
  };
  const Value pool(Dict{{"type", "max_pool"}, {"pool", 2}});
  List layers{conv(8), pool, conv(16), pool, conv(32), pool, conv(32), pool, Value(Dict{{"type", "flatten"}}),
              Value(Dict{{"type", "dropout"}, {"rate", 0.5}}),
              Value(Dict{{"type", "dense"}, {"units", 128}, {"activation", "relu"}}),
              Value(Dict{{"type", "dense"}, {"units", 1}, {"activation", "sigmoid"}})};
  const Dict options{{"input", Dict{{"height", 64}, {"width", 64}, {"channels", 3}}}, {"layers", layers}};
  auto model = create_model("small_convnet", Value(options), fixture_path("keras/cats_vs_dogs.weights.h5"));
  const auto fixture = read_json(fixture_path("keras_cats_vs_dogs.json"));
  torch::NoGradGuard no_grad;
  const at::Tensor x = model->preprocess(formula_pixels(64, 64));
  const std::string logits_layer = model->logits_layer();
  const double e = relative_error(fixture["logits"], model->forward(x, {logits_layer}).at(logits_layer));
  CHECK(e < 1e-4);
  std::cout << "keras oracle cats_vs_dogs.weights.h5 through small_convnet: max relative error logits " << e << "\n";
}

TEST_CASE("keras: a Keras 2 (tf.keras) full-model .h5: model_weights with <layer>/<var>:0 names, Keras 2 config", "[models][keras]") {
  // The weights as tf.keras 2 wrote them (the kit's writer, keras2 naming, model_weights
  // group), and the architecture in Keras 2's spelling as the model_config attribute.
  Graph graph(Shape{3, 10, 10});
  graph.conv2d("conv2d", -1, 4, 3, 3, 2, "same", true, "relu");
  graph.flatten("flatten", graph.last());
  graph.dense("dense", graph.last(), 3, true, "softmax");
  init_random(graph, 3);
  for (auto& p : graph.params())
    if (p.keras_var == "bias") p.tensor.uniform_(-0.1, 0.1);
  const std::string path = temp_dir("keras") + "/tf_keras2.h5";
  KerasH5WriteOptions options;
  options.naming = "keras2";
  options.model_weights_group = true;
  write_keras_h5(graph, path, options);
  const std::string config = R"({"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "Conv2D", "config": {"name": "conv2d", "batch_input_shape": [null, 10, 10, 3], "filters": 4,
     "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "data_format": "channels_last",
     "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}},
    {"class_name": "Flatten", "config": {"name": "flatten", "data_format": "channels_last"}},
    {"class_name": "Dense", "config": {"name": "dense", "units": 3, "activation": "softmax", "use_bias": true}}]},
    "keras_version": "2.13.1", "backend": "tensorflow"})";
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, config.size());
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(file, "model_config", type, space, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(H5Awrite(attr, type, config.data()) >= 0);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(file);
  }
  auto model = keras_model(path);
  CHECK(model->output_activation() == "softmax");
  CHECK(model->logits_layer() == "dense");
  graph.finalize(c10::Device(c10::kCPU));
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::rand({2, 3, 10, 10});
  const at::Tensor ours = model->forward(x, {"dense"}).at("dense").softmax(1);
  CHECK(torch::allclose(ours, graph.forward(x, {"dense"}).at("dense"), 1e-5, 1e-6));
  CHECK(torch::allclose(model->forward(x, {"conv2d"}).at("conv2d"), graph.forward(x, {"conv2d"}).at("conv2d"), 1e-5, 1e-6));
}
