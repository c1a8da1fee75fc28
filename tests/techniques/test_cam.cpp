// The CAM family (plugins/techniques/cam) against pytorch-grad-cam 1.5.7
// (tests/oracles/techniques/make_cam_fixtures.py), the plugin's outputs and checks,
// the model-randomisation sanity check and flat memory.
#include <ATen/ATen.h>

#include "catch.h"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "cam.h"
#include "fakes.h"
#include "npy.h"
#include "test_support.h"
#include "tiny_model.h"
#include "vizrun/faithfulness.h"

using namespace vizrun;
using namespace vizrun::testing;
namespace cam = vizrun::techniques::cam;

namespace {
at::Tensor fixture(const std::string& name) { return read_npy(technique_fixtures() + "/cam/" + name + ".npy"); }
at::Tensor photo_input() { return read_npy(technique_fixtures() + "/gradcam/photo.npy").unsqueeze(0) / 255.0; }
std::string slug(std::string name) {
  for (auto& ch : name)
    if (ch == '+') ch = 'p';
  return name;
}
/// max |a - b| / max |b|: the relative error of a map.
double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-30, b.abs().max().item<double>());
}
cam::Request request_for(const std::string& method, std::vector<std::string> layers) {
  cam::Request r;
  r.methods = {cam::parse_method(method)};
  r.layers = std::move(layers);
  r.masked_batch_size = method == "scorecam" ? 4 : 5;  // the fixtures' batch sizes
  return r;
}
CreateArgs args_for(const Host& host, Dict options) {
  CreateArgs a;
  a.options = Value(std::move(options));
  fill_defaults(a.options, techniques::kCamSchema);  // as the host does
  a.host = &host;
  return a;
}
double rss_mb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}
}  // namespace

TEST_CASE("every CAM method equals pytorch-grad-cam within 1e-4 relative before any resize", "[cam][oracle]") {
  TinyNetReplace model(technique_fixtures() + "/tiny_net");
  const at::Tensor x = photo_input();
  const at::Tensor top = fixture("top_class").view({1, 1});
  for (const auto& method : cam::method_names()) {
    for (const std::string layer : {"conv2", "conv3"}) {
      const cam::Result r = cam::compute(model, x, request_for(method, {layer}), {}, top);
      const at::Tensor expected = fixture("raw_" + slug(method) + "_" + layer);
      const at::Tensor got = r.maps[0][0][0][0];
      REQUIRE(got.sizes() == expected.sizes());
      const double err = relative_error(got, expected);
      std::printf("cam oracle %-12s %s: max relative error %.3g\n", method.c_str(), layer.c_str(), err);
      INFO(method << " at " << layer);
      CHECK(err < 1e-4);
    }
  }
}

TEST_CASE("several layers, aug_smooth and eigen_smooth equal pytorch-grad-cam", "[cam][oracle]") {
  TinyNetReplace model(technique_fixtures() + "/tiny_net");
  const at::Tensor x = photo_input();
  const at::Tensor top = fixture("top_class").view({1, 1});
  for (const auto& method : cam::method_names()) {
    const cam::Result r = cam::compute(model, x, request_for(method, {"conv2", "conv3"}), {}, top);
    const at::Tensor combined = cam::combine_layers(r.maps[0], 32, 32, true)[0][0];
    const double err = (combined - fixture("out_multi_" + slug(method))).abs().max().item<double>();
    std::printf("cam oracle %-12s conv2+conv3 combined: max abs error %.3g\n", method.c_str(), err);
    INFO(method);
    CHECK(err < 1e-4);
  }
  for (const std::string method : {"gradcam", "scorecam", "eigencam"}) {
    const at::Tensor smooth = cam::aug_smooth(model, x, request_for(method, {"conv3"}), top)[0][0][0];
    const double err = (smooth - fixture("out_aug_" + slug(method))).abs().max().item<double>();
    std::printf("cam oracle %-12s aug_smooth: max abs error %.3g\n", method.c_str(), err);
    INFO(method);
    CHECK(err < 1e-4);
  }
  for (const std::string method : {"gradcam", "gradcam++", "layercam"}) {
    cam::Request req = request_for(method, {"conv3"});
    req.eigen_smooth = true;
    const at::Tensor got = cam::compute(model, x, req, {}, top).maps[0][0][0][0];
    const double err = relative_error(got, fixture("raw_eigen_" + slug(method) + "_conv3"));
    std::printf("cam oracle %-12s eigen_smooth: max relative error %.3g\n", method.c_str(), err);
    INFO(method);
    CHECK(err < 1e-4);
  }
}

