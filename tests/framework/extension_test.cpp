// Extension interfaces (vizrun/extension.h) and plugins built for an older SDK: the
// tiny_model and layer_means fixtures compiled against the SDK 1.0 headers
// (tests/plugins/sdk10) load, and code built for this SDK uses them, forward_channels
// included, without calling a vtable slot they lack.
#include "catch.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "test_support.h"
#include "vizrun/model_extensions.h"
#include "vizrun_host/plugin_registry.h"

using namespace vizrun;
using Catch::Matchers::Contains;

namespace {

std::string sdk10_dir() { return testing::test_plugin_dir() + "/sdk10"; }
std::string good_dir() { return testing::test_plugin_dir() + "/good"; }

CreateArgs tiny_args(const Host* host) {
  CreateArgs args;
  args.options = Dict{{"size", 8}};
  args.host = host;
  args.weights = "random";
  args.seed = 3;
  return args;
}

struct Result {
  at::Tensor out, grad;
};

// `f(x)` and the gradient of its sum with respect to x.
template <class F>
Result with_grad(const at::Tensor& start, F f) {
  torch::autograd::AutoGradMode grad_on(true);
  at::Tensor x = start.clone().requires_grad_(true);
  at::Tensor y = f(x);
  at::Tensor g = torch::autograd::grad({y.sum()}, {x})[0];
  return {y.detach(), g.detach()};
}

/// A model built with this SDK that implements ChannelForward and counts which path ran.
class CountingModel final : public ModelBackend, public ChannelForward {
 public:
  std::vector<LayerInfo> layers() const override { return {{"conv", "conv2d", {2, 4, 4}}}; }
  std::vector<LayerInfo> layers_for(std::int64_t h, std::int64_t w) const override { return {{"conv", "conv2d", {2, h, w}}}; }
  InputSpec input_spec() const override { return {1, 4, 4, false, 1}; }
  at::Tensor preprocess(const at::Tensor& x) const override { return x; }
  at::Tensor deprocess(const at::Tensor& x) const override { return x; }
  Activations forward(const at::Tensor& input, const std::vector<std::string>&) override {
    ++forwards;
    return {{"conv", at::cat({input, input * 2}, 1)}};
  }
  std::vector<std::string> class_names() const override { return {}; }
  std::string output_activation() const override { return "none"; }
  std::string logits_layer() const override { return ""; }
  std::string last_conv_layer() const override { return "conv"; }
  c10::Device device() const override { return c10::kCPU; }
  WeightsInfo weights_info() const override { return {"random", "", "", {}}; }
  std::int64_t parameter_count() const override { return 0; }
  at::Tensor forward_channels(const at::Tensor& input, const std::string&, const at::Tensor& channels) override {
    ++selected;
    return input * (channels.to(at::kFloat) + 1).view({-1, 1, 1, 1});
  }
  int forwards = 0;
  int selected = 0;
};

}  // namespace

TEST_CASE("a plugin built for SDK 1.0 passes the handshake with its smaller plugin information", "[extension]") {
  host::PluginRegistry registry({sdk10_dir()});
  REQUIRE(registry.rejected().empty());
  for (const auto& [name, kind] : {std::pair{"tiny_model", "model"}, std::pair{"layer_means", "technique"}}) {
    const auto& d = registry.find(name, kind);
    CHECK(d.sdk_version == "1.0");
    CHECK(d.extensions.empty());  // the 1.0 struct has no extensions field: not read
  }
  // This SDK's struct is larger than the 1.0 one that was accepted.
  CHECK(sizeof(VizrunPluginInfo) > VIZRUN_PLUGIN_INFO_SIZE_1_0);
  CHECK(host::PluginRegistry::inspect(good_dir() + "/tiny_model.vizplugin.so").sdk_version ==
        std::to_string(VIZRUN_SDK_VERSION_MAJOR) + "." + std::to_string(VIZRUN_SDK_VERSION_MINOR));
}

TEST_CASE("plugin information shorter than the SDK 1.0 struct is refused", "[extension]") {
  try {
    host::PluginRegistry::inspect(testing::test_plugin_dir() + "/bad/short_info.vizplugin.so");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK_THAT(std::string(e.what()),
               Contains("short_info.vizplugin.so: plugin information is " +
                        std::to_string(VIZRUN_PLUGIN_INFO_SIZE_1_0 - sizeof(void*)) + " bytes, expected at least " +
                        std::to_string(VIZRUN_PLUGIN_INFO_SIZE_1_0) + " (the SDK 1.0 layout)"));
  }
}

