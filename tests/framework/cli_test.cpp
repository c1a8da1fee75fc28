// End to end through the real `vizrun` binary with the test plugins: exit codes,
// run folder contents, manifest, determinism and interruption.
#include "catch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <torch/cuda.h>

#include "test_support.h"
#include "vizrun_host/files.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

struct Result {
  int exit_code;
  std::string out, err;
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

Result run_cli(const std::string& args) {
  const std::string dir = vizrun::testing::temp_dir("cli-io");
  const std::string command = std::string(VIZRUN_BINARY) + " " + args + " >" + dir + "/out 2>" + dir + "/err";
  int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, vizrun::host::read_file(dir + "/out"),
          vizrun::host::read_file(dir + "/err")};
}

std::string plugin_args() {
  return "--plugin-path " + quote(vizrun::testing::test_plugin_dir() + "/good");
}

std::string write_experiment(const std::string& dir, const std::string& extra = "") {
  const std::string path = dir + "/exp.yaml";
  vizrun::host::write_file_atomic(path, R"(experiment: e2e
seed: 3
device: cpu
threads: 1
model: {plugin: tiny_model, weights: random, options: {size: 12}}
techniques:
  - plugin: layer_means
    options: {noise_images: 2, layers: [conv1, pool1, conv2]}
)" + extra);
  return path;
}

json manifest_of(const std::string& run_dir) { return json::parse(vizrun::host::read_file(run_dir + "/manifest.json")); }

}  // namespace

TEST_CASE("vizrun --help and --version work", "[cli]") {
  auto r = run_cli("--help");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("vizrun validate CONFIG"));
  CHECK(run_cli("--version").exit_code == 0);
  auto bad = run_cli("run --no-such-flag x.yaml");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, StartsWith("vizrun: error:"));
}

TEST_CASE("a run writes outputs, config and a complete manifest", "[cli][e2e]") {
  const std::string dir = vizrun::testing::temp_dir("e2e");
  const std::string config = write_experiment(dir);
  auto r = run_cli(config + " " + plugin_args() + " --out " + dir + "/run -q --set seed=4");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json m = manifest_of(dir + "/run");
  CHECK(m["status"] == "complete");
  CHECK(m["seed"] == 4);
  CHECK(m["overrides"] == json({"seed=4"}));
  CHECK(m["environment"]["device"] == "cpu");
  CHECK(m["environment"]["threads"] == 1);
  CHECK(m["vizrun"]["libtorch"].get<std::string>().size() > 0);
  CHECK(m["config_sha256"] == vizrun::host::sha256_file(dir + "/run/config.yaml"));
  CHECK(m["model"]["parameters"] == 4 * 27 + 4 + 6 * 36 + 6 + 18 + 3);
  CHECK(m["plugins"].size() == 2);
  for (const auto& p : m["plugins"]) CHECK(p["sha256"] == vizrun::host::sha256_file(p["file"]));
  const json& t = m["techniques"][0];
  CHECK(t["status"] == "complete");
  CHECK(t["wall_seconds"].get<double>() >= 0);
  CHECK(t["outputs"].size() == 2 * 3 * 2);  // 2 images x 3 layers x (png + npy)
  for (const auto& o : t["outputs"]) {
    const std::string file = dir + "/run/" + o["path"].get<std::string>();
    REQUIRE(fs::exists(file));
    CHECK(o["sha256"] == vizrun::host::sha256_file(file));
  }
  CHECK(t["records"]["means"].size() == 6);
  CHECK(fs::exists(dir + "/run/vizrun.log"));
  // The saved config is the resolved one: rerunning it reproduces the run.
  auto again = run_cli(dir + "/run/config.yaml " + plugin_args() + " --out " + dir + "/rerun -q");
  REQUIRE(again.exit_code == 0);
  const json m2 = manifest_of(dir + "/rerun");
  for (std::size_t i = 0; i < t["outputs"].size(); ++i) {
    CHECK(m2["techniques"][0]["outputs"][i]["sha256"] == t["outputs"][i]["sha256"]);
  }
}

TEST_CASE("the same config gives bit-identical outputs and another seed does not", "[cli][determinism]") {
  const std::string dir = vizrun::testing::temp_dir("determinism");
  const std::string config = write_experiment(dir);
  REQUIRE(run_cli(config + " " + plugin_args() + " --out " + dir + "/a -q").exit_code == 0);
  REQUIRE(run_cli(config + " " + plugin_args() + " --out " + dir + "/b -q").exit_code == 0);
  REQUIRE(run_cli(config + " " + plugin_args() + " --out " + dir + "/c -q --set seed=5").exit_code == 0);
  const json a = manifest_of(dir + "/a")["techniques"][0]["outputs"];
  const json b = manifest_of(dir + "/b")["techniques"][0]["outputs"];
  const json c = manifest_of(dir + "/c")["techniques"][0]["outputs"];
  REQUIRE(a.size() == b.size());
  int differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i]["sha256"] == b[i]["sha256"]);
    differing += a[i]["sha256"] != c[i]["sha256"];
  }
  CHECK(differing > 0);
}