TEST_CASE("Score-CAM and Ablation-CAM do not depend on their batch size, Ablation-CAM runs from the layer on", "[cam]") {
  TinyNetReplace model(technique_fixtures() + "/tiny_net");
  const at::Tensor x = at::cat({photo_input(), at::rand({2, 3, 32, 32})}, 0);
  for (const std::string method : {"scorecam", "ablationcam"}) {
    cam::Request one = request_for(method, {"conv3"}), many = one;
    one.masked_batch_size = 1;
    many.masked_batch_size = 0;  // from the memory budget: all 16 channels at once
    cam::ClassChoice choice;
    choice.top = 2;
    const at::Tensor a = cam::compute(model, x, one, choice).maps[0][0];
    const at::Tensor b = cam::compute(model, x, many, choice).maps[0][0];
    CHECK(a.sizes() == std::vector<std::int64_t>{3, 2, 16, 16});
    CHECK(relative_error(a, b) < 1e-5);
  }
  // 3 images x 16 channels in batches of 1, then 3 images x 1 batch.
  CHECK(model.replaced_calls == 3 * 16 + 3);
  // A backend without vizrun::LayerReplace gets one line naming what is missing.
  TinyNet plain(technique_fixtures() + "/tiny_net");
  try {
    cam::compute(plain, x, request_for("ablationcam", {"conv3"}), {});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("vizrun.LayerReplace/1") != std::string::npos);
  }
}

TEST_CASE("cam emits every method's maps with the grid's meta keys, checks options against the model", "[cam]") {
  TinyNetReplace model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  for (int i = 0; i < 3; ++i) host.pictures["img" + std::to_string(i)] = at::rand({3, 40, 50}) * 255;
  KeepOutput out;
  techniques::Cam tech(args_for(host, {{"images", List{"img0", "img1", "img2"}},
                                       {"methods", List{"gradcam", "gradcam++", "scorecam", "ablationcam"}},
                                       {"classes", Dict{{"top", 2}}}, {"batch_size", 2}}));
  tech.run(model, out);
  CHECK(out.arrays.size() == 3 * 4 * 2);
  CHECK(out.images.size() == 3 * 4 * 2 * 2);
  for (const auto& item : out.images) {
    for (const char* key : {"image", "method", "layer", "class", "name", "view", "probability"})
      CHECK(item.meta.count(key) == 1);
    CHECK(item.meta.at("layer").as_string() == "conv3");
  }
  // Paths: <image>/<method slug>/<rank>_class_<id>_heatmap.
  const auto in_folder = std::count_if(out.arrays.begin(), out.arrays.end(), [](const KeepOutput::Item& item) {
    return item.name.rfind("img1/gradcam_pp/", 0) == 0 && item.meta.at("method").as_string() == "gradcam++";
  });
  CHECK(in_folder == 2);
  CHECK(out.records.at("predictions").as_list().size() == 3);
  // Two layers: maps at the input's resolution.
  KeepOutput two;
  techniques::Cam(args_for(host, {{"images", List{"img0"}}, {"methods", "layercam"}, {"layers", List{"conv2", "conv3"}},
                                  {"size", 24}}))
      .run(model, two);
  REQUIRE(two.arrays.size() == 1);
  CHECK(two.arrays[0].data.sizes() == std::vector<std::int64_t>{24, 24});
  CHECK(two.arrays[0].meta.at("layer").as_string() == "conv2,conv3");
  // check_model: unknown layer, a layer without spatial output, ablationcam without LayerReplace.
  TinyNet plain(technique_fixtures() + "/tiny_net");
  CHECK_THROWS_AS(techniques::Cam(args_for(host, {{"images", List{"img0"}}, {"layers", "conv9"}})).check_model(model),
                  OptionError);
  CHECK_THROWS_AS(techniques::Cam(args_for(host, {{"images", List{"img0"}}, {"layers", "gap"}})).check_model(model),
                  Error);
  CHECK_THROWS_AS(
      techniques::Cam(args_for(host, {{"images", List{"img0"}}, {"methods", "ablationcam"}})).check_model(plain),
      OptionError);
  CHECK_THROWS_AS(techniques::Cam(args_for(host, {{"images", List{"img0"}}, {"classes", List{"zebra"}}})).check_model(model),
                  OptionError);
}

