#pragma once
/// \file error.h
/// The one exception type plugins throw for expected failures (bad option
/// combination, unknown layer, unreadable weights). Its typeinfo lives in the SDK
/// library, so the host can catch it whichever plugin threw it.

#include <stdexcept>
#include <string>

#include "vizrun/export.h"

namespace vizrun {

class VIZRUN_SDK_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  ~Error() override;
};

/// Thrown by the host's services when the user asked the run to stop
/// (SIGINT/SIGTERM). Plugins should let it propagate.
class VIZRUN_SDK_API Interrupted : public Error {
 public:
  Interrupted();
  ~Interrupted() override;
};

}  // namespace vizrun