TEST_CASE("forward_channels on a model built for SDK 1.0 runs the fallback and equals the 1.2 build", "[extension]") {
  testing::TestHost host;
  host::PluginRegistry old_registry({sdk10_dir()});
  host::PluginRegistry new_registry({good_dir()});
  auto old_model = old_registry.create_model("tiny_model", tiny_args(&host));
  auto new_model = new_registry.create_model("tiny_model", tiny_args(&host));
  // tiny_model implements no extension in either build; the 1.0 one has no
  // query_interface slot at all, so the host's adapter answers for it.
  CHECK(query<ChannelForward>(*old_model) == nullptr);
  CHECK(query<ChannelForward>(*new_model) == nullptr);
  CHECK(old_model->query_interface("no.such.Interface/1") == nullptr);

  at::manual_seed(11);
  const at::Tensor start = at::rand({3, 3, 8, 8});
  const at::Tensor channels = at::tensor(std::vector<std::int64_t>{0, 5, 2});
  const auto gather = [&](ModelBackend& m) {
    return [&m, &channels](const at::Tensor& x) {
      const at::Tensor act = m.forward(x, {"conv2"}).at("conv2");  // {3, 6, 4, 4}
      return at::stack({act[0][0], act[1][5], act[2][2]}).unsqueeze(1);
    };
  };
  const Result reference = with_grad(start, gather(*new_model));
  REQUIRE(reference.out.sizes() == at::IntArrayRef({3, 1, 4, 4}));
  REQUIRE(reference.grad.abs().max().item<double>() > 0);

  // The SDK helper: query, then forward + gather.
  const Result helper = with_grad(start, [&](const at::Tensor& x) { return forward_channels(*old_model, x, "conv2", channels); });
  // The SDK 1.1 slot, as a technique built for 1.1 calls it: the 1.0 plugin lacks it,
  // the adapter has it.
  const Result slot = with_grad(start, [&](const at::Tensor& x) { return old_model->forward_channels(x, "conv2", channels); });
  for (const Result* r : {&helper, &slot}) {
    CHECK(at::equal(r->out, reference.out));
    CHECK(at::equal(r->grad, reference.grad));
  }
  // The 1.0 object's own 1.0 slots still answer through the adapter.
  CHECK(old_model->layers().size() == 5);
  CHECK(old_model->parameter_count() == new_model->parameter_count());
  CHECK_THROWS_WITH(forward_channels(*old_model, start, "logits", at::tensor(std::vector<std::int64_t>{0, 0, 0})),
                    Contains("layer logits has no spatial output"));
  CHECK_THROWS_WITH(forward_channels(*old_model, start, "conv2", at::tensor(std::vector<std::int64_t>{0, 6, 0})),
                    Contains("channel index out of range for layer conv2 (6 channels)"));
}

TEST_CASE("a technique built for SDK 1.0 runs, wrapped, on a model built for SDK 1.0", "[extension]") {
  testing::TestHost host;
  host::PluginRegistry registry({sdk10_dir()});
  auto model = registry.create_model("tiny_model", tiny_args(&host));
  CreateArgs args;
  args.host = &host;
  args.options = Dict{{"images", List{}}, {"noise_images", 2}, {"layers", List{"conv1", "conv2"}}, {"sleep_ms", 0},
                      {"fail", false}};
  auto technique = registry.create_technique("layer_means", args);
  CHECK(technique->query_interface("vizrun.ChannelForward/1") == nullptr);
  testing::MemoryOutput out;
  technique->run(*model, out);
  CHECK(out.images.size() == 4);
  REQUIRE(out.arrays.size() == 4);
  CHECK(out.arrays[1].data.sizes() == at::IntArrayRef({6, 4, 4}));
}

