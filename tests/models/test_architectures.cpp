// Architecture facts of the three backends: parameter totals, layer names and
// shapes, input rules, taps, truncation and gradients.

#include "catch_torch.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>

#include "model_test_util.h"
#include "vizrun/error.h"
#include "vizrun_models/graph.h"

#include <ATen/autocast_mode.h>

using namespace vizrun;
using namespace vizrun::models::testing;

namespace {

std::vector<std::string> names(const std::vector<LayerInfo>& layers) {
  std::vector<std::string> out;
  for (const auto& l : layers) out.push_back(l.name);
  return out;
}

const LayerInfo& layer(const std::vector<LayerInfo>& layers, const std::string& name) {
  for (const auto& l : layers)
    if (l.name == name) return l;
  throw Error("no layer " + name);
}

/// max |a - b| / max |a|
double rel(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(a.abs().max().item<double>(), 1e-30);
}

Value opts(std::initializer_list<std::pair<const std::string, Value>> items) { return Value(Dict(items)); }

}  // namespace

TEST_CASE("vgg16 matches Keras' parameter totals and layer table", "[models][vgg16]") {
  auto top = create_model("vgg16", opts({}), "random");
  CHECK(top->parameter_count() == 138357544);
  auto layers = top->layers();
  REQUIRE(layers.size() == 22);
  CHECK(layers.front().name == "block1_conv1");
  CHECK(layers[2].name == "block1_pool");
  CHECK(layers.back().name == "predictions");
  CHECK((layer(layers, "block1_conv1").shape == std::vector<std::int64_t>{64, 224, 224}));
  CHECK((layer(layers, "block3_conv3").shape == std::vector<std::int64_t>{256, 56, 56}));
  CHECK((layer(layers, "block5_pool").shape == std::vector<std::int64_t>{512, 7, 7}));
  CHECK(layer(layers, "flatten").shape == std::vector<std::int64_t>{25088});
  CHECK(layer(layers, "fc1").shape == std::vector<std::int64_t>{4096});
  CHECK(layer(layers, "predictions").shape == std::vector<std::int64_t>{1000});
  CHECK(top->output_activation() == "softmax");
  CHECK(top->logits_layer() == "predictions");
  CHECK(top->last_conv_layer() == "block5_conv3");
  REQUIRE(top->class_names().size() == 1000);
  CHECK(top->class_names()[386] == "African_elephant");
  CHECK(top->input_spec().fixed_size);

  auto notop = create_model("vgg16", opts({{"include_top", false}}), "random");
  CHECK(notop->parameter_count() == 14714688);
  CHECK(notop->layers().size() == 18);
  CHECK(notop->layers().back().name == "block5_pool");
  CHECK(notop->output_activation() == "none");
  CHECK(notop->logits_layer().empty());
  CHECK(notop->class_names().empty());
  CHECK_FALSE(notop->input_spec().fixed_size);
  auto sizes = notop->layers_for(180, 180);
  CHECK((layer(sizes, "block1_pool").shape == std::vector<std::int64_t>{64, 90, 90}));
  CHECK((layer(sizes, "block5_pool").shape == std::vector<std::int64_t>{512, 5, 5}));

  auto avg = create_model("vgg16", opts({{"include_top", false}, {"pooling", "avg"}}), "random");
  CHECK(avg->layers().back().name == "global_average_pooling2d");
  CHECK(avg->layers().back().shape == std::vector<std::int64_t>{512});
  auto max = create_model("vgg16", opts({{"include_top", false}, {"pooling", "max"}}), "random");
  CHECK(max->layers().back().name == "global_max_pooling2d");
}

