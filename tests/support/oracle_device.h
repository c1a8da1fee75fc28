#pragma once
/// The device the numerical oracle tests (tests/models, tests/techniques) compute on.
///
/// VIZRUN_TEST_DEVICE=cuda (or cuda:N) runs them on that GPU, with the same fixtures as
/// on the CPU (scripts/gpu_check.sh); unset, empty or cpu keeps them on the CPU. Where a
/// GPU is asked for but this LibTorch has no CUDA or sees no such device, the tests say
/// so and skip. On a GPU, float32 stays IEEE float32 for the whole test process (no
/// TF32), as the host does for `precision: fp32`.
///
/// Tolerances on a GPU: model outputs within 1e-4 relative (as on the CPU); technique
/// maps within 1e-3, relative to the reference's largest magnitude (cuDNN's algorithms
/// sum gradients in another order than the CPU kernels).
#include <c10/core/Device.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include "vizrun_host/torch_compat.h"

namespace vizrun::testing {

struct OracleDevice {
  c10::Device device{c10::kCPU};
  std::string requested;    ///< VIZRUN_TEST_DEVICE as given ("cpu" when unset)
  std::string skip_reason;  ///< not empty: the device asked for is not usable here
  bool on_gpu() const { return device.is_cuda(); }
};

/// Relative tolerance of a technique map compared with its oracle on this device:
/// `cpu` on the CPU (the tests' own, often tighter), 1e-3 on a GPU.
inline double technique_map_tolerance(const OracleDevice& d, double cpu) { return d.on_gpu() ? 1e-3 : cpu; }

inline OracleDevice oracle_device() {
  static const OracleDevice chosen = [] {
    OracleDevice d;
    const char* env = std::getenv("VIZRUN_TEST_DEVICE");
    d.requested = env && *env ? env : "cpu";
    if (d.requested == "cpu") return d;
    try {
      const c10::Device asked(d.requested);
      if (!asked.is_cuda()) {
        d.skip_reason = "VIZRUN_TEST_DEVICE=" + d.requested + " is neither cpu nor cuda[:N]";
        return d;
      }
      const auto count = static_cast<long>(torch::cuda::device_count());
      const long index = asked.has_index() ? asked.index() : 0;
      if (!torch::cuda::is_available() || index >= count) {
        d.skip_reason = "VIZRUN_TEST_DEVICE=" + d.requested + " but no such GPU: this LibTorch sees " +
                        std::to_string(count) + " CUDA device(s)" +
                        (torch::cuda::is_available() ? "" : " (CUDA unavailable)");
        return d;
      }
      d.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
      static host::StrictFloat32 ieee_float32;  // for the process: the oracles are float32
    } catch (const std::exception& e) {
      d.skip_reason = "VIZRUN_TEST_DEVICE=" + d.requested + " is not a device: " + e.what();
    }
    return d;
  }();
  return chosen;
}

}  // namespace vizrun::testing

/// In a TEST_CASE that runs on the oracle device: binds it to `var`, or reports why it
/// cannot be used and leaves the test (Catch2 2.x has no SKIP; WARN is always shown).
#define VIZRUN_ORACLE_DEVICE(var)                                                  \
  const ::vizrun::testing::OracleDevice var = ::vizrun::testing::oracle_device(); \
  if (!var.skip_reason.empty()) {                                                  \
    std::cout << "SKIPPED on " << var.requested << ": " << var.skip_reason << std::endl; \
    WARN("skipped: " << var.skip_reason);                                          \
    return;                                                                        \
  }
