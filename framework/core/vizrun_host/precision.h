#pragma once
/// \file precision.h
/// Precision is a run policy: the experiment says `precision: fp32 | bf16 | auto`,
/// the host decides once per run what that means on this device and sets it
/// around each technique, and the manifest records what was used and why.
///
/// The rule, in order:
/// - fp32 is always fp32.
/// - bf16 runs under LibTorch's autocast to bfloat16 on a CUDA device and on a CPU
///   with native bf16 arithmetic (AVX512-BF16 or AMX-BF16); elsewhere bf16 is only
///   emulated, so the run stays in fp32 and says so.
/// - auto takes bf16 only where it is native *and* measured faster: a short
///   measurement at start-up times a 3x3 convolution forward and input gradient in
///   both precisions (a fraction of a second) and keeps the faster. Without native
///   bf16 it takes fp32 without measuring: emulated bf16 convolutions are slower
///   (measured at about 70 against 105 GFLOP/s for fp32 on an Intel Xeon).

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <utility>

#include "vizrun/technique.h"
#include "vizrun_host/torch_compat.h"

namespace vizrun::host {

struct PrecisionChoice {
  std::string precision;  ///< what the run uses: "fp32" or "bf16"
  std::string reason;     ///< why, in one sentence
  nlohmann::json measurement;  ///< auto's timings ({fp32_ms, bf16_ms, ...}), null when not measured
};

/// What `requested` (fp32, bf16, auto) means on `device`.
PrecisionChoice choose_precision(const std::string& requested, c10::Device device);

/// The precision `technique` runs in when the run chose `chosen`, and a note saying
/// why when it declines it (vizrun::PrecisionSupport): then it runs in fp32.
std::pair<std::string, std::string> technique_precision(Technique& technique, const std::string& chosen);

/// True when the CPU does bf16 arithmetic natively (flags avx512_bf16 or amx_bf16).
bool cpu_has_native_bf16();

/// Milliseconds of one 3x3 convolution forward + input gradient (batch 4, 64 -> 64
/// channels, 56x56), best of a few, in fp32 or under bf16 autocast.
double time_convolution_ms(c10::Device device, bool bf16);

/// Computes in `precision` while alive ("bf16": autocast to bfloat16 on the device;
/// "fp32": autocast off and, on CUDA, no TF32) and restores what was set before.
class PrecisionScope {
 public:
  PrecisionScope(const std::string& precision, c10::Device device);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool m_prev_cpu, m_prev_cuda, m_prev_cache;
  c10::ScalarType m_prev_cpu_dtype, m_prev_cuda_dtype;
  std::optional<StrictFloat32> m_strict_fp32;  ///< fp32 on CUDA
};

}  // namespace vizrun::host
