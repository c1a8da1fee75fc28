// Experiment files: typing, overrides and every kind of validation error, with
// the line and column each message must point at.
#include "catch.h"

#include <filesystem>

#include "test_support.h"
#include "vizrun_host/config.h"
#include "vizrun_host/experiment.h"

namespace fs = std::filesystem;
using namespace vizrun::host;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const char* kGood = R"(experiment: tiny
seed: 7
model:
  plugin: tiny_model
  weights: random
techniques:
  - plugin: layer_means
    options:
      layers: [conv1]
)";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

Experiment resolve_text(const std::string& text) { return resolve_experiment(parse_config(text, "exp.yaml", "/base")); }

const PluginRegistry& test_registry() {
  static PluginRegistry r({vizrun::testing::test_plugin_dir() + "/good"});
  return r;
}

}  // namespace

TEST_CASE("plain YAML scalars get YAML 1.2 core types, quoted ones stay strings", "[config]") {
  auto t = parse_config("a: 3\nb: 2.5\nc: true\nd: '3'\ne: ~\nf: hello\ng: 1e3\n", "x.yaml", ".");
  CHECK(t.root["a"].is_number_integer());
  CHECK(t.root["b"].get<double>() == 2.5);
  CHECK(t.root["c"].get<bool>());
  CHECK(t.root["d"].get<std::string>() == "3");
  CHECK(t.root["e"].is_null());
  CHECK(t.root["f"] == "hello");
  CHECK(t.root["g"].get<double>() == 1000.0);
}

TEST_CASE("an empty experiment file, or one of comments only, has an origin for its messages", "[config]") {
  // Found by fuzz_config (its first input, the empty file): every path, the root
  // included, has an origin; messages about the top level point at the file's start.
  for (const std::string text : {"", "# nothing but a comment\n", "\n\n"}) {
    const ConfigTree tree = parse_config(text, "empty.yaml", "/base");
    CHECK(tree.root == nlohmann::json::object());
    REQUIRE(tree.value_origins.count("") == 1);
    CHECK(tree.value_origins.at("").describe() == "empty.yaml:1:1");
    CHECK_THROWS_WITH(resolve_experiment(tree), Contains("empty.yaml") && Contains("missing required key 'model'"));
  }
}

TEST_CASE("keys and values copied by an alias have origins: the alias's", "[config]") {
  // Found by fuzz_config: `options: *base` left the copied keys without origins.
  const ConfigTree tree = parse_config("base: &base {steps: 10, init: {kind: noise}}\nuse:\n  options: *base\n",
                                       "alias.yaml", "/base");
  for (const char* pointer : {"/use/options/steps", "/use/options/init", "/use/options/init/kind"}) {
    INFO(pointer);
    REQUIRE(tree.key_origins.count(pointer) == 1);
    CHECK(tree.key_origins.at(pointer).describe() == "alias.yaml:3:12");
    CHECK(tree.value_origins.at(pointer).describe() == "alias.yaml:3:12");
  }
  CHECK(tree.value_origins.at("/base/steps").describe() == "alias.yaml:1:21");  // the anchor keeps its own
}

TEST_CASE("an override's key path must be UTF-8, messages show the override printable", "[config][overrides]") {
  // Found by fuzz_override: the message repeated the raw bytes, and a key that is not
  // UTF-8 would have become a key of the resolved config and the manifest.
  ConfigTree tree = parse_config("a: 1\n", "exp.yaml", "/base");
  CHECK_THROWS_WITH(apply_override(tree, "ext\xb6ra=1"),
                    "--set ext\\xb6ra=1: byte 4 of the key path (0xb6) is not UTF-8; expected UTF-8 text");
  CHECK_THROWS_WITH(apply_override(tree, "a\xff"), "--set a\\xff: expected key.path=value");
  CHECK(tree.root == nlohmann::json({{"a", 1}}));
}

TEST_CASE("an override's key path holds no control character, a NUL included", "[config][overrides]") {
  // Found by fuzz_override (7 December): a key path with NUL and control bytes was set
  // as a key of the tree, while a NUL in the value was refused.
  ConfigTree tree = parse_config("a: 1\n", "exp.yaml", "/base");
  const char with_nul[] = "techn\x01\x02\0iques.0=1";
  CHECK_THROWS_WITH(apply_override(tree, std::string(with_nul, sizeof with_nul - 1)),
                    "--set techn\\x01\\x02\\x00iques.0=1: byte 6 of the key path (0x01) is a control character; "
                    "expected UTF-8 text");
  CHECK_THROWS_WITH(apply_override(tree, std::string("a\0b=1", 5)),
                    "--set a\\x00b=1: byte 2 of the key path (0x00) is a control character; expected UTF-8 text");
  CHECK_THROWS_WITH(apply_override(tree, "a\tb=1"),
                    "--set a\\x09b=1: byte 2 of the key path (0x09) is a control character; expected UTF-8 text");
  CHECK_THROWS_WITH(apply_override(tree, "a\x7f\xb6=1"),  // the first bad byte is named
                    "--set a\\x7f\\xb6=1: byte 2 of the key path (0x7f) is a control character; expected UTF-8 text");
  CHECK(tree.root == nlohmann::json({{"a", 1}}));
  apply_override(tree, "b=x\ty");  // a tab in a value is YAML's, and stays allowed
  CHECK(tree.root["b"] == "x\ty");
}

