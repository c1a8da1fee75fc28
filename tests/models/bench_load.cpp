// Load benchmark: writes a VGG16-with-top weights file of the official size and
// layout (Keras-1 names, 553 MB) once, then loads it through the vgg16 plugin in a
// fresh process and reports wall time and peak RSS.
//
//   vizrun_models_bench write /tmp/vgg16_top.h5
//   vizrun_models_bench load  /tmp/vgg16_top.h5
//   vizrun_models_bench speed vgg16|resnet50v2   (VIZRUN_CHANNELS_LAST=0 for the NCHW layout)
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "model_test_util.h"

using namespace vizrun;
using namespace vizrun::models;
using namespace vizrun::models::testing;

namespace {

long rss_kb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: vizrun_models_bench write|load FILE\n";
    return 2;
  }
  std::string mode = argv[1], path = argv[2];
  try {
    if (mode == "write") {
      auto layout = read_json(fixture_path("keras_vgg16_h5_layout.json"));
      KerasH5WriteOptions o;
      o.naming = "keras1";
      write_keras_h5_layers(path, layout_with_formula(layout, true), o);
      std::cout << "wrote " << path << "\n";
      return 0;
    }
    torch::set_num_threads(2);
    if (mode == "speed") {
      // Filter-ascent-like step: forward to a tap, gradient of one channel's mean w.r.t. the input.
      const char* layout = std::getenv("VIZRUN_CHANNELS_LAST");
      Value options(Dict{{"include_top", false}, {"input_height", 224}, {"input_width", 224},
                         {"channels_last", !(layout && std::string(layout) == "0")}});
      for (const char* tap : {"block3_conv3", "block5_conv3"}) {
        auto model = path == "resnet50v2" ? create_model("resnet50v2", options, "random")
                                           : create_model("vgg16", options, "random");
        std::string layer = path == "resnet50v2" ? (tap[5] == '3' ? "conv3_block4_out" : "conv5_block3_out") : tap;
        at::Tensor x = torch::rand({1, 3, 224, 224}).requires_grad_(true);
        auto step = [&] {
          auto a = model->forward(x, {layer}).at(layer);
          auto g = torch::autograd::grad({a.select(1, 3).mean()}, {x});
          return g[0];
        };
        step();
        auto t0 = std::chrono::steady_clock::now();
        const int n = 5;
        for (int i = 0; i < n; ++i) step();
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
        std::printf("%s %s: %.1f ms per forward+input-gradient step (224x224, batch 1)\n", path.c_str(),
                    layer.c_str(), ms);
      }
      return 0;
    }
    long base = rss_kb("VmRSS:");
    auto t0 = std::chrono::steady_clock::now();
    auto model = create_model("vgg16", Value(Dict{}), path);
    auto t1 = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(t1 - t0).count();
    long params_mb = model->parameter_count() * 4 / (1024 * 1024);
    std::printf("load %s: %.2f s (including sha256 of the file for the manifest)\n", path.c_str(), seconds);
    std::printf("parameters: %lld (%ld MiB as float32)\n", static_cast<long long>(model->parameter_count()), params_mb);
    std::printf("RSS before load: %ld MiB, peak RSS (VmHWM): %ld MiB, peak above start: %ld MiB\n", base / 1024,
                rss_kb("VmHWM:") / 1024, (rss_kb("VmHWM:") - base) / 1024);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
