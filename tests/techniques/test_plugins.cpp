// The technique plugins as the host loads them: the schema rules of DEVELOPERS.md,
// and a run through the registry with the real image decoding of TestHost.
#include "catch.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "fakes.h"
#include "vizrun/kit.h"
#include "test_support.h"
#include "tiny_model.h"
#include "vizrun/suggest.h"

using json = nlohmann::json;
using namespace vizrun;

TEST_CASE("technique schemas: every property has a type or a choice, a default unless required, a description", "[plugins]") {
  for (const char* name : {"activations", "filter_ascent", "gradcam"}) {
    INFO(name);
    const auto& d = testing::registry().find(name, "technique");
    const json schema = json::parse(d.options_schema);
    CHECK(schema["additionalProperties"] == false);
    const json required = schema.value("required", json::array());
    for (const auto& [key, prop] : schema["properties"].items()) {
      INFO(key);
      CHECK((prop.contains("type") || prop.contains("oneOf") || prop.contains("enum")));
      CHECK(prop.contains("description"));
      const bool is_required = std::find(required.begin(), required.end(), key) != required.end();
      CHECK((is_required || prop.contains("default")));
    }
  }
}

TEST_CASE("gradcam and activations through the registry on a real PNG", "[plugins]") {
  testing::TestHost host(std::string(VIZRUN_SOURCE_DIR) + "/configs");
  testing::TinyNet model(testing::technique_fixtures() + "/tiny_net");
  CreateArgs args;
  args.host = &host;
  args.options = Dict{{"images", List{"../data/images/chelsea.png"}}, {"layer", "conv2"}, {"size", 48},
                      {"classes", Dict{{"top", 2}}}, {"score", "logit"}};
  auto gradcam = testing::registry().create_technique("gradcam", args);
  testing::MemoryOutput out;
  gradcam->run(model, out);
  REQUIRE(out.arrays.size() == 2);
  CHECK(out.arrays[0].data.sizes() == at::IntArrayRef({48, 48}));
  bool overlay = false;
  for (const auto& item : out.images) {
    if (item.name.find("_overlay") == std::string::npos) continue;
    overlay = true;
    CHECK(item.data.size(1) == 451);  // the photo's own width
    CHECK(item.data.size(0) > 300);   // its height plus the title band
  }
  CHECK(overlay);

  args.options = Dict{{"images", List{"../data/images/chelsea.png"}}, {"layers", "all_conv"}, {"size", 40}};
  auto activations = testing::registry().create_technique("activations", args);
  testing::MemoryOutput grids;
  activations->run(model, grids);
  CHECK(grids.images.size() == 3);
}

TEST_CASE("filter_ascent (forward_channels) on a model plugin built for SDK 1.0: the fallback, same results", "[plugins][extension]") {
  testing::TestHost host;
  host::PluginRegistry old_registry({testing::test_plugin_dir() + "/sdk10"});
  host::PluginRegistry new_registry({testing::test_plugin_dir() + "/good"});
  REQUIRE(old_registry.find("tiny_model", "model").sdk_version == "1.0");
  CreateArgs model_args;
  model_args.options = Dict{{"size", 16}};
  model_args.host = &host;
  model_args.weights = "random";
  auto old_model = old_registry.create_model("tiny_model", model_args);
  auto new_model = new_registry.create_model("tiny_model", model_args);
  const auto final_losses = [&](ModelBackend& model, bool target_filters_only) {
    CreateArgs args;
    args.host = &host;
    args.seed = 5;
    args.options = testing::with_defaults("filter_ascent", Dict{{"layers", "conv2"}, {"filters", "all"}, {"size", 16},
                                                                {"steps", 3}, {"step_size", 0.1}, {"batch_size", 4},
                                                                {"target_filters_only", target_filters_only}});
    auto technique = testing::registry().create_technique("filter_ascent", args);
    testing::MemoryOutput out;
    technique->run(model, out);
    CHECK(out.find_image("conv2/filter_0005") != nullptr);
    return out.records.at("final_losses").at("conv2");
  };
  const Value reference = final_losses(*new_model, false);
  REQUIRE(reference.as_list().size() == 6);
  CHECK(final_losses(*old_model, true) == reference);
  CHECK(final_losses(*old_model, false) == reference);
  CHECK(final_losses(*new_model, true) == reference);
}

TEST_CASE("the shipped model plugins declare the extensions they implement", "[plugins][extension]") {
  for (const char* name : {"vgg16", "resnet50v2", "small_convnet"}) {
    INFO(name);
    CHECK(testing::registry().find(name, "model").extensions ==
          std::vector<std::string>{ChannelForward::kInterfaceId, LayerSummary::kInterfaceId, LayerReplace::kInterfaceId,
                                   GuidedRelu::kInterfaceId});
  }
  for (const char* name : {"activations", "filter_ascent", "gradcam"}) {
    INFO(name);
    CHECK(testing::registry().find(name, "technique").extensions == std::vector<std::string>{ModelCheck::kInterfaceId});
  }
}

TEST_CASE("the technique kit and the model kit suggest layer names with the SDK's matcher", "[plugins][suggest]") {
  testing::TinyNet tiny;
  std::vector<std::string> names;
  for (const auto& l : tiny.layers()) names.push_back(l.name);
  const std::string kit_hint = did_you_mean("conv4", names);
  REQUIRE(kit_hint == "did you mean 'conv1', 'conv2' or 'conv3'?");
  CHECK_THROWS_WITH(kit::select_layers(tiny.layers(), Value("conv4")),
                    Catch::Contains("'conv4' matches no layer of the model; " + kit_hint));

  testing::TestHost host;
  CreateArgs args;
  args.host = &host;
  args.weights = "random";
  args.options = testing::with_defaults("vgg16", Dict{{"include_top", false}});
  auto vgg = testing::registry().create_model("vgg16", args);
  names.clear();
  for (const auto& l : vgg->layers()) names.push_back(l.name);
  const std::string graph_hint = did_you_mean("block1_conv", names);
  REQUIRE(graph_hint == "did you mean 'block1_conv1', 'block1_conv2' or 'block2_conv1'?");
  CHECK_THROWS_WITH(vgg->forward(at::zeros({1, 3, 32, 32}), {"block1_conv"}),
                    Catch::Contains("unknown layer 'block1_conv'; " + graph_hint));
}