TEST_CASE("vgg16 enforces Keras' input size rules", "[models][vgg16]") {
  CHECK_THROWS_WITH(create_model("vgg16", opts({{"input_height", 180}}), "random"),
                    Catch::Contains("exactly 224x224") && Catch::Contains("include_top: false"));
  CHECK_THROWS_WITH(create_model("vgg16", opts({{"include_top", false}, {"input_height", 31}}), "random"),
                    Catch::Contains("at least 32"));
  CHECK_THROWS_WITH(create_model("vgg16", opts({{"pooling", "avg"}}), "random"), Catch::Contains("include_top: false"));
  auto top = create_model("vgg16", opts({}), "random");
  CHECK_THROWS_WITH(top->forward(torch::zeros({1, 3, 200, 200}), {"predictions"}), Catch::Contains("224x224"));
  CHECK_THROWS_WITH(top->forward(torch::zeros({1, 1, 224, 224}), {"block1_conv1"}), Catch::Contains("N x 3 x H x W"));
  auto notop = create_model("vgg16", opts({{"include_top", false}}), "random");
  auto out = notop->forward(torch::zeros({1, 3, 64, 48}), {"block5_pool"});
  CHECK(out.at("block5_pool").sizes() == torch::IntArrayRef({1, 512, 2, 1}));
}

TEST_CASE("resnet50v2 matches Keras' parameter totals and layer list", "[models][resnet50v2]") {
  auto top = create_model("resnet50v2", opts({}), "random");
  CHECK(top->parameter_count() == 25613800);
  auto layers = top->layers();
  CHECK(layers.size() == 191);  // Keras' 192 layers minus the input layer
  auto n = names(layers);
  CHECK(n[0] == "conv1_pad");
  CHECK(n[1] == "conv1_conv");
  CHECK(n[4] == "conv2_block1_preact_bn");
  // Inside a block the shortcut comes after _2_relu and before _3_conv.
  auto pos = [&](const std::string& s) { return std::find(n.begin(), n.end(), s) - n.begin(); };
  CHECK(pos("conv2_block1_0_conv") == pos("conv2_block1_2_relu") + 1);
  CHECK(pos("max_pooling2d") == pos("conv2_block3_2_relu") + 1);
  CHECK(pos("max_pooling2d_1") == pos("conv3_block4_2_relu") + 1);
  CHECK(pos("max_pooling2d_2") == pos("conv4_block6_2_relu") + 1);
  CHECK(n[84] == "conv3_block4_out");  // row 86 of Keras' table, whose row 1 is the input
  CHECK(n[n.size() - 4] == "post_bn");
  CHECK(n.back() == "predictions");
  std::set<std::string> set(n.begin(), n.end());
  CHECK(set.size() == n.size());
  CHECK_FALSE(set.count("conv1_bn"));
  CHECK_FALSE(set.count("conv2_block1_add"));
  CHECK((layer(layers, "conv1_conv").shape == std::vector<std::int64_t>{64, 112, 112}));
  CHECK((layer(layers, "pool1_pool").shape == std::vector<std::int64_t>{64, 56, 56}));
  CHECK((layer(layers, "conv2_block3_out").shape == std::vector<std::int64_t>{256, 28, 28}));
  CHECK((layer(layers, "conv3_block4_out").shape == std::vector<std::int64_t>{512, 14, 14}));
  CHECK((layer(layers, "conv4_block6_out").shape == std::vector<std::int64_t>{1024, 7, 7}));
  CHECK((layer(layers, "conv5_block3_out").shape == std::vector<std::int64_t>{2048, 7, 7}));
  CHECK(layer(layers, "avg_pool").shape == std::vector<std::int64_t>{2048});
  CHECK(top->last_conv_layer() == "post_relu");
  CHECK(top->output_activation() == "softmax");

  auto notop = create_model("resnet50v2", opts({{"include_top", false}, {"input_height", 180}, {"input_width", 180}}),
                            "random");
  CHECK(notop->parameter_count() == 23564800);
  CHECK(notop->layers().back().name == "post_relu");
  CHECK((layer(notop->layers(), "conv3_block4_out").shape == std::vector<std::int64_t>{512, 12, 12}));
  CHECK((layer(notop->layers(), "post_relu").shape == std::vector<std::int64_t>{2048, 6, 6}));
  CHECK(notop->preprocess(torch::full({1, 3, 2, 2}, 255.0)).max().item<double>() == Approx(1.0));
  auto avg = create_model("resnet50v2", opts({{"include_top", false}, {"pooling", "avg"}}), "random");
  CHECK(avg->layers().back().name == "avg_pool");
  auto max = create_model("resnet50v2", opts({{"include_top", false}, {"pooling", "max"}}), "random");
  CHECK(max->layers().back().name == "max_pool");
}

