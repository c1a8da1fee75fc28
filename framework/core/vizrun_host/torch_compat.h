#pragma once
/// \file torch_compat.h
/// Where LibTorch 1.13 (Debian's libtorch-dev) and 2.x (PyPI's torch) differ in an
/// API vizrun uses, the difference is bridged here, and only here.

#include <c10/util/Exception.h>
#include <torch/version.h>

#include <string>

namespace vizrun::host {

/// A LibTorch warning handler that sees each warning's message and may pass it on to
/// the handler it replaced. The virtual c10::WarningHandler::process takes
/// (SourceLocation, message, verbatim) in 1.13 and a c10::Warning in 2.x.
class MessageWarningHandler : public c10::WarningHandler {
 public:
  MessageWarningHandler() : m_previous(c10::Warning::get_warning_handler()) { c10::Warning::set_warning_handler(this); }
  ~MessageWarningHandler() override { c10::Warning::set_warning_handler(m_previous); }
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

}  // namespace vizrun::host
