// Load benchmark: writes a VGG16-with-top weights file of the official size and
// layout (Keras-1 names, 553 MB) once, then loads it through the vgg16 plugin in a
// fresh process and reports wall time and peak RSS.
//
//   vizrun_models_bench write /tmp/vgg16_top.h5
//   vizrun_models_bench load  /tmp/vgg16_top.h5
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
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
