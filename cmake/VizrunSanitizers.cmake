# Sanitizer and fuzzing builds (tests/sanitizers/README.md, tests/fuzz/README.md).
#
# VIZRUN_SANITIZE=ON: AddressSanitizer and UndefinedBehaviorSanitizer on everything
#   built here (host, SDK, plugins, tests). Undefined behaviour is fatal (no recover),
#   so a test that triggers it fails. Run the tests with tests/sanitizers/env.sh sourced:
#   it sets the options and the suppression files (LibTorch's own reports only).
# VIZRUN_FUZZ=ON (Clang only): the libFuzzer targets in tests/fuzz, with the libraries
#   they test instrumented for coverage, ASan and UBSan. Build them with
#   `cmake --build <dir> --target fuzz_targets`.
option(VIZRUN_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(VIZRUN_FUZZ "Build the libFuzzer targets in tests/fuzz (Clang only)" OFF)

set(_vizrun_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
if(VIZRUN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VIZRUN_FUZZ needs Clang (libFuzzer), e.g. -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  # Coverage instrumentation everywhere; only the fuzz executables link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link ${_vizrun_sanitizers} -gline-tables-only)
  add_link_options(-fsanitize=address,undefined)
elseif(VIZRUN_SANITIZE)
  add_compile_options(${_vizrun_sanitizers} -g1)  # line tables for the reports, little else
  add_link_options(-fsanitize=address,undefined)
endif()
if(VIZRUN_FUZZ OR VIZRUN_SANITIZE)
  # With Clang the sanitizer runtimes live in the executable; shared modules (the
  # plugins) reference them and cannot be linked with --no-undefined.
  set(VIZRUN_SANITIZER_BUILD ON)
endif()