TEST_CASE("a good experiment resolves with defaults filled in", "[config]") {
  Experiment e = resolve_text(kGood);
  CHECK(e.name == "tiny");
  CHECK(e.seed == 7);
  CHECK(e.device == "auto");
  CHECK(e.precision == "fp32");
  CHECK(e.output == (fs::current_path() / "runs").string());  // the caller's folder, not the config's
  REQUIRE(e.techniques.size() == 1);
  CHECK(e.techniques[0].id == "layer_means");
  validate_plugins(e, test_registry());
  CHECK(e.techniques[0].options["sleep_ms"] == 0);           // plugin default filled
  CHECK(e.tree.root["techniques"][0]["options"]["fail"] == false);  // and recorded in the resolved tree
}

TEST_CASE("errors name file, line, column, key path and expectation", "[config]") {
  SECTION("unknown top-level key, with a suggestion") {
    std::string msg = error_of([] { resolve_text(std::string(kGood) + "sede: 3\n"); });
    CHECK_THAT(msg, StartsWith("exp.yaml:10:1: sede: unknown key 'sede' (did you mean 'seed'?)"));
  }
  SECTION("wrong type") {
    std::string text = kGood;
    text.replace(text.find("seed: 7"), 7, "seed: many");
    CHECK_THAT(error_of([&] { resolve_text(text); }),
               StartsWith("exp.yaml:2:7: seed: expected an integer >= 0, got string \"many\""));
  }
  SECTION("value outside an enum") {
    CHECK_THAT(error_of([] { resolve_text(std::string(kGood) + "device: gpu\n"); }),
               StartsWith("exp.yaml:10:9: device: expected one of 'cpu', 'cuda', 'auto' or a string matching ^cuda:[0-9]{1,2}$, got string \"gpu\""));
  }
  SECTION("missing required key") {
    CHECK_THAT(error_of([] { resolve_text("model: {plugin: tiny_model, weights: random}\n"); }),
               Contains("missing required key 'techniques'"));
  }
  SECTION("YAML syntax error") {
    CHECK_THAT(error_of([] { parse_config("model: [unclosed\n", "bad.yaml", "."); }), StartsWith("bad.yaml:"));
    CHECK_THAT(error_of([] { parse_config("model: [unclosed\n", "bad.yaml", "."); }), Contains("invalid YAML"));
  }
  SECTION("duplicate key") {
    CHECK_THAT(error_of([] { parse_config("seed: 1\nseed: 2\n", "dup.yaml", "."); }),
               StartsWith("dup.yaml:2:1: seed: duplicate key 'seed'"));
  }
  SECTION("nested unknown key inside a technique") {
    std::string text = std::string(kGood) + "    idd: x\n";
    CHECK_THAT(error_of([&] { resolve_text(text); }), StartsWith("exp.yaml:10:5: techniques[0].idd: unknown key 'idd' (did you mean 'id'?)"));
  }
  SECTION("unknown plugin lists what is available") {
    std::string text = kGood;
    text.replace(text.find("layer_means"), 11, "layer_mean");
    Experiment e = resolve_text(text);
    std::string msg = error_of([&] { validate_plugins(e, test_registry()); });
    CHECK_THAT(msg, StartsWith("exp.yaml:7:13: techniques[0].plugin: unknown technique plugin 'layer_mean'"));
    CHECK_THAT(msg, Contains("did you mean 'layer_means'?"));
    CHECK_THAT(msg, Contains("available: layer_means"));
  }
  SECTION("plugin option of the wrong type, checked against the plugin's own schema") {
    std::string text = std::string(kGood) + "      sleep_ms: -5\n";
    Experiment e = resolve_text(text);
    CHECK_THAT(error_of([&] { validate_plugins(e, test_registry()); }),
               StartsWith("exp.yaml:10:17: techniques[0].options.sleep_ms: expected an integer >= 0, got integer -5"));
  }
  SECTION("unknown plugin option") {
    Experiment e = resolve_text(std::string(kGood) + "      layer: conv1\n");
    CHECK_THAT(error_of([&] { validate_plugins(e, test_registry()); }),
               StartsWith("exp.yaml:10:7: techniques[0].options.layer: unknown key 'layer' (did you mean 'layers'?)"));
  }
  SECTION("duplicate technique ids") {
    std::string text = std::string(kGood) + "    id: a\n  - plugin: layer_means\n    id: a\n";
    CHECK_THAT(error_of([&] { resolve_text(text); }), StartsWith("exp.yaml:12:9: techniques[1].id: duplicate technique id 'a'"));
  }
}