TEST_CASE("taps come from one pass and nothing past the last tap is computed", "[models][forward]") {
  auto model = create_model("resnet50v2", opts({{"include_top", false}, {"input_height", 64}, {"input_width", 64}}),
                            "random", nullptr, 3);
  torch::manual_seed(0);
  at::Tensor x = torch::randn({2, 3, 64, 64});
  auto both = model->forward(x, {"conv2_block1_out", "conv3_block4_out", "pool1_pool"});
  REQUIRE(both.size() == 3);
  auto alone = model->forward(x, {"conv3_block4_out"});
  // Equal up to rounding: a tapped tensor is handed out in NCHW layout, which may
  // change the convolution algorithm downstream.
  CHECK(rel(both.at("conv3_block4_out"), alone.at("conv3_block4_out")) < 1e-5);
  for (const auto& kv : both) CHECK(kv.second.is_contiguous());
  CHECK(both.at("conv3_block4_out").sizes() == torch::IntArrayRef({2, 512, 4, 4}));
  // conv3_block4_out = every other pixel of conv3_block3_out + conv3_block4_3_conv.
  auto parts = model->forward(x, {"conv3_block3_out", "conv3_block4_3_conv", "conv3_block4_out"});
  auto sub = parts.at("conv3_block3_out").slice(2, 0, 8, 2).slice(3, 0, 8, 2);
  CHECK(torch::allclose(parts.at("conv3_block4_out"), sub + parts.at("conv3_block4_3_conv"), 1e-5, 1e-5));

  // Truncation: the autograd graph of an early tap reaches back to the input only
  // through early layers, and a truncated pass is much faster than a full one.
  at::Tensor xi = x.clone().requires_grad_(true);
  auto early = model->forward(xi, {"conv1_conv"});
  CHECK(early.size() == 1);
  auto g = torch::autograd::grad({early.at("conv1_conv").sum()}, {xi});
  CHECK(g[0].abs().sum().item<double>() > 0);

  CHECK_THROWS_WITH(model->forward(x, {"conv3_block4_outt"}),
                    Catch::Contains("unknown layer 'conv3_block4_outt'") && Catch::Contains("conv3_block4_out"));
  CHECK_THROWS_WITH(model->forward(x, {"block1_conv1"}), Catch::Contains("unknown layer"));
  CHECK(model->forward(x, {}).empty());
}

TEST_CASE("truncated forward does not run later layers", "[models][forward]") {
  // A NaN planted in the input of later layers cannot leak into an earlier tap, and
  // timing shows the truncated pass skips the heavy tail.
  auto model = create_model("vgg16", opts({{"include_top", false}, {"input_height", 96}, {"input_width", 96}}),
                            "random", nullptr, 1);
  at::Tensor x = torch::rand({1, 3, 96, 96}) * 255;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) model->forward(x, {"block1_conv1"});
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) model->forward(x, {"block5_pool"});
  auto t2 = std::chrono::steady_clock::now();
  CHECK((t1 - t0) * 2 < (t2 - t1));
}

TEST_CASE("gradients flow to the input and to a tapped layer, parameters need none", "[models][forward]") {
  auto model = create_model("vgg16", opts({{"include_top", false}, {"input_height", 64}, {"input_width", 64}}),
                            "random", nullptr, 5);
  at::Tensor x = (torch::rand({1, 3, 64, 64}) * 255).requires_grad_(true);
  auto acts = model->forward(model->preprocess(x), {"block3_conv1", "block4_conv2"});
  at::Tensor loss = acts.at("block4_conv2").select(1, 7).mean();
  auto grads = torch::autograd::grad({loss}, {x, acts.at("block3_conv1")});
  CHECK(grads[0].sizes() == x.sizes());
  CHECK(grads[0].abs().sum().item<double>() > 0);
  CHECK(grads[1].sizes() == acts.at("block3_conv1").sizes());
  CHECK(grads[1].abs().sum().item<double>() > 0);
  // Without requires_grad on the input nothing is tracked: parameters are frozen.
  auto plain = model->forward(torch::rand({1, 3, 64, 64}), {"block1_conv1"});
  CHECK_FALSE(plain.at("block1_conv1").requires_grad());
}

