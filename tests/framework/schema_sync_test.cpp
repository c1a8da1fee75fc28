// schemas/plugins/<name>.json must equal what each shipped plugin declares, so the
// files users and editors read are the schemas actually enforced.
#include "catch.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "vizrun_host/files.h"
#include "vizrun_host/plugin_registry.h"

namespace fs = std::filesystem;

TEST_CASE("exported plugin schemas are in sync with the plugins", "[schemas]") {
  const auto& registry = vizrun::testing::registry();
  const fs::path dir = fs::path(VIZRUN_SOURCE_DIR) / "schemas" / "plugins";
  for (const auto& plugin : registry.plugins()) {
    INFO("plugin " << plugin.name << ": regenerate with  vizrun plugins " << plugin.name
                   << " --schema > schemas/plugins/" << plugin.name << ".json");
    const fs::path file = dir / (plugin.name + ".json");
    REQUIRE(fs::exists(file));
    CHECK(nlohmann::json::parse(vizrun::host::read_file(file.string())) == nlohmann::json::parse(plugin.options_schema));
  }
  // And no stale file for a plugin that no longer exists (in a build with plugins).
  if (fs::exists(dir) && !registry.plugins().empty()) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().stem().string();
      const bool known = std::any_of(registry.plugins().begin(), registry.plugins().end(),
                                     [&](const auto& p) { return p.name == name; });
      INFO("stale schema file " << entry.path());
      CHECK(known);
    }
  }
}