TEST_CASE("cam's metrics option records every method's maps, each as the metrics judge the map emitted", "[cam][metrics]") {
  TinyNetReplace model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  at::manual_seed(5);
  host.pictures["a"] = at::rand({3, 24, 24}) * 255;
  host.pictures["b"] = at::rand({3, 24, 24}) * 255;
  const Dict metrics{{"steps", 8}, {"which", List{"deletion", "insertion", "drop_in_confidence"}}};
  CreateArgs a = args_for(host, {{"images", List{"a", "b"}}, {"methods", List{"gradcam++", "scorecam", "eigencam"}},
                                 {"size", 24}, {"batch_size", 2}, {"metrics", metrics}});
  KeepOutput out;
  techniques::Cam(a).run(model, out);
  const auto& entries = out.records.at("metrics").as_list();
  REQUIRE(entries.size() == 2 * 3);  // 2 images x 3 methods x top 1
  const auto options = vizrun::faithfulness::MetricsOptions::from_value(a.options.at("metrics"));
  for (const auto& e : entries) {
    const std::string image = e.at("image").as_string(), method = e.at("method").as_string();
    CHECK(e.at("layer").as_string() == "conv3");
    const KeepOutput::Item* map = out.find_array_of(image, method);
    REQUIRE(map != nullptr);
    // The same pixels through the metrics on their own: the recorded values are the emitted map's.
    const at::Tensor input = model.preprocess(host.pictures[image].unsqueeze(0));
    const auto want = vizrun::faithfulness::evaluate(model, input, map->data.unsqueeze(0),
                                                      {map->meta.at("class").as_int()}, options);
    INFO(image << " " << method);
    for (const char* metric : {"deletion", "insertion", "drop_in_confidence"})
      CHECK(e.at("values").at(metric).as_double() == Approx(want[0].values.at(metric)).margin(1e-6));
    CHECK(e.at("curves").at("deletion").as_list().size() == 9);
  }
  // Without the option: nothing computed, nothing recorded.
  KeepOutput quiet;
  techniques::Cam(args_for(host, {{"images", List{"a"}}, {"size", 24}})).run(model, quiet);
  CHECK(quiet.records.count("metrics") == 0);
}

TEST_CASE("model randomisation: every method's map changes when the weights are re-initialised", "[cam][sanity]") {
  TinyNetReplace trained(technique_fixtures() + "/tiny_net");
  TinyNetReplace random("", 3);
  const at::Tensor x = photo_input();
  const at::Tensor top = fixture("top_class").view({1, 1});
  for (const auto& method : cam::method_names()) {
    const at::Tensor a = cam::scale(cam::compute(trained, x, request_for(method, {"conv3"}), {}, top).maps[0][0]);
    const at::Tensor b = cam::scale(cam::compute(random, x, request_for(method, {"conv3"}), {}, top).maps[0][0]);
    const double diff = (a - b).abs().mean().item<double>();
    std::printf("cam randomisation %-12s mean |trained - random| %.3f\n", method.c_str(), diff);
    INFO(method);
    CHECK(diff > 0.05);
  }
}

