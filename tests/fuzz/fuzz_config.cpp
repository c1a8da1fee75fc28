// libFuzzer target: the experiment file reader (framework/core/config.cpp), YAML text
// to a JSON tree with the file, line and column of every value and key.
//
// Invariants: every origin recorded points inside the text (1-based line and column);
// every key path of the tree has a value origin; the resolved-config writer
// (to_yaml, which sweeps hash for job ids) reads back as the same tree.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_common.h"
#include "vizrun_host/config.h"

using nlohmann::json;
using namespace vizrun::host;

namespace {

/// Equal, with NaN equal to NaN (YAML's .nan reads back as NaN).
bool same(const json& a, const json& b) {
  if (a.is_number_float() && b.is_number_float()) {
    const double x = a.get<double>(), y = b.get<double>();
    return (std::isnan(x) && std::isnan(y)) || x == y;
  }
  if (a.type() != b.type() || a.size() != b.size()) return a == b;
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it)
      if (!b.contains(it.key()) || !same(it.value(), b[it.key()])) return false;
    return true;
  }
  if (a.is_array()) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!same(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

void every_path_has_an_origin(const ConfigTree& tree, const json& node, const std::string& pointer) {
  if (tree.value_origins.count(pointer) != 1) std::fprintf(stderr, "no value origin for '%s'\n", pointer.c_str());
  FUZZ_CHECK(tree.value_origins.count(pointer) == 1);
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string token;
      for (char c : it.key()) token += c == '~' ? std::string("~0") : c == '/' ? std::string("~1") : std::string(1, c);
      if (tree.key_origins.count(pointer + "/" + token) != 1)
        std::fprintf(stderr, "no key origin for '%s/%s'\n", pointer.c_str(), token.c_str());
      FUZZ_CHECK(tree.key_origins.count(pointer + "/" + token) == 1);
      every_path_has_an_origin(tree, it.value(), pointer + "/" + token);
    }
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) every_path_has_an_origin(tree, node[i], pointer + "/" + std::to_string(i));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  vizrun::fuzz::refusals_only([&] {
    ConfigTree tree = parse_config(text, "fuzz.yaml", "/fuzz");
    FUZZ_CHECK(tree.root.is_object());
    for (const auto* origins : {&tree.value_origins, &tree.key_origins}) {
      for (const auto& [pointer, origin] : *origins) {
        FUZZ_CHECK(origin.file == "fuzz.yaml");
        FUZZ_CHECK(origin.line >= 0 && static_cast<std::size_t>(origin.line) <= lines);
        FUZZ_CHECK(origin.line == 0 || origin.column >= 1);
        FUZZ_CHECK(!display_path(pointer).empty());
      }
    }
    every_path_has_an_origin(tree, tree.root, "");
    // Messages point at the value, whatever the pointer.
    for (const auto& [pointer, origin] : tree.value_origins) FUZZ_CHECK(!tree.origin_of(pointer + "/x/y").describe().empty());
    // The resolved config (what a sweep hashes for its job ids) reads back as the same
    // tree; findings/config-to_yaml-does-not-read-back.yaml was the input that broke it.
    const std::string yaml = to_yaml(tree.root);
    ConfigTree again = parse_config(yaml, "resolved.yaml", "/fuzz");
    if (!same(again.root, tree.root)) {
      std::fprintf(stderr, "to_yaml does not read back:\n--- written\n%s--- read back\n%s\n--- original\n%s\n", yaml.c_str(),
                   again.root.dump().c_str(), tree.root.dump().c_str());
      std::abort();
    }
  });
  return 0;
}
