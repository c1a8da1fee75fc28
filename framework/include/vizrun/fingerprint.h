#pragma once
/// \file fingerprint.h
/// The build fingerprint compiled into the host and into every plugin. Objects
/// (tensors, std::string, vtables) cross the plugin boundary, so both sides must
/// use the same LibTorch and the same C++ standard-library ABI.

#include <torch/csrc/api/include/torch/version.h>

#define VIZRUN_STR2(x) #x
#define VIZRUN_STR(x) VIZRUN_STR2(x)

#define VIZRUN_BUILD_FINGERPRINT                                              \
  "torch " VIZRUN_STR(TORCH_VERSION_MAJOR) "." VIZRUN_STR(TORCH_VERSION_MINOR) \
  "." VIZRUN_STR(TORCH_VERSION_PATCH) ", cxx11 abi " VIZRUN_STR(_GLIBCXX_USE_CXX11_ABI)

#if defined(__clang__)
#define VIZRUN_COMPILER "Clang " __clang_version__
#elif defined(__GNUC__)
#define VIZRUN_COMPILER "GCC " __VERSION__
#else
#define VIZRUN_COMPILER "unknown compiler"
#endif
