// libFuzzer target for the YAML-to-JSON conversion (framework/core/config.cpp):
// parse_config on arbitrary bytes, then, for what parses, the override parser on
// the same bytes and a round trip through to_yaml. Built and run by fuzz_config.sh
// (clang++ with -fsanitize=fuzzer,address,undefined); not part of the CMake build.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "vizrun_host/config.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/files.h"

// The converter's only links outside config.cpp and text.cpp, stubbed so the target
// needs neither LibTorch nor the rest of the host.
namespace vizrun {
Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;
namespace host {
Value to_value(const nlohmann::json&) { std::abort(); }
std::string read_file(const std::string&) { std::abort(); }
}  // namespace host
}  // namespace vizrun

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using namespace vizrun::host;
  try {
    ConfigTree tree = parse_config(text, "fuzz.yaml", ".");
    // What was accepted is written back as config.yaml and must read back the same.
    const std::string yaml = to_yaml(tree.root);
    ConfigTree again = parse_config(yaml, "again.yaml", ".");
    if (again.root != tree.root) std::abort();
  } catch (const ConfigError&) {
  }
  try {
    ConfigTree tree = parse_config("a: {b: 1}\n", "base.yaml", ".");
    apply_override(tree, "a.b=" + text);
  } catch (const ConfigError&) {
  }
  return 0;
}
