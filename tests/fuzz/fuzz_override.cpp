// libFuzzer target: command-line overrides (`--set key.path=value`, config.cpp's
// apply_override) on a small experiment tree. Each input line is one override,
// applied in order, as `vizrun run --set a --set b` does.
//
// Invariants: a refused override names itself in its message; an accepted one leaves
// a tree whose top level is still a mapping, that remembers the override as the
// origin of what it set, and that the resolved-config writer reads back.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "fuzz_common.h"
#include "vizrun_host/text.h"
#include "vizrun_host/config.h"

using nlohmann::json;
using namespace vizrun::host;

namespace {

const char* const kBase = R"(experiment: fuzz
model: {plugin: tiny_model, options: {size: 8}}
images: [a.png, b.png]
techniques:
  - {plugin: layer_means, options: {layers: [conv1, conv2], scale: 1.5}}
  - plugin: layer_means
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ConfigTree base = parse_config(kBase, "base.yaml", "/fuzz");
  ConfigTree tree = base;
  std::istringstream lines(std::string(reinterpret_cast<const char*>(data), size));
  std::string assignment;
  int count = 0;
  while (std::getline(lines, assignment) && ++count <= 16) {
    try {
      apply_override(tree, assignment);
    } catch (const ConfigError& e) {
      // The message names the override as printable UTF-8 (invalid bytes escaped), up to
      // any NUL byte.
      const std::string shown = "--set " + assignment;
      FUZZ_CHECK(std::string(e.what()).rfind(vizrun::host::printable_utf8(shown.substr(0, shown.find('\0'))), 0) == 0);
      continue;
    } catch (const vizrun::Error&) {
      continue;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fuzz finding: %s escaped apply_override(\"%s\"): %s\n", typeid(e).name(),
                   assignment.c_str(), e.what());
      std::abort();
    }
    FUZZ_CHECK(tree.root.is_object());
    // Remembered as it is shown: printable, control characters of the value escaped.
    bool remembered = false;
    const std::string shown = vizrun::host::printable_utf8("--set " + assignment);
    for (const auto& [pointer, origin] : tree.key_origins)
      if (origin.override_text == shown) remembered = true;
    FUZZ_CHECK(remembered);
  }
  // What the overrides made reads back from the resolved config (findings/override-to_yaml-*.txt broke it once).
  vizrun::fuzz::refusals_only([&] {
    const ConfigTree again = parse_config(to_yaml(tree.root), "resolved.yaml", "/fuzz");
    FUZZ_CHECK(again.root.dump() == tree.root.dump());
  });
  return 0;
}
