#include "vizrun_host/device_info.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <cstdlib>
#include <fstream>

namespace vizrun::host {
namespace {

/// "11.8" from CUDA's 11080 (runtime) or "8.7.0" from cuDNN's 8700/87000-style numbers.
std::string cuda_version(long v) {
  if (v <= 0) return "";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string cudnn_version(long v) {
  if (v <= 0) return "";
  // cuDNN 8: major*1000 + minor*100 + patch; cuDNN 9: major*10000 + minor*100 + patch.
  const long major = v >= 10000 ? v / 10000 : v / 1000;
  const long minor = (v >= 10000 ? v % 10000 : v % 1000) / 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return "";
}

}  // namespace

nlohmann::json torch_build_info() {
  const auto& hooks = at::detail::getCUDAHooks();
  const bool cuda = hooks.hasCUDA();
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  return {{"libtorch", TORCH_VERSION},
          {"cuda_runtime", cuda ? cuda_version(hooks.versionCUDART()) : ""},
          {"cudnn", cuda && hooks.hasCuDNN() ? cudnn_version(hooks.versionCuDNN()) : ""},
          {"gpus", cuda ? hooks.getNumGPUs() : 0},
          {"cuda_visible_devices", visible ? nlohmann::json(visible) : nlohmann::json(nullptr)}};
}

nlohmann::json device_info(const std::string& device) {
  if (device.rfind("cuda", 0) == 0) {
    const auto colon = device.find(':');
    const int index = colon == std::string::npos ? 0 : std::atoi(device.c_str() + colon + 1);
    nlohmann::json info = {{"kind", "cuda"}, {"index", index}};
    const nlohmann::json gpu = gpu_info(index);
    if (gpu.is_object()) info.update(gpu);
    return info;
  }
  return {{"kind", "cpu"}, {"name", cpu_model_name()}};
}

}  // namespace vizrun::host
