#include "vizrun_host/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

namespace vizrun::host {

bool cpu_has_native_bf16() {
  static const bool has = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      std::istringstream words(line);
      std::string w;
      while (words >> w) {
        if (w == "avx512_bf16" || w == "amx_bf16") return true;
      }
      return false;
    }
    return false;
  }();
  return has;
}

double time_convolution_ms(c10::Device device, bool bf16) {
  const auto options = torch::TensorOptions().device(device).dtype(torch::kFloat32);
  const torch::Tensor weight = torch::randn({64, 64, 3, 3}, options) * 0.05;
  const torch::Tensor input = torch::randn({4, 64, 56, 56}, options);
  PrecisionScope scope(bf16 ? "bf16" : "fp32", device);
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {  // the first is a warm-up (kernel selection, page faults)
    torch::AutoGradMode grad(true);  // whatever the caller's mode: the gradient is part of the work
    const torch::Tensor x = input.clone().requires_grad_(true);
    const auto start = std::chrono::steady_clock::now();
    const torch::Tensor y = torch::conv2d(x, weight, {}, 1, 1);
    const torch::Tensor g = torch::autograd::grad({y.sum()}, {x})[0];
    if (device.is_cuda()) torch::cuda::synchronize();
    (void)g.sum().item<float>();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (rep > 0) best = std::min(best, ms);
  }
  return best;
}

PrecisionChoice choose_precision(const std::string& requested, c10::Device device) {
  if (requested == "fp32") return {"fp32", "the experiment asks for fp32", nullptr};
  const bool native = device.is_cuda() || cpu_has_native_bf16();
  const std::string where = device.is_cuda() ? "this CUDA device" : "this CPU";
  if (!native) {
    return {"fp32",
            requested == "bf16"
                ? "bf16 was asked for, but this CPU has no native bf16 (flags avx512_bf16, amx_bf16) and would only emulate it; computing in fp32"
                : "auto: this CPU has no native bf16 (flags avx512_bf16, amx_bf16), and emulated bf16 is slower than fp32",
            nullptr};
  }
  if (requested == "bf16") return {"bf16", "the experiment asks for bf16, which " + where + " computes natively", nullptr};
  const double fp32_ms = time_convolution_ms(device, false);
  const double bf16_ms = time_convolution_ms(device, true);
  const bool faster = bf16_ms < fp32_ms;
  nlohmann::json measurement = {{"fp32_ms", fp32_ms}, {"bf16_ms", bf16_ms},
                                {"what", "3x3 convolution forward + input gradient, 4x64x56x56, best of 3"}};
  return {faster ? "bf16" : "fp32",
          std::string("auto: measured a convolution at start-up; ") + (faster ? "bf16" : "fp32") + " was faster on " + where,
          measurement};
}

std::pair<std::string, std::string> technique_precision(Technique& technique, const std::string& chosen) {
  if (chosen == "fp32") return {"fp32", ""};
  const auto* support = query<PrecisionSupport>(technique);
  const std::string why = support ? support->unsupported_precision(chosen) : "";
  if (why.empty()) return {chosen, ""};
  return {"fp32", "runs in fp32, not " + chosen + ": " + why};
}

PrecisionScope::PrecisionScope(const std::string& precision, c10::Device device)
    : m_prev_cpu(host::autocast_enabled(c10::kCPU)),
      m_prev_cuda(host::autocast_enabled(c10::kCUDA)),
      m_prev_cache(at::autocast::is_autocast_cache_enabled()),
      m_prev_cpu_dtype(host::autocast_dtype(c10::kCPU)),
      m_prev_cuda_dtype(host::autocast_dtype(c10::kCUDA)) {
  const bool bf16 = precision == "bf16";
  // Autocast caches the low-precision copy of every leaf that requires a gradient:
  // a picture being optimised is such a leaf, so a cache would freeze it at step 0.
  at::autocast::set_autocast_cache_enabled(false);
  if (device.is_cuda()) {
    host::set_autocast_dtype(c10::kCUDA, at::kBFloat16);
    host::set_autocast_enabled(c10::kCUDA, bf16);
    if (!bf16) m_strict_fp32.emplace();  // fp32 is always fp32: cuDNN would use TF32
  } else {
    host::set_autocast_dtype(c10::kCPU, at::kBFloat16);
    host::set_autocast_enabled(c10::kCPU, bf16);
  }
}

PrecisionScope::~PrecisionScope() {
  at::autocast::clear_cache();
  host::set_autocast_enabled(c10::kCPU, m_prev_cpu);
  host::set_autocast_enabled(c10::kCUDA, m_prev_cuda);
  host::set_autocast_dtype(c10::kCPU, m_prev_cpu_dtype);
  host::set_autocast_dtype(c10::kCUDA, m_prev_cuda_dtype);
  at::autocast::set_autocast_cache_enabled(m_prev_cache);
}

}  // namespace vizrun::host
