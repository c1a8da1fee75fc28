// gradcam against pytorch-grad-cam (tests/oracles/techniques/make_technique_fixtures.py),
// outputs, class choice and flat memory over many images.
#include <ATen/ATen.h>

#include "catch.h"
#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "fakes.h"
#include "gradcam.h"
#include "npy.h"
#include "oracle_device.h"
#include "tiny_model.h"

using namespace vizrun;
using namespace vizrun::testing;

namespace {
at::Tensor fixture(const std::string& name) { return read_npy(technique_fixtures() + "/gradcam/" + name + ".npy"); }
CreateArgs args_for(const Host& host, Dict options, c10::Device device = c10::kCPU) {
  CreateArgs a;
  a.options = Value(std::move(options));
  fill_defaults(a.options, techniques::kGradCamSchema);  // as the host does
  a.host = &host;
  a.device = device;
  return a;
}
double rss_mb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}
}  // namespace

TEST_CASE("Grad-CAM equals pytorch-grad-cam within 1e-3 (logit of the top class, probability of class 3)", "[gradcam][oracle]") {
  VIZRUN_ORACLE_DEVICE(on);  // the CPU, or VIZRUN_TEST_DEVICE's GPU
  TinyNet model(technique_fixtures() + "/tiny_net", 0, on.device);
  FakeHost host;
  host.pictures["photo"] = fixture("photo");
  const std::int64_t top = fixture("top_class").item<std::int64_t>();
  {
    KeepOutput out;
    techniques::GradCam tech(
        args_for(host, {{"images", List{"photo"}}, {"layer", "conv2"}, {"classes", Dict{{"top", 1}}}}, on.device));
    tech.run(model, out);
    const auto* heat = out.find_array("photo/0_class_" + std::to_string(top) + "_heatmap");
    REQUIRE(heat != nullptr);
    const double err = (heat->data.cpu() - fixture("top_logit")).abs().max().item<double>();
    CHECK(err < 1e-3);
    std::printf("gradcam oracle on %s (top class, logit): max abs error %.3g\n", on.device.str().c_str(), err);
    CHECK(heat->meta.at("score").as_string() == "logit");
  }
  {
    KeepOutput out;
    techniques::GradCam tech(args_for(host, {{"images", List{"photo"}}, {"layer", "conv2"}, {"classes", List{"red_blob"}},
                                             {"score", "probability"}}, on.device));
    tech.run(model, out);
    const auto* heat = out.find_array("photo/0_class_3_heatmap");
    REQUIRE(heat != nullptr);
    const double err = (heat->data.cpu() - fixture("class3_probability")).abs().max().item<double>();
    CHECK(err < 1e-3);
    std::printf("gradcam oracle on %s (class 3, probability): max abs error %.3g\n", on.device.str().c_str(), err);
  }
}

TEST_CASE("gradcam emits heatmap, overlay and predictions, top-K per image in batches", "[gradcam]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  std::vector<Value> names;
  for (int i = 0; i < 5; ++i) {
    host.pictures["img" + std::to_string(i)] = at::rand({3, 45, 60}) * 255;
    names.push_back("img" + std::to_string(i));
  }
  KeepOutput out;
  techniques::GradCam tech(args_for(host, {{"images", List(names)}, {"classes", Dict{{"top", 2}}}, {"batch_size", 2}}));
  tech.run(model, out);
  CHECK(out.arrays.size() == 10);
  CHECK(out.images.size() == 20);
  const auto& preds = out.records.at("predictions").as_list();
  REQUIRE(preds.size() == 5);
  const auto& top = preds[0].at("top").as_list();
  CHECK(top.size() == 3);
  CHECK(top[0].at("probability").as_double() >= top[1].at("probability").as_double());
  // Overlays keep the photo's own size (plus a title band), default layer = last conv.
  for (const auto& item : out.images) {
    if (item.name.find("_overlay") == std::string::npos) continue;
    CHECK(item.data.size(1) >= 60);  // a title band wider than a small photo widens the image
    CHECK(item.data.size(0) > 45);
    CHECK(item.meta.at("layer").as_string() == "conv3");
  }
  CHECK_THROWS_AS(techniques::GradCam(args_for(host, {{"images", List{"img0"}}, {"classes", List{"zebra"}}})).run(model, out), Error);
}

TEST_CASE("gradcam memory stays flat over 1000 images", "[gradcam][memory]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  const at::Tensor pic = at::rand({3, 32, 32}) * 255;
  List many;
  for (int i = 0; i < 1000; ++i) {
    host.pictures["p" + std::to_string(i)] = pic;
    many.push_back("p" + std::to_string(i));
  }
  List warm(many.begin(), many.begin() + 100);
  CountingOutput out;
  techniques::GradCam(args_for(host, {{"images", warm}, {"batch_size", 16}, {"titles", false}})).run(model, out);
  const double before = rss_mb();
  techniques::GradCam(args_for(host, {{"images", many}, {"batch_size", 16}, {"titles", false}})).run(model, out);
  const double after = rss_mb();
  CHECK(out.arrays == 1100);
#ifdef VIZRUN_SANITIZER_BUILD
  // AddressSanitizer's allocator keeps freed memory in quarantine (256 MB by default)
  // and never returns it promptly, so RSS says nothing about vizrun's own reuse here;
  // the 1000 images still run instrumented, which is what this build is for.
  WARN("RSS check skipped in a sanitizer build (quarantined frees inflate RSS): before " << before << " MB, after "
                                                                                        << after << " MB");
#else
  INFO("rss before " << before << " MB, after " << after << " MB");
  CHECK(after - before < 20.0);
#endif
}