TEST_CASE("overrides set nested values, index lists, append, and parse values as YAML", "[config][overrides]") {
  ConfigTree t = parse_config(kGood, "exp.yaml", "/base");
  apply_override(t, "seed=11");
  apply_override(t, "techniques.0.options.layers=[conv2, pool1]");
  apply_override(t, "techniques.1={plugin: layer_means}");
  apply_override(t, "model.options.size=8");
  CHECK(t.root["seed"] == 11);
  CHECK(t.root["techniques"][0]["options"]["layers"] == nlohmann::json({"conv2", "pool1"}));
  CHECK(t.root["techniques"][1]["plugin"] == "layer_means");
  CHECK(t.root["model"]["options"]["size"] == 8);

  Experiment e = resolve_experiment(t);
  CHECK(e.techniques[1].id == "layer_means_2");  // same plugin twice: ids made unique
}

TEST_CASE("a bad override is reported as the --set that caused it", "[config][overrides]") {
  ConfigTree t = parse_config(kGood, "exp.yaml", "/base");
  CHECK_THAT(error_of([&] { apply_override(t, "seed"); }), StartsWith("--set seed: expected key.path=value"));
  CHECK_THAT(error_of([&] { apply_override(t, "techniques.x.plugin=a"); }), Contains("must be a list index"));
  CHECK_THAT(error_of([&] { apply_override(t, "techniques.5.plugin=a"); }), Contains("past the end"));
  // An index too long for an unsigned long (a fuzzer's find) is past the end, not an escaped out_of_range.
  CHECK_THAT(error_of([&] { apply_override(t, "techniques.99999999999999999999.plugin=a"); }), Contains("past the end"));
  apply_override(t, "seed=ten");
  CHECK_THAT(error_of([&] { resolve_experiment(t); }),
             StartsWith("--set seed=ten: expected an integer >= 0, got string \"ten\""));
  ConfigTree u = parse_config(kGood, "exp.yaml", "/base");
  apply_override(u, "modle.plugin=x");
  CHECK_THAT(error_of([&] { resolve_experiment(u); }), StartsWith("--set modle.plugin=x: unknown key 'modle' (did you mean 'model'?)"));
}

TEST_CASE("the resolved config round-trips through YAML unchanged", "[config]") {
  ConfigTree t = parse_config(std::string(kGood) + "description: 'true'\noutput: 'runs: x'\n", "exp.yaml", "/base");
  apply_override(t, "model.options={size: 12}");
  std::string yaml = to_yaml(t.root);
  ConfigTree again = parse_config(yaml, "again.yaml", "/base");
  CHECK(again.root == t.root);
  // Strings with control characters or edge spaces (fuzzer finds: "f: .\r" lost its CR).
  for (const std::string s : {".\r", "a\r", "\tb", " c", "d "}) {
    nlohmann::json doc = {{"description", s}};
    INFO(to_yaml(doc));
    CHECK(parse_config(to_yaml(doc), "s.yaml", "/base").root == doc);
  }
  // Keys too (fuzz_config: a key "...  x" was written plain and ended the document).
  for (const std::string key : {"...  x", "--- y", "a\rb", " lead", "true", "1", "k: v", "#c"}) {
    const nlohmann::json doc = {{key, 1}, {"after", "z"}};
    INFO(to_yaml(doc));
    CHECK(parse_config(to_yaml(doc), "s.yaml", "/base").root == doc);
  }
}

TEST_CASE("random configs never crash the parser", "[config][fuzz]") {
  // Mutations of a valid file: every outcome is a parsed tree or a ConfigError.
  std::mt19937 rng(1234);
  const std::string alphabet = "abc:-[]{}'\"#&*!|>%@ \n\t0123456789.";
  for (int i = 0; i < 3000; ++i) {
    std::string text = kGood;
    int edits = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < edits; ++k) {
      std::size_t pos = rng() % (text.size() + 1);
      switch (rng() % 3) {
        case 0: text.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        case 1: if (pos < text.size()) text.erase(pos, 1); break;
        default: if (pos < text.size()) text[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    try {
      Experiment e = resolve_experiment(parse_config(text, "fuzz.yaml", "."));
      validate_plugins(e, test_registry());
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()).find('\n') == std::string::npos);  // one line
    }
  }
}
