// Plugin loading: the handshake accepts good plugins and refuses each kind of bad
// one with a one-line message naming the file, what was found and what was expected.
#include "catch.h"

#include "test_support.h"
#include "vizrun_host/plugin_registry.h"

using namespace vizrun::host;
using Catch::Matchers::Contains;

namespace {
std::string bad(const std::string& name) { return vizrun::testing::test_plugin_dir() + "/bad/" + name + ".vizplugin.so"; }
std::string refusal(const std::string& name) {
  try {
    PluginRegistry::inspect(bad(name));
  } catch (const vizrun::Error& e) {
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("a good plugin declares its metadata and schema", "[registry]") {
  PluginRegistry registry({vizrun::testing::test_plugin_dir() + "/good"});
  const auto& d = registry.find("layer_means", "technique");
  CHECK(d.kind == "technique");
  CHECK(d.version == "1.0.0");
  CHECK(d.sdk_version == std::to_string(VIZRUN_SDK_VERSION_MAJOR) + "." + std::to_string(VIZRUN_SDK_VERSION_MINOR));
  CHECK(d.fingerprint == VIZRUN_BUILD_FINGERPRINT);
  CHECK_THAT(d.options_schema, Contains("sleep_ms"));
  CHECK(registry.find("tiny_model", "model").kind == "model");
  CHECK_THROWS_WITH(registry.find("tiny_model", "technique"), Contains("available: layer_means"));
}

TEST_CASE("each kind of broken plugin is refused with a precise reason", "[registry]") {
  CHECK_THAT(refusal("no_entry"), Contains("no_entry.vizplugin.so: no entry point 'vizrun_plugin_info'"));
  CHECK_THAT(refusal("wrong_sdk"), Contains("built for vizrun SDK 99.0, this vizrun provides SDK 1."));
  CHECK_THAT(refusal("wrong_torch"), Contains("built against torch 0.4.1, cxx11 abi 0, this vizrun uses torch "));
  CHECK_THAT(refusal("not_a_library"), Contains("not_a_library.vizplugin.so: not a loadable plugin"));
  CHECK_THAT(refusal("wrong_name"), Contains("declares the name 'something_else', expected 'wrong_name'"));
  CHECK_THAT(refusal("short_info"), Contains("plugin information is 72 bytes, expected at least 80 (the SDK 1.0 layout)"));
  for (const char* name : {"no_entry", "wrong_sdk", "wrong_torch", "not_a_library", "wrong_name", "short_info"}) {
    CHECK(refusal(name).find('\n') == std::string::npos);
  }
}

TEST_CASE("a folder scan keeps the good plugins and reports the bad ones", "[registry]") {
  PluginRegistry registry({vizrun::testing::test_plugin_dir() + "/bad", vizrun::testing::test_plugin_dir() + "/good"});
  std::vector<std::string> names;
  for (const auto& p : registry.plugins()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"throws_on_create", "layer_means", "tiny_model"});
  CHECK(registry.rejected().size() == 6);
}

TEST_CASE("a constructor that throws becomes an error naming the plugin", "[registry]") {
  PluginRegistry registry({vizrun::testing::test_plugin_dir() + "/bad"});
  vizrun::CreateArgs args;
  CHECK_THROWS_WITH(registry.create_technique("throws_on_create", args),
                    Contains("technique plugin 'throws_on_create'") && Contains("the moon is in the wrong phase"));
}

TEST_CASE("objects keep their plugin loaded after the registry is gone", "[registry]") {
  std::shared_ptr<vizrun::ModelBackend> model;
  vizrun::testing::TestHost host;
  {
    PluginRegistry registry({vizrun::testing::test_plugin_dir() + "/good"});
    vizrun::CreateArgs args;
    args.options = vizrun::Dict{{"size", 8}};
    args.host = &host;
    args.weights = "random";
    model = registry.create_model("tiny_model", args);
  }
  // The registry's handles are gone; the deleter still holds the library.
  CHECK(model->layers().size() == 5);
  CHECK(model->class_names().at(1) == "square");
}