namespace {

/// One max pool of a backend: the layer it reads and its window.
struct Pool {
  const char* input;
  int kernel, stride;
};

/// Windows of a max pool whose winner differs between two runs: where two candidates
/// are within float rounding of each other, the layouts' different summation orders can
/// crown different winners, and the gradient follows the winner to another pixel.
std::int64_t argmax_flips(const at::Tensor& a, const at::Tensor& b, const Pool& p) {
  auto winners = [&](const at::Tensor& x) {
    return std::get<1>(at::max_pool2d_with_indices(x.contiguous(), {p.kernel, p.kernel}, {p.stride, p.stride}));
  };
  return winners(a).ne(winners(b)).sum().item<std::int64_t>();
}

}  // namespace

// Channels-last and NCHW run different oneDNN kernels, so values differ by float
// rounding (1e-6). Input gradients then agree as closely, except where rounding flips a
// discontinuity of the network: a max pool's winner between two near-equal candidates,
// or a ReLU whose input is within rounding of zero. Either moves a whole unit's gradient
// and shifted VGG16's input gradient by up to 1.4e-2 in half of the random inputs here
// (Python PyTorch with torchvision's VGG16 does the same, flip for flip). So each input
// is checked for flips first, and inputs without one must agree to 1e-4.
TEST_CASE("the channels_last layout gives the same results as NCHW", "[models][forward]") {
  Value base(Dict{{"include_top", false}, {"input_height", 64}, {"input_width", 64}, {"channels_last", false}});
  Value fast(Dict{{"include_top", false}, {"input_height", 64}, {"input_width", 64}, {"channels_last", true}});
  const std::map<std::string, std::vector<Pool>> pools{
      {"vgg16",
       {{"block1_conv2", 2, 2}, {"block2_conv2", 2, 2}, {"block3_conv3", 2, 2}, {"block4_conv3", 2, 2},
        {"block5_conv3", 2, 2}}},
      {"resnet50v2", {{"pool1_pad", 3, 2}}}};
  for (const auto& [plugin, plugin_pools] : pools) {
    INFO(plugin);
    auto a = create_model(plugin, base, "random", nullptr, 9);
    auto b = create_model(plugin, fast, "random", nullptr, 9);
    const std::string tap = a->layers().back().name;
    const std::vector<std::string> every = names(a->layers());
    int compared = 0;
    for (int seed = 0; seed < 8; ++seed) {
      torch::manual_seed(seed);
      at::Tensor x = torch::rand({2, 3, 64, 64}) * 255;
      at::Tensor xa = a->preprocess(x).requires_grad_(true), xb = b->preprocess(x).requires_grad_(true);
      auto ya = a->forward(xa, every), yb = b->forward(xb, every);
      CHECK(rel(ya.at(tap), yb.at(tap)) < 1e-5);
      std::int64_t pool_flips = 0, relu_flips = 0;
      for (const auto& p : plugin_pools) pool_flips += argmax_flips(ya.at(p.input).detach(), yb.at(p.input).detach(), p);
      // A ReLU flip leaves an exact zero in one layout and a tiny value in the other.
      for (const auto& name : every) relu_flips += ya.at(name).eq(0).ne(yb.at(name).eq(0)).sum().item<std::int64_t>();
      auto ga = torch::autograd::grad({ya.at(tap).sum()}, {xa})[0];
      auto gb = torch::autograd::grad({yb.at(tap).sum()}, {xb})[0];
      std::cout << plugin << " channels_last, seed " << seed << ": output " << rel(ya.at(tap), yb.at(tap))
                << ", input gradient " << rel(ga, gb) << ", max-pool winner flips " << pool_flips << ", ReLU flips "
                << relu_flips << "\n";
      if (pool_flips + relu_flips > 0) continue;
      CHECK(rel(ga, gb) < 1e-4);
      ++compared;
    }
    CHECK(compared >= 3);  // flips are the exception, not the rule
  }
}