TEST_CASE("query finds an extension a class derives from, the adapters follow the plugin's SDK minor", "[extension]") {
  auto model = std::make_shared<CountingModel>();
  CHECK(query<ChannelForward>(*model) == static_cast<ChannelForward*>(model.get()));
  const at::Tensor x = at::ones({2, 1, 4, 4});
  const at::Tensor channels = at::tensor(std::vector<std::int64_t>{1, 0});
  at::Tensor y = forward_channels(*model, x, "conv", channels);
  CHECK(model->selected == 1);
  CHECK(model->forwards == 0);
  CHECK(y[0].sum().item<double>() == 32);  // channel 1 -> factor 2 in CountingModel's own path

  // Built for 1.2 and later: handed out as is.
  CHECK(vizrun::detail::adapt_model(model, 2).get() == model.get());
  // Built for 1.1: the slot exists, so the adapter offers ChannelForward through it.
  auto v11 = vizrun::detail::adapt_model(model, 1);
  REQUIRE(v11.get() != model.get());
  REQUIRE(query<ChannelForward>(*v11) != nullptr);
  forward_channels(*v11, x, "conv", channels);
  CHECK(model->selected == 2);
  // Built for 1.0: no such slot; the fallback (forward + gather) runs instead.
  auto v10 = vizrun::detail::adapt_model(model, 0);
  CHECK(query<ChannelForward>(*v10) == nullptr);
  y = forward_channels(*v10, x, "conv", channels);
  v10->forward_channels(x, "conv", channels);
  CHECK(model->selected == 2);
  CHECK(model->forwards == 2);
  CHECK(y[0].sum().item<double>() == 32);  // channel 1 of cat(x, 2x)
  CHECK(y[1].sum().item<double>() == 16);
}

TEST_CASE("a technique plugin using forward_channels runs on the SDK 1.0 model plugin, both ways", "[extension]") {
  testing::TestHost host;
  host::PluginRegistry registry({testing::test_plugin_dir() + "/ext", sdk10_dir()});
  host::PluginRegistry current({good_dir()});
  auto old_model = registry.create_model("tiny_model", tiny_args(&host));
  auto new_model = current.create_model("tiny_model", tiny_args(&host));
  const auto probe = [&](ModelBackend& model, const std::string& via) {
    CreateArgs args;
    args.host = &host;
    args.options = Dict{{"layer", "conv2"}, {"channels", List{0, 5, 2}}, {"via", via}};
    auto technique = registry.create_technique("channel_probe", args);
    auto out = std::make_unique<testing::MemoryOutput>();
    technique->run(model, *out);
    CHECK(out->records.at("has_channel_forward") == Value(false));
    return out;
  };
  const auto reference = probe(*new_model, "helper");
  REQUIRE(reference->arrays.size() == 2);
  CHECK(reference->arrays[0].data.sizes() == at::IntArrayRef({3, 1, 4, 4}));
  CHECK(reference->arrays[1].data.abs().max().item<double>() > 0);
  for (const char* via : {"helper", "slot"}) {
    INFO(via);
    const auto out = probe(*old_model, via);
    REQUIRE(out->arrays.size() == 2);
    CHECK(at::equal(out->arrays[0].data, reference->arrays[0].data));
    CHECK(at::equal(out->arrays[1].data, reference->arrays[1].data));
  }
}

TEST_CASE("layer_details falls back to the layer list on a model built for SDK 1.0, and a shipped model answers", "[extension]") {
  testing::TestHost host;
  host::PluginRegistry old_registry({sdk10_dir()});
  auto old_model = old_registry.create_model("tiny_model", tiny_args(&host));
  CHECK(query<LayerSummary>(*old_model) == nullptr);
  const auto spec = old_model->input_spec();
  const auto details = layer_details(*old_model, spec.height, spec.width);
  const auto layers = old_model->layers_for(spec.height, spec.width);
  REQUIRE(details.size() == layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    CHECK(details[i].name == layers[i].name);
    CHECK(details[i].shape == layers[i].shape);
    CHECK(details[i].parameters == -1);
    CHECK(details[i].inputs.empty());
  }

  testing::TestHost configs(std::string(VIZRUN_SOURCE_DIR) + "/configs");
  CreateArgs args;
  args.options = testing::with_defaults("small_convnet", Dict{{"architecture", "models/fashion_mnist.yaml"}});
  args.host = &configs;
  args.weights = "random";
  auto convnet = testing::registry().create_model("small_convnet", args);
  REQUIRE(query<LayerSummary>(*convnet) != nullptr);
  std::int64_t total = 0;
  for (const auto& d : layer_details(*convnet, 28, 28)) total += d.parameters;
  CHECK(total == convnet->parameter_count());
}
