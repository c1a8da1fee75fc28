// attribution against captum 0.9.0 (tests/oracles/techniques/make_attribution_fixtures.py),
// the model-randomisation sanity check, outputs, and memory that does not grow with
// IG's steps or SmoothGrad's samples.
#include <ATen/ATen.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <cstdio>

#include "attribution.h"
#include "catch.h"
#include "fakes.h"
#include "npy.h"
#include "test_support.h"
#include "tiny_model.h"
#include "vizrun/faithfulness.h"

using namespace vizrun;
using namespace vizrun::testing;
namespace attr = vizrun::techniques::attribution;

namespace {
at::Tensor fixture(const std::string& name) { return read_npy(technique_fixtures() + "/attribution/" + name + ".npy"); }

/// max |a - b| / max |b|: the error relative to the map's scale.
double relative_error(const at::Tensor& got, const at::Tensor& want) {
  const double scale = want.abs().max().item<double>();
  return (got.cpu().to(at::kFloat) - want).abs().max().item<double>() / std::max(scale, 1e-30);
}

void check_close(const std::string& what, const at::Tensor& got, const at::Tensor& want) {
  REQUIRE(got.sizes() == want.sizes());
  const double err = relative_error(got, want);
  std::printf("attribution oracle %-34s max error / max |captum| = %.3g\n", what.c_str(), err);
  INFO(what << ": relative error " << err);
  CHECK(err < 1e-4);
}

CreateArgs args_for(const Host& host, Dict options) {
  CreateArgs a;
  a.options = Value(std::move(options));
  fill_defaults(a.options, attr::kAttributionSchema);
  a.host = &host;
  a.device = c10::kCPU;
  return a;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

const std::vector<std::string> kAllMethods = {"saliency", "gradient_x_input", "integrated_gradients", "guided_backprop",
                                              "guided_gradcam", "occlusion", "smoothgrad(saliency)",
                                              "smoothgrad_sq(gradient_x_input)", "vargrad(integrated_gradients)"};
}  // namespace

TEST_CASE("attribution equals captum 0.9.0 within 1e-4 relative on the tiny net", "[attribution][oracle]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  const at::Tensor x = fixture("input");
  const at::Tensor target = read_npy(technique_fixtures() + "/attribution/target.npy").to(at::kLong);
  const std::int64_t rows = 3;  // odd passes: chunking must not change the sums
  const at::Tensor grad = attr::input_gradients(model, x, target, "logit", rows);
  check_close("saliency (abs)", grad.abs(), fixture("saliency_abs"));
  check_close("saliency (signed)", grad, fixture("saliency_signed"));
  check_close("input x gradient", grad * x, fixture("input_x_gradient"));
  for (const std::string method : {"riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre"})
    check_close("integrated gradients " + method,
                attr::integrated_gradients(model, x, at::zeros_like(x), target, "logit", 8, method, rows),
                fixture("ig_" + method));
  check_close("integrated gradients (noise baseline)",
              attr::integrated_gradients(model, x, fixture("ig_baseline"), target, "logit", 8, "riemann_trapezoid", rows),
              fixture("ig_noise_trapezoid"));
  for (const auto& [kind, inner_name] : std::vector<std::pair<std::string, std::string>>{
           {"smoothgrad", "saliency"}, {"smoothgrad_sq", "input_x_gradient"}, {"vargrad", "saliency"}}) {
    const std::string tag = kind + "_" + inner_name;
    const at::Tensor noise = fixture("nt_noise_" + tag).view({2, 4, 3, 32, 32});
    const attr::NoiseSource source = [&](std::int64_t first, std::int64_t count) { return noise.narrow(1, first, count); };
    const attr::Inner inner = [&](const at::Tensor& rx, const at::Tensor& src) {
      const at::Tensor g = attr::input_gradients(model, rx, target.index_select(0, src), "logit", rows);
      return inner_name == "saliency" ? g.abs() : g * rx;
    };
    check_close("noise tunnel " + tag, attr::noise_tunnel(inner, x, kind, 4, source, rows), fixture("nt_" + tag));
  }
  check_close("guided backprop", attr::guided_backprop(model, x, target, "logit", rows), fixture("guided_backprop"));
  check_close("guided grad-cam (conv2)", attr::guided_grad_cam(model, x, target, "logit", "conv2", rows),
              fixture("guided_gradcam_conv2"));
  check_close("occlusion window 8 stride 4", attr::occlusion(model, x, target, "logit", 8, 4, 0.0, 5),
              fixture("occlusion_w8_s4"));
  check_close("occlusion window 6 stride 4 (cut windows)", attr::occlusion(model, x, target, "logit", 6, 4, 0.0, 7),
              fixture("occlusion_w6_s4"));
}

TEST_CASE("Gauss-Legendre steps equal numpy's leggauss (sum of weights 1, symmetric)", "[attribution]") {
  const auto q = attr::quadrature("gausslegendre", 5);
  double sum = 0;
  for (const double w : q.step_sizes) sum += w;
  CHECK(std::abs(sum - 1.0) < 1e-14);
  // numpy.polynomial.legendre.leggauss(5)[0][0] = -0.906179845938664
  CHECK(std::abs(q.alphas[0] - 0.5 * (1 - 0.906179845938664)) < 1e-14);
  CHECK(std::abs(q.alphas[0] + q.alphas[4] - 1.0) < 1e-14);
  CHECK_THROWS_AS(attr::quadrature("simpson", 5), Error);
  CHECK_THROWS_AS(attr::quadrature("gausslegendre", 1), Error);
}

TEST_CASE("model randomisation: every method's maps change when the weights are re-initialised", "[attribution][sanity]") {
  TinyNet trained(technique_fixtures() + "/tiny_net");
  TinyNet random("", 123);
  FakeHost host;
  host.pictures["photo"] = read_npy(technique_fixtures() + "/gradcam/photo.npy");
  for (const auto& method : kAllMethods) {
    Dict options{{"images", List{"photo"}}, {"methods", List{method}}, {"classes", List{1}},
                 {"integrated_gradients", Dict{{"steps", 8}}}, {"smoothgrad", Dict{{"samples", 4}}},
                 {"occlusion", Dict{{"window", 8}, {"stride", 4}}}, {"titles", false}};
    KeepOutput a, b;
    attr::Attribution(args_for(host, options)).run(trained, a);
    attr::Attribution(args_for(host, options)).run(random, b);
    REQUIRE(a.arrays.size() == 1);
    REQUIRE(b.arrays.size() == 1);
    const at::Tensor ma = a.arrays[0].data.flatten(), mb = b.arrays[0].data.flatten();
    const at::Tensor ca = ma - ma.mean(), cb = mb - mb.mean();
    const double corr = (ca * cb).sum().item<double>() / std::max(1e-30, (ca.norm() * cb.norm()).item<double>());
    std::printf("model randomisation %-32s correlation trained vs random %.3f\n", method.c_str(), corr);
    INFO(method << ": correlation " << corr);
    CHECK(std::abs(corr) < 0.9);
    CHECK(a.arrays[0].meta.at("method").as_string() == method);
  }
}

TEST_CASE("attribution writes .npy and signed / heatmap / overlay images with the grid's meta keys", "[attribution]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  List names;
  for (int i = 0; i < 3; ++i) {
    host.pictures["img" + std::to_string(i)] = at::rand({3, 40, 50}) * 255;
    names.push_back("img" + std::to_string(i));
  }
  List methods;
  for (const auto& m : kAllMethods) methods.push_back(m);
  KeepOutput out;
  attr::Attribution(args_for(host, {{"images", names}, {"methods", methods}, {"classes", Dict{{"top", 2}}},
                                    {"batch_size", 2}, {"size", 32}, {"integrated_gradients", Dict{{"steps", 4}}},
                                    {"smoothgrad", Dict{{"samples", 3}}}, {"occlusion", Dict{{"window", 8}, {"stride", 8}}}}))
      .run(model, out);
  CHECK(out.arrays.size() == 3 * 2 * kAllMethods.size());
  for (const auto& item : out.arrays) CHECK(item.data.sizes() == at::IntArrayRef({3, 32, 32}));
  std::size_t signed_views = 0;
  for (const auto& item : out.images) {
    for (const char* key : {"image", "method", "layer", "class", "name", "view"}) CHECK(item.meta.count(key) == 1);
    CHECK(item.data.scalar_type() == at::kByte);
    CHECK(item.data.size(1) >= 224);  // small inputs enlarged to be seen
    if (item.meta.at("view").as_string() == "signed") ++signed_views;
    if (item.meta.at("method").as_string() == "guided_gradcam") CHECK(item.meta.at("layer").as_string() == "conv3");
    else CHECK(item.meta.at("layer").as_string().empty());
  }
  // saliency (abs), smoothgrad(saliency), smoothgrad_sq and vargrad are never negative: no signed view.
  CHECK(signed_views == 3 * 2 * (kAllMethods.size() - 4));
  CHECK(out.images.size() == 3 * 2 * (2 * kAllMethods.size()) + signed_views);
  CHECK_THROWS_AS(attr::Attribution(args_for(host, {{"images", List{"img0"}}, {"classes", List{"zebra"}}})).run(model, out),
                  Error);
}

TEST_CASE("attribution's metrics option judges each map's |map| as its heatmap shows it", "[attribution][metrics]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  at::manual_seed(9);
  host.pictures["a"] = at::rand({3, 32, 32}) * 255;
  host.pictures["b"] = at::rand({3, 32, 32}) * 255;
  CreateArgs a = args_for(host, {{"images", List{"a", "b"}}, {"methods", List{"saliency", "integrated_gradients"}},
                                 {"size", 32}, {"integrated_gradients", Dict{{"steps", 4}}},
                                 {"metrics", Dict{{"steps", 6}, {"which", List{"deletion", "insertion"}}}}});
  KeepOutput out;
  attr::Attribution(a).run(model, out);
  const auto& entries = out.records.at("metrics").as_list();
  REQUIRE(entries.size() == 2 * 2);
  const auto options = vizrun::faithfulness::MetricsOptions::from_value(a.options.at("metrics"));
  for (const auto& e : entries) {
    const std::string image = e.at("image").as_string(), method = e.at("method").as_string();
    const KeepOutput::Item* map = out.find_array_of(image, method);
    REQUIRE(map != nullptr);
    // The heatmap's scale: captum's 98th cumulative percentile of |sum over channels|.
    const at::Tensor magnitude = map->data.sum(0).abs();
    const double scale = attr::cumulative_threshold(magnitude, 98.0);
    const at::Tensor unit = (magnitude / scale).clamp(0, 1);
    CHECK(unit.max().item<double>() == 1.0);
    const at::Tensor input = model.preprocess(host.pictures[image].unsqueeze(0));
    const auto want = vizrun::faithfulness::evaluate(model, input, unit.unsqueeze(0), {map->meta.at("class").as_int()}, options);
    INFO(image << " " << method);
    CHECK(e.at("values").at("deletion").as_double() == Approx(want[0].values.at("deletion")).margin(1e-6));
    CHECK(e.at("values").at("insertion").as_double() == Approx(want[0].values.at("insertion")).margin(1e-6));
  }
}

TEST_CASE("diverging colours: blue below 0, white at 0, red above, captum's cumulative threshold", "[attribution]") {
  const at::Tensor c = attr::diverging_colormap(at::tensor({-1.0f, 0.0f, 1.0f}).view({1, 3}));
  CHECK(c[0][0][2].item<int>() > c[0][0][0].item<int>());  // blue
  CHECK(c[0][1][0].item<int>() == 255);
  CHECK(c[0][1][1].item<int>() == 255);
  CHECK(c[0][2][0].item<int>() > c[0][2][2].item<int>());  // red
  // values 1..4: cumulative sums 1, 3, 6, 10; 50 % of 10 is first reached at 3.
  CHECK(attr::cumulative_threshold(at::tensor({4.0f, -1.0f, 3.0f, 2.0f}), 50.0) == 3.0);
}

TEST_CASE("peak memory does not grow with IG's steps or SmoothGrad's samples", "[attribution][memory]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  host.pictures["a"] = at::rand({3, 64, 64}) * 255;
  host.pictures["b"] = at::rand({3, 64, 64}) * 255;
  auto run = [&](const std::string& method, std::int64_t steps, std::int64_t samples) {
    CountingOutput out;
    attr::Attribution(args_for(host, {{"images", List{"a", "b"}}, {"methods", List{method}}, {"size", 64},
                                      {"max_rows", 8}, {"titles", false},
                                      {"integrated_gradients", Dict{{"steps", steps}}},
                                      {"smoothgrad", Dict{{"samples", samples}}}}))
        .run(model, out);
  };
  run("integrated_gradients", 16, 4);
  run("smoothgrad(saliency)", 16, 16);
  const double before = peak_rss_mb();
  // Unchunked, 1024 steps of 2 inputs keep about 2048 x 1.5 MB of activations.
  run("integrated_gradients", 1024, 4);
  run("smoothgrad(saliency)", 16, 1024);
  const double after = peak_rss_mb();
  std::printf("attribution peak RSS: %.1f MB after 16 steps/samples, %.1f MB after 1024\n", before, after);
#ifndef VIZRUN_SANITIZER_BUILD
  CHECK(after - before < 30.0);
#endif
}

namespace {
/// Runs `vizrun run <config> <sets>` with random weights; returns the exit status and
/// the manifest's text.
std::pair<int, std::string> run_config(const std::string& name, const std::string& sets) {
  const std::string dir = vizrun::testing::temp_dir("attr-e2e");
  const std::string command = std::string(VIZRUN_BINARY) + " run " + VIZRUN_SOURCE_DIR + "/configs/" + name +
                              ".yaml --out " + dir + "/run -q --set model.weights=random " + sets + " >" + dir +
                              "/log 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream manifest(dir + "/run/manifest.json"), log(dir + "/log");
  std::stringstream text;
  text << manifest.rdbuf() << log.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}
}  // namespace

TEST_CASE("configs/attribution_fashion_mnist.yaml and configs/attribution.yaml run small", "[attribution][configs][e2e]") {
  {
    const auto [status, text] = run_config("attribution_fashion_mnist",
                                           "--set techniques.0.options.integrated_gradients.steps=4 "
                                           "--set techniques.0.options.smoothgrad.samples=2");
    INFO(text);
    CHECK(status == 0);
    CHECK(text.find("\"complete\"") != std::string::npos);
    CHECK(text.find("vargrad(saliency)") != std::string::npos);
  }
  {
    const auto [status, text] = run_config(
        "attribution", "--set techniques.0.options.integrated_gradients.steps=2 "
                       "--set techniques.0.options.smoothgrad.samples=2 --set techniques.0.options.occlusion.window=112 "
                       "--set techniques.0.options.occlusion.stride=112");
    INFO(text);
    CHECK(status == 0);
    CHECK(text.find("guided_gradcam") != std::string::npos);
  }
}

TEST_CASE("a real backend: the torchscript plugin's resnet_small equals captum (saliency, IG, occlusion)",
          "[attribution][oracle][e2e]") {
  const std::string dir = vizrun::testing::temp_dir("attr-ts");
  const std::string fixtures = technique_fixtures() + "/attribution/";
  {
    std::ofstream exp(dir + "/exp.yaml");
    exp << "experiment: attr_ts\nseed: 0\ndevice: cpu\nmodel:\n  plugin: torchscript\n  weights: " << technique_fixtures()
        << "/../models/torchscript/resnet_small.pt\n  options: {input_size: [64, 64]}\n"
        << "techniques:\n  - plugin: attribution\n    id: attr\n    options:\n      images: [" << fixtures
        << "photo64.png]\n      classes: [3]\n      saliency: {abs: false}\n"
        << "      methods: [saliency, integrated_gradients, occlusion, guided_backprop]\n"
        << "      integrated_gradients: {steps: 8, method: riemann_trapezoid, baseline: black}\n"
        << "      occlusion: {window: 16, stride: 8, baseline: 0}\n";
  }
  const std::string command = std::string(VIZRUN_BINARY) + " run " + dir + "/exp.yaml --out " + dir + "/run -q >" + dir +
                              "/log 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream log(dir + "/log");
  std::stringstream text;
  text << log.rdbuf();
  INFO(text.str());
  // guided_backprop is the one method the torchscript backend cannot run: one line says so.
  CHECK(WEXITSTATUS(status) != 0);
  CHECK(text.str().find("torchscript backend: guided backpropagation is not supported") != std::string::npos);
  // The methods before it ran and wrote their maps.
  const std::string maps = dir + "/run/attr/photo64/";
  check_close("torchscript saliency", read_npy(maps + "saliency/0_class_3.npy").unsqueeze(0),
              fixture("ts_saliency_signed"));
  check_close("torchscript IG trapezoid", read_npy(maps + "integrated_gradients/0_class_3.npy").unsqueeze(0),
              fixture("ts_ig_trapezoid"));
  check_close("torchscript occlusion", read_npy(maps + "occlusion/0_class_3.npy").unsqueeze(0),
              fixture("ts_occlusion_w16_s8"));
}