TEST_CASE("random weights are deterministic per seed", "[models][weights]") {
  auto a = create_model("vgg16", opts({{"include_top", false}, {"input_height", 32}, {"input_width", 32}}), "random",
                        nullptr, 42);
  auto b = create_model("vgg16", opts({{"include_top", false}, {"input_height", 32}, {"input_width", 32}}), "random",
                        nullptr, 42);
  auto c = create_model("vgg16", opts({{"include_top", false}, {"input_height", 32}, {"input_width", 32}}), "random",
                        nullptr, 43);
  at::Tensor x = torch::rand({1, 3, 32, 32});
  auto ya = a->forward(x, {"block2_conv1"}).at("block2_conv1");
  CHECK(torch::equal(ya, b->forward(x, {"block2_conv1"}).at("block2_conv1")));
  CHECK_FALSE(torch::equal(ya, c->forward(x, {"block2_conv1"}).at("block2_conv1")));
  CHECK(a->weights_info().source == "random");
  CHECK(a->weights_info().file.empty());
}

TEST_CASE("preprocessing modes and their inverses", "[models][preprocess]") {
  auto vgg = create_model("vgg16", opts({{"include_top", false}, {"input_height", 32}, {"input_width", 32}}), "random");
  at::Tensor rgb = torch::zeros({1, 3, 1, 1});
  rgb[0][0][0][0] = 200;  // R
  rgb[0][1][0][0] = 100;  // G
  rgb[0][2][0][0] = 50;   // B
  at::Tensor caffe = vgg->preprocess(rgb);
  CHECK(caffe[0][0][0][0].item<double>() == Approx(50 - 103.939));   // B first
  CHECK(caffe[0][1][0][0].item<double>() == Approx(100 - 116.779));
  CHECK(caffe[0][2][0][0].item<double>() == Approx(200 - 123.68));
  CHECK(torch::allclose(vgg->deprocess(caffe), rgb, 1e-4, 1e-3));
  auto res = create_model("resnet50v2", opts({{"include_top", false}, {"input_height", 32}, {"input_width", 32}}),
                          "random");
  at::Tensor tf = res->preprocess(rgb);
  CHECK(tf[0][0][0][0].item<double>() == Approx(200 / 127.5 - 1));
  CHECK(torch::allclose(res->deprocess(tf), rgb, 1e-4, 1e-3));
}

TEST_CASE("each plugin declares a complete draft-07 options schema", "[models][schema]") {
  for (const char* plugin : {"vgg16", "resnet50v2", "small_convnet"}) {
    INFO(plugin);
    auto schema = plugin_schema(plugin);
    CHECK(schema["$schema"] == "http://json-schema.org/draft-07/schema#");
    CHECK(schema["additionalProperties"] == false);
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
      INFO(it.key());
      CHECK(it.value().contains("type"));
      CHECK(it.value().contains("default"));
      CHECK(it.value().contains("description"));
    }
  }
}

TEST_CASE("under autocast the graph's cached low-precision weights round as autocast does", "[models][bf16]") {
  auto g = std::make_unique<vizrun::models::Graph>(vizrun::models::Shape{3, 10, 10});
  const int conv = g->conv2d("conv", -1, 6, 3, 3, 1, "same", true, "relu");
  g->dense("fc", g->flatten("flat", conv), 4);
  torch::manual_seed(3);
  for (auto& p : g->params()) p.tensor = torch::randn(p.shape);
  g->finalize(at::kCPU);
  const auto& params = g->params();
  const at::Tensor x = torch::randn({2, 3, 10, 10});

  // Reference: the same layers written directly, autocast casting the fp32 weights itself.
  auto reference = [&] {
    at::Tensor y = at::relu(at::conv2d(x, params[0].tensor, params[1].tensor, {1, 1}, {1, 1}));
    return at::linear(y.flatten(1), params[2].tensor, params[3].tensor);
  };
  at::Tensor expected, first, second;
  {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
    expected = reference();
    first = g->forward(x, {"fc"}).at("fc");
    second = g->forward(x, {"fc"}).at("fc");  // from the cached copies
    at::autocast::set_cpu_enabled(false);
    at::autocast::clear_cache();
  }
  CHECK(first.scalar_type() == at::kBFloat16);
  CHECK(torch::equal(first, expected));
  CHECK(torch::equal(second, expected));
  CHECK(params[0].autocast_copy.scalar_type() == at::kBFloat16);
  // Outside autocast the fp32 weights are used again.
  const at::Tensor fp32 = g->forward(x, {"fc"}).at("fc");
  CHECK(fp32.scalar_type() == at::kFloat);
  CHECK(torch::allclose(fp32, reference(), 1e-5, 1e-5));
  CHECK(rel(fp32, first.to(at::kFloat)) < 3e-2);  // bf16 keeps 8 bits of mantissa
}