TEST_CASE("config errors exit 2 with one line naming file, line and key", "[cli][validate]") {
  const std::string dir = vizrun::testing::temp_dir("validate");
  const std::string config = write_experiment(dir, "precision: fp64\n");
  auto r = run_cli("validate " + config + " " + plugin_args());
  CHECK(r.exit_code == 2);
  CHECK(r.err == "vizrun: error: " + config + ":9:12: precision: expected one of 'fp32', 'bf16', 'auto', got string \"fp64\" (did you mean 'fp32'?)\n");
  auto ok = run_cli("validate " + write_experiment(vizrun::testing::temp_dir("validate-ok")) + " " + plugin_args());
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Contains("valid"));
  auto missing = run_cli(dir + "/nope.yaml");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Contains("nope.yaml"));
  // Nothing was created for a config that does not validate.
  CHECK_FALSE(fs::exists(dir + "/runs"));
}

TEST_CASE("a failing technique fails the run (exit 1) and is recorded", "[cli]") {
  const std::string dir = vizrun::testing::temp_dir("failing");
  const std::string config = write_experiment(dir, "  - plugin: layer_means\n    options: {fail: true}\n");
  auto r = run_cli(config + " " + plugin_args() + " --out " + dir + "/run -q");
  CHECK(r.exit_code == 1);
  const json m = manifest_of(dir + "/run");
  CHECK(m["status"] == "failed");
  CHECK(m["techniques"][0]["status"] == "complete");
  CHECK(m["techniques"][1]["status"] == "failed");
  CHECK_THAT(m["techniques"][1]["error"].get<std::string>(), Contains("failing as asked"));
}

TEST_CASE("plugins lists plugins and shows one plugin's options", "[cli][plugins]") {
  auto list = run_cli("plugins " + plugin_args());
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out, Contains("layer_means") && Contains("technique") && Contains("tiny_model"));
  auto one = run_cli("plugins layer_means " + plugin_args());
  CHECK(one.exit_code == 0);
  CHECK_THAT(one.out, Contains("sleep_ms") && Contains("default: 0") && Contains("an integer >= 0"));
  CHECK(run_cli("plugins no_such_plugin " + plugin_args()).exit_code == 2);
}

TEST_CASE("SIGTERM ends a run cleanly as interrupted, with nothing half-written", "[cli][interrupt]") {
  const std::string dir = vizrun::testing::temp_dir("interrupt");
  const std::string config = write_experiment(dir);
  const std::string run_dir = dir + "/run";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl(VIZRUN_BINARY, "vizrun", config.c_str(), "--plugin-path",
            (vizrun::testing::test_plugin_dir() + "/good").c_str(), "--out", run_dir.c_str(), "-q", "--set",
            "techniques.0.options.sleep_ms=150", "--set", "techniques.0.options.noise_images=50", nullptr);
    ::_exit(127);
  }
  // Wait until some outputs exist, then ask it to stop.
  // A signal before main() installs its handlers would end the process by default; a
  // sanitizer build on a loaded machine can take many seconds to get there.
  for (int i = 0; i < 1200 && !fs::exists(run_dir + "/layer_means/image1"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const bool started = fs::exists(run_dir + "/layer_means/image1");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(started);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "interrupted");
  CHECK(m["techniques"][0]["status"] == "interrupted");
  const auto& outputs = m["techniques"][0]["outputs"];
  CHECK(outputs.size() > 0);
  CHECK(outputs.size() < 300);
  for (const auto& o : outputs) CHECK(o["sha256"] == vizrun::host::sha256_file(run_dir + "/" + o["path"].get<std::string>()));
  for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    CHECK(name.find(".tmp-") == std::string::npos);
    CHECK(name.find(".partial") == std::string::npos);
  }
}

TEST_CASE("device: cuda without a usable GPU is a usage error and auto falls back to cpu", "[cli][device]") {
  const std::string dir = vizrun::testing::temp_dir("device");
  const std::string config = write_experiment(dir);
  if (torch::cuda::is_available()) return;  // this check is about machines without CUDA
  auto cuda = run_cli(config + " " + plugin_args() + " --out " + dir + "/cuda -q --device cuda");
  CHECK(cuda.exit_code == 2);
  CHECK_THAT(cuda.err, Contains("cuda was requested but no usable CUDA device"));
  CHECK_FALSE(fs::exists(dir + "/cuda"));
  auto automatic = run_cli(config + " " + plugin_args() + " --out " + dir + "/auto -q --set device=auto");
  REQUIRE(automatic.exit_code == 0);
  CHECK(manifest_of(dir + "/auto")["environment"]["device"] == "cpu");
}
