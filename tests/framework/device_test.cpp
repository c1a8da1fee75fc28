// Devices and determinism: cuda:N, what the manifest says about the LibTorch build and
// the device, and the record of operations without a deterministic kernel.
#include "catch.h"

#include <ATen/Context.h>
#include <torch/version.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vizrun_host/determinism.h"
#include "vizrun_host/files.h"
#include "vizrun_host/progress.h"
#include "vizrun_host/runner.h"

using namespace vizrun;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

struct Result {
  int exit_code;
  std::string err;
};

Result run_vizrun(const std::string& args) {
  const std::string io = testing::temp_dir("device-io");
  const std::string command = "'" + std::string(VIZRUN_BINARY) + "' " + args + " >/dev/null 2>" + io + "/err";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, host::read_file(io + "/err")};
}

std::string write_experiment(const std::string& dir, const std::string& extra = "") {
  host::write_file_atomic(dir + "/exp.yaml", "experiment: device\nseed: 1\nthreads: 1\n" + extra +
                                                 "model: {plugin: tiny_model, weights: random, options: {size: 12}}\n"
                                                 "techniques:\n  - plugin: layer_means\n    options: {layers: [conv1]}\n");
  return dir + "/exp.yaml";
}

}  // namespace

TEST_CASE("operations without a deterministic kernel are recorded once each, other warnings pass on", "[determinism]") {
  host::ProgressReporter progress(host::ProgressReporter::Mode::off);
  host::Logger logger(progress, true, false);
  host::Manifest manifest("", host::RunRecord{});
  host::set_determinism(true);
  {
    host::NondeterminismRecorder recorder(manifest, logger);
    at::globalContext().alertNotDeterministic("vizrun_test_op");
    at::globalContext().alertNotDeterministic("vizrun_test_op");
    at::globalContext().alertNotDeterministic("another_op");
    TORCH_WARN("an unrelated warning");
  }
  const auto ops = manifest.snapshot().environment.nondeterministic_ops;
  REQUIRE(ops.size() == 2);
  CHECK_THAT(ops[0], Contains("vizrun_test_op") && Contains("does not have a deterministic implementation"));
  CHECK_THAT(ops[1], Contains("another_op"));

  host::set_determinism(false);  // nothing is asked for, so nothing is reported
  {
    host::NondeterminismRecorder recorder(manifest, logger);
    at::globalContext().alertNotDeterministic("vizrun_test_op_2");
  }
  CHECK(manifest.snapshot().environment.nondeterministic_ops.size() == 2);
  host::set_determinism(true);
}

TEST_CASE("the manifest names the LibTorch build, the device and the determinism asked for", "[determinism][device]") {
  const std::string dir = testing::temp_dir("device-run");
  const std::string config = write_experiment(dir, "device: cpu\ndeterministic: false\n");
  REQUIRE(run_vizrun(config + " -q --out " + dir + "/run --plugin-path " + testing::test_plugin_dir() + "/good").exit_code == 0);
  const json env = json::parse(host::read_file(dir + "/run/manifest.json"))["environment"];
  CHECK(env["torch"]["libtorch"] == TORCH_VERSION);
  CHECK(env["torch"]["gpus"].get<int>() >= 0);
  CHECK(env["device_info"]["kind"] == "cpu");
  CHECK(env["deterministic"] == false);
  CHECK(env["nondeterministic_ops"] == json::array());
}

TEST_CASE("cuda:N is a device, checked against the GPUs there are", "[device]") {
  const std::string dir = testing::temp_dir("device-cuda");
  const std::string config = write_experiment(dir);
  const std::string plugins = " --plugin-path " + testing::test_plugin_dir() + "/good";
  const Result bad = run_vizrun(config + plugins + " --device gpu0 -q");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Contains("expected cpu, cuda, cuda:N or auto, got 'gpu0'"));
  const Result validated = run_vizrun("validate " + config + plugins + " --set device=cuda:3");
  CHECK(validated.exit_code == 0);
  if (host::resolve_device("auto") == "cpu") {
    const Result missing = run_vizrun(config + plugins + " --out " + dir + "/run -q --device cuda:3");
    CHECK(missing.exit_code == 2);
    CHECK_THAT(missing.err, Contains("device: cuda:3 was requested but no usable CUDA device"));
  } else {
    CHECK_THROWS_WITH(host::resolve_device("cuda:99"), Contains("cuda:99 does not exist"));
  }
}

TEST_CASE("device: cuda computes on the GPU, equals the CPU within 1e-4, and the manifest names the GPU", "[device][gpu]") {
  if (host::resolve_device("auto") == "cpu") {
    // Where there is no GPU (this LibTorch without CUDA, or no device visible) there is
    // nothing to run; scripts/gpu_check.sh runs this where there is one.
    WARN("skipped: no usable CUDA device here (LibTorch " TORCH_VERSION ")");
    return;
  }
  const std::string dir = testing::temp_dir("device-gpu");
  const std::string config = write_experiment(dir, "deterministic: true\n");
  const std::string plugins = " --plugin-path " + testing::test_plugin_dir() + "/good";
  REQUIRE(run_vizrun(config + plugins + " -q --device cpu --out " + dir + "/cpu").exit_code == 0);
  const Result gpu = run_vizrun(config + plugins + " -q --device cuda --out " + dir + "/gpu");
  INFO(gpu.err);
  REQUIRE(gpu.exit_code == 0);
  const json on_cpu = json::parse(host::read_file(dir + "/cpu/manifest.json"));
  const json on_gpu = json::parse(host::read_file(dir + "/gpu/manifest.json"));
  const json& env = on_gpu["environment"];
  CHECK(env["device"] == "cuda");
  CHECK(env["device_info"]["kind"] == "cuda");
  CHECK_FALSE(env["device_info"]["name"].get<std::string>().empty());
  CHECK(env["device_info"]["memory_bytes"].get<std::int64_t>() > 0);
  CHECK_FALSE(env["torch"]["cuda_runtime"].get<std::string>().empty());
  CHECK(env["torch"]["gpus"].get<int>() >= 1);
  const json& cpu_means = on_cpu["techniques"][0]["records"]["means"];
  const json& gpu_means = on_gpu["techniques"][0]["records"]["means"];
  REQUIRE(cpu_means.size() == gpu_means.size());
  REQUIRE_FALSE(cpu_means.empty());
  for (auto it = cpu_means.begin(); it != cpu_means.end(); ++it) {
    INFO(it.key());
    const double want = it.value().get<double>(), got = gpu_means.at(it.key()).get<double>();
    CHECK(std::abs(got - want) <= 1e-4 * std::max(1.0, std::abs(want)));
  }
}
