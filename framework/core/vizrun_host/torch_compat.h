#pragma once
/// \file torch_compat.h
/// Where LibTorch 1.13 (Debian's libtorch-dev) and 2.x (PyPI's torch) differ in an
/// API vizrun uses, the difference is bridged here, and only here.

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <c10/core/Allocator.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace vizrun::host {

/// The process-wide warning handler: its getter and setter are static members of
/// c10::Warning in 1.13 and free functions of c10::WarningUtils in 2.x.
inline c10::WarningHandler* current_warning_handler() {
#if TORCH_VERSION_MAJOR >= 2
  return c10::WarningUtils::get_warning_handler();
#else
  return c10::Warning::get_warning_handler();
#endif
}

inline void install_warning_handler(c10::WarningHandler* handler) {
#if TORCH_VERSION_MAJOR >= 2
  c10::WarningUtils::set_warning_handler(handler);
#else
  c10::Warning::set_warning_handler(handler);
#endif
}

/// A LibTorch warning handler that sees each warning's message and may pass it on to
/// the handler it replaced. The virtual c10::WarningHandler::process takes
/// (SourceLocation, message, verbatim) in 1.13 and a c10::Warning in 2.x.
class MessageWarningHandler : public c10::WarningHandler {
 public:
  MessageWarningHandler() : m_previous(current_warning_handler()) { install_warning_handler(this); }
  ~MessageWarningHandler() override { install_warning_handler(m_previous); }
  MessageWarningHandler(const MessageWarningHandler&) = delete;
  MessageWarningHandler& operator=(const MessageWarningHandler&) = delete;

  /// True when the warning was handled; false passes it to the previous handler.
  virtual bool on_warning(const std::string& message) = 0;

#if TORCH_VERSION_MAJOR >= 2
  void process(const c10::Warning& warning) override {
    if (!on_warning(warning.msg()) && m_previous) m_previous->process(warning);
  }
#else
  void process(const c10::SourceLocation& where, const std::string& message, const bool verbatim) override {
    if (!on_warning(message) && m_previous) m_previous->process(where, message, verbatim);
  }
#endif

 private:
  c10::WarningHandler* m_previous;
};

/// Keeps CUDA's float32 convolutions and matrix products in IEEE float32 while alive
/// (no TF32, which cuDNN convolutions use by default on Ampere and later and which keeps
/// only 10 bits of mantissa), then restores the settings found. The per-flag setters
/// exist in 1.13 and 2.x (later 2.x releases added the per-backend setFloat32Precision,
/// which these setters still drive), so they serve both.
class StrictFloat32 {
 public:
  StrictFloat32()
      : m_cudnn(at::globalContext().allowTF32CuDNN()), m_cublas(at::globalContext().allowTF32CuBLAS()) {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  ~StrictFloat32() {
    at::globalContext().setAllowTF32CuDNN(m_cudnn);
    at::globalContext().setAllowTF32CuBLAS(m_cublas);
  }
  StrictFloat32(const StrictFloat32&) = delete;
  StrictFloat32& operator=(const StrictFloat32&) = delete;

 private:
  bool m_cudnn, m_cublas;
};

/// Autocast per device type (kCPU or kCUDA). 1.13 has one function per device
/// (is_cpu_enabled, is_enabled for CUDA, ...); 2.4 added device-generic ones and made the
/// old ones print a deprecation warning on every call, which would land in a quiet run's
/// stderr.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
inline bool autocast_enabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
inline void set_autocast_enabled(c10::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
inline c10::ScalarType autocast_dtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
inline void set_autocast_dtype(c10::DeviceType d, c10::ScalarType t) { at::autocast::set_autocast_dtype(d, t); }
#else
inline bool autocast_enabled(c10::DeviceType d) {
  return d == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
inline void set_autocast_enabled(c10::DeviceType d, bool on) {
  if (d == c10::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
inline c10::ScalarType autocast_dtype(c10::DeviceType d) {
  return d == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
inline void set_autocast_dtype(c10::DeviceType d, c10::ScalarType t) {
  if (d == c10::kCUDA) at::autocast::set_autocast_gpu_dtype(t);
  else at::autocast::set_autocast_cpu_dtype(t);
}
#endif

/// A c10::Allocator for both lines: allocate() is const in 1.13 and not in 2.x, and 2.x
/// adds the pure virtual copy_data(). Subclasses implement allocate_bytes(); both
/// allocate() signatures forward to it, and whichever the base declares is the one that
/// overrides (the other is a plain overload), so no version test is needed.
class PortableAllocator : public c10::Allocator {
 public:
  virtual c10::DataPtr allocate_bytes(std::size_t n) const = 0;
  c10::DataPtr allocate(std::size_t n) const { return allocate_bytes(n); }  // 1.13's virtual
  c10::DataPtr allocate(std::size_t n) { return allocate_bytes(n); }        // 2.x's virtual
  /// 2.x's pure virtual (what its default_copy_data does); unused by 1.13.
  void copy_data(void* dest, const void* src, std::size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }
};

}  // namespace vizrun::host
