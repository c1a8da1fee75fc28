// Precision as a run policy (vizrun_host/precision.h): what fp32, bf16 and auto mean
// on this machine, the scope the host sets around a technique, a technique that
// declines bf16, and what a run's manifest records.
#include "catch.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vizrun_host/files.h"
#include "vizrun_host/precision.h"

using namespace vizrun;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

at::Tensor conv_under_current_mode() {
  const at::Tensor x = at::randn({1, 3, 8, 8});
  const at::Tensor w = at::randn({4, 3, 3, 3});
  return at::conv2d(x, w);
}

struct NoBf16 final : Technique, PrecisionSupport {
  void run(ModelBackend&, Output&) override {}
  std::string unsupported_precision(std::string_view precision) const override {
    return precision == "bf16" ? "its sums need float32" : "";
  }
};

struct Anything final : Technique {
  void run(ModelBackend&, Output&) override {}
};

}  // namespace

TEST_CASE("fp32 is fp32, bf16 and auto depend on native bf16, and auto measures only where bf16 could win", "[precision]") {
  const c10::Device cpu(c10::kCPU);
  CHECK(host::choose_precision("fp32", cpu).precision == "fp32");
  const auto bf16 = host::choose_precision("bf16", cpu);
  const auto automatic = host::choose_precision("auto", cpu);
  if (host::cpu_has_native_bf16()) {
    CHECK(bf16.precision == "bf16");
    REQUIRE(automatic.measurement.is_object());
    const double fp32_ms = automatic.measurement["fp32_ms"], bf16_ms = automatic.measurement["bf16_ms"];
    CHECK(fp32_ms > 0);
    CHECK(bf16_ms > 0);
    CHECK(automatic.precision == (bf16_ms < fp32_ms ? "bf16" : "fp32"));
  } else {
    CHECK(bf16.precision == "fp32");
    CHECK_THAT(bf16.reason, Contains("no native bf16"));
    CHECK(automatic.precision == "fp32");
    CHECK(automatic.measurement.is_null());
    CHECK_THAT(automatic.reason, Contains("emulated bf16 is slower"));
  }
}

TEST_CASE("the measurement times a real convolution in both precisions", "[precision]") {
  const double fp32_ms = host::time_convolution_ms(c10::Device(c10::kCPU), false);
  const double bf16_ms = host::time_convolution_ms(c10::Device(c10::kCPU), true);
  CHECK(fp32_ms > 0.01);  // 0.5 GFLOP forward and backward: not a no-op
  CHECK(bf16_ms > 0.01);
  CHECK(fp32_ms < 60'000);
}

TEST_CASE("the precision scope sets autocast for its lifetime and restores what was there", "[precision]") {
  REQUIRE_FALSE(at::autocast::is_cpu_enabled());
  {
    host::PrecisionScope bf16("bf16", c10::Device(c10::kCPU));
    CHECK(conv_under_current_mode().scalar_type() == at::kBFloat16);
    {
      host::PrecisionScope fp32("fp32", c10::Device(c10::kCPU));
      CHECK(conv_under_current_mode().scalar_type() == at::kFloat);
    }
    CHECK(conv_under_current_mode().scalar_type() == at::kBFloat16);
  }
  CHECK_FALSE(at::autocast::is_cpu_enabled());
  CHECK(conv_under_current_mode().scalar_type() == at::kFloat);
}

TEST_CASE("a technique that declines bf16 runs in fp32 with a note, the others in the run's choice", "[precision]") {
  NoBf16 declines;
  Anything plain;
  CHECK(host::technique_precision(declines, "bf16") ==
        std::pair<std::string, std::string>{"fp32", "runs in fp32, not bf16: its sums need float32"});
  CHECK(host::technique_precision(declines, "fp32") == std::pair<std::string, std::string>{"fp32", ""});
  CHECK(host::technique_precision(plain, "bf16") == std::pair<std::string, std::string>{"bf16", ""});
}

TEST_CASE("a run records its precision policy, what it meant here and why, and each technique's precision", "[precision]") {
  const std::string dir = testing::temp_dir("precision-run");
  host::write_file_atomic(dir + "/exp.yaml", "experiment: precision\nseed: 1\ndevice: cpu\nthreads: 1\nprecision: auto\n"
                                             "model: {plugin: tiny_model, weights: random, options: {size: 12}}\n"
                                             "techniques:\n  - plugin: layer_means\n    options: {layers: [conv1]}\n");
  const std::string command = std::string(VIZRUN_BINARY) + " " + dir + "/exp.yaml -q --out " + dir + "/run --plugin-path " +
                              testing::test_plugin_dir() + "/good";
  REQUIRE(std::system(command.c_str()) == 0);
  const json m = json::parse(host::read_file(dir + "/run/manifest.json"));
  CHECK(m["environment"]["precision"] == "auto");
  const json& choice = m["environment"]["precision_choice"];
  const std::string used = host::cpu_has_native_bf16() ? choice["used"].get<std::string>() : "fp32";
  CHECK(choice["used"] == used);
  CHECK_FALSE(choice["reason"].get<std::string>().empty());
  CHECK(m["techniques"][0]["precision"] == used);
}