TEST_CASE("cam memory stays flat over many images with several methods", "[cam][memory]") {
  TinyNetReplace model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  const at::Tensor pic = at::rand({3, 32, 32}) * 255;
  List many;
  for (int i = 0; i < 400; ++i) {
    host.pictures["p" + std::to_string(i)] = pic;
    many.push_back("p" + std::to_string(i));
  }
  const List warm(many.begin(), many.begin() + 50);
  const List methods{"gradcam", "gradcam++", "eigencam", "scorecam", "ablationcam"};
  CountingOutput out;
  techniques::Cam(args_for(host, {{"images", warm}, {"methods", methods}, {"titles", false}})).run(model, out);
  const double before = rss_mb();
  techniques::Cam(args_for(host, {{"images", many}, {"methods", methods}, {"titles", false}})).run(model, out);
  const double after = rss_mb();
  CHECK(out.arrays == 450 * 5);
#ifdef VIZRUN_SANITIZER_BUILD
  WARN("RSS check skipped in a sanitizer build: before " << before << " MB, after " << after << " MB");
#else
  INFO("rss before " << before << " MB, after " << after << " MB");
  std::printf("cam memory: rss %.1f MB after 50 images, %.1f MB after 400 more\n", before, after);
  CHECK(after - before < 20.0);
#endif
}

TEST_CASE("a real backend: every method on the torchscript plugin's resnet_small equals pytorch-grad-cam, "
          "on a block's output and inside a block with a skip path",
          "[cam][oracle][e2e][torchscript]") {
  // tests/oracles/techniques/make_cam_torchscript_fixtures.py: the same traced ResNet, photo and
  // class. layer3.0.conv1 sits inside a residual block whose downsample does not depend on
  // it: Ablation-CAM's forward from that layer on must still compute the skip path.
  const std::string dir = vizrun::testing::temp_dir("cam-ts");
  const std::string fixtures = technique_fixtures() + "/cam/";
  const std::vector<std::string> layers{"layer2", "layer3.0.conv1"};
  {
    std::ofstream exp(dir + "/exp.yaml");
    exp << "experiment: cam_ts\nseed: 0\ndevice: cpu\nmodel:\n  plugin: torchscript\n  weights: " << technique_fixtures()
        << "/../models/torchscript/resnet_small.pt\n  options: {input_size: [128, 128]}\ntechniques:\n";
    for (std::size_t l = 0; l < layers.size(); ++l)
      exp << "  - plugin: cam\n    id: l" << l << "\n    options:\n      images: [" << fixtures << "photo128.png]\n"
          << "      classes: [3]\n      layers: " << layers[l] << "\n      titles: false\n"
          << "      methods: [gradcam, gradcam++, xgradcam, hirescam, layercam, eigencam, eigengradcam, scorecam, ablationcam]\n";
  }
  const std::string command =
      std::string(VIZRUN_BINARY) + " run " + dir + "/exp.yaml --out " + dir + "/run -q >" + dir + "/log 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream log(dir + "/log");
  std::stringstream text;
  text << log.rdbuf();
  INFO(text.str());
  REQUIRE(status == 0);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    for (const auto& method : cam::method_names()) {
      const at::Tensor ours = read_npy(dir + "/run/l" + std::to_string(l) + "/photo128/" +
                                      cam::method_slug(cam::parse_method(method)) + "/0_class_3_heatmap.npy");
      const at::Tensor want = fixture("ts_" + slug(method) + "_" + layers[l]);
      REQUIRE(ours.sizes() == want.sizes());
      const double err = relative_error(ours, want);
      std::printf("cam oracle torchscript %-13s %-15s max error / max |pytorch-grad-cam| = %.3g\n", method.c_str(),
                  layers[l].c_str(), err);
      INFO(method << " on " << layers[l]);
      CHECK(err < 1e-4);
    }
  }
}
