// The technique plugins as the host loads them: the schema rules of DEVELOPERS.md,
// and a run through the registry with the real image decoding of TestHost.
#include "catch.h"

#include <nlohmann/json.hpp>

#include "fakes.h"
#include "test_support.h"
#include "tiny_model.h"

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
