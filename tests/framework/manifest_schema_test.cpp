// schemas/manifest.schema.json: a real run's manifest matches it, and it can tell a broken
// one (the test support checks every manifest the suite writes against it).
#include "catch.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vizrun_host/files.h"
#include "vizrun_host/run_record.h"
#include "vizrun_host/schema.h"

using nlohmann::json;

namespace {
json manifest_schema() {
  return json::parse(vizrun::host::read_file(std::string(VIZRUN_TEST_SOURCE_DIR) + "/../schemas/manifest.schema.json"));
}
}  // namespace

TEST_CASE("a run's manifest matches the manifest schema, and broken ones do not", "[manifest]") {
  const std::string dir = vizrun::testing::temp_dir("manifest-schema");
  vizrun::host::write_file_atomic(dir + "/exp.yaml", "experiment: schema\nseed: 2\ndevice: cpu\nthreads: 1\n"
                                                     "model: {plugin: tiny_model, weights: random, options: {size: 12}}\n"
                                                     "techniques:\n  - plugin: layer_means\n    options: {layers: [conv1]}\n");
  const std::string command = std::string(VIZRUN_BINARY) + " " + dir + "/exp.yaml -q --out " + dir + "/run --plugin-path " +
                              vizrun::testing::test_plugin_dir() + "/good";
  REQUIRE(std::system(command.c_str()) == 0);
  const json schema = manifest_schema();
  json m = json::parse(vizrun::host::read_file(dir + "/run/manifest.json"));
  const auto ok = vizrun::host::check(m, schema, "");
  INFO((ok ? ok->pointer + ": " + ok->message : std::string("valid")));
  CHECK_FALSE(ok.has_value());

  json bad_status = m;
  bad_status["status"] = "done";
  CHECK(vizrun::host::check(bad_status, schema, "")->pointer == "/status");
  json bad_hash = m;
  bad_hash["techniques"][0]["outputs"][0]["sha256"] = "abc";
  CHECK(vizrun::host::check(bad_hash, schema, "")->pointer == "/techniques/0/outputs/0/sha256");
  json escaping = m;
  escaping["techniques"][0]["outputs"][0]["path"] = "/etc/passwd";
  CHECK(vizrun::host::check(escaping, schema, "").has_value());
  json no_env = m;
  no_env.erase("environment");
  CHECK(vizrun::host::check(no_env, schema, "").has_value());
}

TEST_CASE("a manifest read into a RunRecord and written back is the same document", "[manifest]") {
  const std::string dir = vizrun::testing::temp_dir("manifest-record");
  vizrun::host::write_file_atomic(dir + "/exp.yaml", "experiment: record\nseed: 3\ndevice: cpu\nthreads: 1\n"
                                                     "model: {plugin: tiny_model, weights: random, options: {size: 12}}\n"
                                                     "techniques:\n  - plugin: layer_means\n    options: {layers: [conv1]}\n");
  const std::string command = std::string(VIZRUN_BINARY) + " " + dir + "/exp.yaml -q --out " + dir + "/run --plugin-path " +
                              vizrun::testing::test_plugin_dir() + "/good";
  REQUIRE(std::system(command.c_str()) == 0);
  const json written = json::parse(vizrun::host::read_file(dir + "/run/manifest.json"));
  const auto record = vizrun::host::RunRecord::from_json(written);
  CHECK(record.status == "complete");
  REQUIRE(record.model.has_value());
  CHECK(record.model->weights.source == "random");
  REQUIRE(record.techniques.size() == 1);
  CHECK_FALSE(record.techniques[0].outputs.empty());
  CHECK(record.to_json() == written);

  // Keys this version does not model (a later vizrun's, a crash report) survive the round trip.
  json later = written;
  later["crash"] = {{"signal", "SIGSEGV"}};
  later["techniques"][0]["future_field"] = 7;
  CHECK(vizrun::host::RunRecord::from_json(later).to_json() == later);
}