TEST_CASE("a model with its classifier runs the layers before it at other sizes", "[models][vgg16]") {
  auto top = create_model("vgg16", opts({}), "random");
  const auto runnable = top->layers_for(128, 128);
  REQUIRE(!runnable.empty());
  CHECK(runnable.back().name == "flatten");  // fc1's fan-in is fixed at 7 x 7 x 512
  CHECK((layer(runnable, "block5_conv3").shape == std::vector<std::int64_t>{512, 8, 8}));
  CHECK(top->layers_for(224, 224).back().name == "predictions");
  const at::Tensor x = top->preprocess(torch::rand({1, 3, 128, 128}) * 255);
  CHECK(top->forward(x, {"block5_conv3"}).at("block5_conv3").sizes() == at::IntArrayRef({1, 512, 8, 8}));
  CHECK(top->forward_channels(x, "block5_conv3", torch::tensor({7}, torch::kLong)).size(2) == 8);
  CHECK_THROWS_WITH(top->forward(x, {"fc1"}), Catch::Contains("layer 'fc1' needs this model's 224x224 input"));
}

TEST_CASE("folded padding, convolution and BatchNorm compute the same function", "[models][fold]") {
  using vizrun::models::Graph;
  auto build = [] {
    auto g = std::make_unique<Graph>(vizrun::models::Shape{3, 12, 12});
    int x = g->conv2d("conv1", -1, 8, 3, 3, 1, "same", false);
    x = g->batch_norm("bn1", x, 1.001e-5);
    x = g->activation("relu1", x, "relu");
    x = g->conv2d("conv2", x, 6, 3, 3, 2, "same", true);  // odd padding at stride 2
    x = g->batch_norm("bn2", x, 1.001e-5);
    x = g->zero_pad("pad3", x, 1, 1, 1, 1);  // folds into conv3, which folds into bn3
    x = g->conv2d("conv3", x, 5, 3, 3, 1, "valid", false);
    g->batch_norm("bn3", x, 1.001e-5);
    torch::manual_seed(5);
    for (auto& p : g->params())
      p.tensor = p.keras_var == "moving_variance" ? torch::rand(p.shape) + 0.5 : torch::randn(p.shape);
    return g;
  };
  auto plain = build(), folded = build();
  plain->finalize(at::kCPU, false, /*fold_batch_norm=*/false);
  folded->finalize(at::kCPU, false, /*fold_batch_norm=*/true);
  const at::Tensor x = torch::randn({2, 3, 12, 12});
  at::Tensor xa = x.clone().requires_grad_(true), xb = x.clone().requires_grad_(true);
  const at::Tensor ya = plain->forward(xa, {"bn3"}).at("bn3"), yb = folded->forward(xb, {"bn3"}).at("bn3");
  CHECK(rel(ya, yb) < 1e-5);
  CHECK_FALSE(torch::equal(ya, yb));  // the folded kernels ran: rounding differs
  const at::Tensor ga = torch::autograd::grad({ya.pow(2).sum()}, {xa})[0];
  const at::Tensor gb = torch::autograd::grad({yb.pow(2).sum()}, {xb})[0];
  CHECK(rel(ga, gb) < 1e-4);
  // Tapped layers are computed as themselves, and what reads them then runs unfolded.
  const auto both = folded->forward(x, {"conv1", "bn1", "pad3", "conv3"});
  const auto reference = plain->forward(x, {"conv1", "bn1", "pad3", "conv3"});
  CHECK(torch::equal(both.at("conv1"), reference.at("conv1")));
  CHECK(torch::equal(both.at("bn1"), reference.at("bn1")));
  for (const char* name : {"pad3", "conv3"}) CHECK(rel(both.at(name), reference.at(name)) < 1e-5);  // bn2 folded
}
