// Speed and look of the techniques on the real model backends (not a test: run by hand).
//
//   technique_bench ascent  [--size 128] [--layers a,b] [--filters 16] [--steps 5]
//                           [--batch 0] [--channels-last 1] [--precision fp32|bf16] [--threads 2] [--dump DIR]
//   technique_bench gradcam [--images N] [--batch 16] [--dump DIR]
//
// Models are random-weight VGG16 loaded through the build tree's plugins. Prints
// image-steps/s for filter ascent and images/s for Grad-CAM; --dump writes each
// emitted image as .npy (tests/oracles/techniques/npy_to_png.py turns them into PNG).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include "fakes.h"
#include "vizrun_host/precision.h"
#include "vizrun/options.h"
#include "filter_ascent.h"
#include "gradcam.h"
#include "activations.h"
#include "npy.h"
#include "vizrun_host/plugin_registry.h"

using namespace vizrun;

namespace {

struct DumpOutput : Output {
  std::string dir;
  void image(const std::string& name, const at::Tensor& t, const Dict&) override { save(name, t); }
  void array(const std::string& name, const at::Tensor& t, const Dict&) override { save(name + ".array", t); }
  void record(const std::string& key, const Value& v) override { records[key] = v; }
  void save(std::string name, const at::Tensor& t) {
    if (dir.empty()) return;
    for (auto& c : name)
      if (c == '/') c = '~';
    testing::write_npy(dir + "/" + name + ".npy", t);
  }
  Dict records;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: technique_bench ascent|gradcam|activations [--key value]...\n");
    return 2;
  }
  const std::string mode = argv[1];
  std::map<std::string, std::string> opt{{"size", "128"},    {"layers", "block1_conv1,block3_conv1,block4_conv1,block5_conv3"},
                                         {"filters", "16"},  {"steps", "5"},
                                         {"batch", "0"},     {"channels-last", "1"},
                                         {"precision", "fp32"}, {"threads", "2"},
                                         {"images", "32"},   {"dump", ""},
                                         {"model", "vgg16"}, {"image", ""}, {"reuse", "1"}};
  for (int i = 2; i + 1 < argc; i += 2) opt[std::string(argv[i]).substr(2)] = argv[i + 1];
  at::set_num_threads(std::stoi(opt["threads"]));
  const std::int64_t size = (std::int64_t)std::stoll(opt["size"]);

  host::PluginRegistry registry(host::PluginRegistry::default_directories({VIZRUN_BENCH_PLUGIN_DIR}));
  testing::FakeHost fake("/");
  CreateArgs margs;
  margs.host = &fake;
  margs.weights = "random";
  if (opt["model"] == "vgg16") {
    const bool top = mode == "gradcam";
    margs.options = Dict{{"include_top", top}, {"pooling", "none"}, {"input_height", top ? 224 : size},
                         {"input_width", top ? 224 : size}, {"preprocessing", "caffe"}};
  } else {
    margs.options = Dict{};
  }
  auto model = registry.create_model(opt["model"], margs);

  DumpOutput out;
  out.dir = opt["dump"];
  CreateArgs targs;
  targs.host = &fake;
  // The run's precision, set around the techniques as the host does.
  host::PrecisionScope precision(opt["precision"], c10::Device(c10::kCPU));
  if (mode == "ascent") {
    List layers;
    for (const auto& l : split(opt["layers"])) layers.push_back(l);
    targs.options = Dict{{"layers", layers},
                         {"filters", (std::int64_t)std::stoll(opt["filters"])},
                         {"size", size},
                         {"steps", (std::int64_t)std::stoll(opt["steps"])},
                         {"batch_size", (std::int64_t)std::stoll(opt["batch"])},
                         {"channels_last", opt["channels-last"] == "1"},
                         {"reuse_memory", opt["reuse"] == "1"},
                         {"filter_images", !out.dir.empty()}};
    if (!opt["image"].empty()) targs.options["init"] = Dict{{"image", opt["image"]}};
    fill_defaults(targs.options, techniques::kFilterAscentSchema);
    techniques::FilterAscent tech(targs);
    for (const auto& l : split(opt["layers"])) {
      Value o = targs.options;
      o["layers"] = List{l};
      CreateArgs one = targs;
      one.options = o;
      techniques::FilterAscent t(one);
      const auto t0 = std::chrono::steady_clock::now();
      t.run(*model, out);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double work = static_cast<double>((std::int64_t)std::stoll(opt["filters"]) * (std::int64_t)std::stoll(opt["steps"]));
      std::printf("%-14s size %lld  %s  batch %s  channels_last %s: %.2f s, %.1f image-steps/s\n", l.c_str(),
                  static_cast<long long>(size), opt["precision"].c_str(), opt["batch"].c_str(), opt["channels-last"].c_str(), s,
                  work / s);
    }
    for (const auto& line : fake.logs) std::printf("  log: %s\n", line.c_str());
  } else if (mode == "gradcam" || mode == "activations") {
    const int n = std::stoi(opt["images"]);
    List images;
    for (int i = 0; i < n; ++i) {
      const std::string name = "img" + std::to_string(i);
      fake.pictures[name] = opt["image"].empty() ? at::rand({3, 300, 400}) * 255 : fake.load_image(opt["image"]);
      images.push_back(name);
    }
    if (mode == "gradcam") {
      targs.options = Dict{{"images", images}, {"batch_size", (std::int64_t)std::stoll(opt["batch"]) > 0 ? (std::int64_t)std::stoll(opt["batch"]) : 16},
                           {"classes", Dict{{"top", 1}}}};
      fill_defaults(targs.options, techniques::kGradCamSchema);
      techniques::GradCam tech(targs);
      const auto t0 = std::chrono::steady_clock::now();
      tech.run(*model, out);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("gradcam: %d images in %.2f s, %.2f images/s\n", n, s, n / s);
    } else {
      targs.options = Dict{{"images", images}, {"layers", 8}, {"size", 150}};
      fill_defaults(targs.options, techniques::kActivationsSchema);
      techniques::ActivationGrids tech(targs);
      tech.run(*model, out);
    }
  }
  return 0;
}
