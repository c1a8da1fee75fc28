#pragma once
// Shared by the libFuzzer targets in tests/fuzz (see README.md there).
//
// Each target feeds its input to one parser. A vizrun::Error (ConfigError included)
// is the designed way to refuse bad input and is not a finding. Anything else is:
// a sanitizer report, a crash, a hang past -timeout, an out-of-memory, another
// exception type escaping the parser, or a broken invariant checked with
// FUZZ_CHECK (which prints the condition and aborts, so libFuzzer saves the input).

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "vizrun/error.h"

#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace vizrun::fuzz {

/// Runs `body`; a vizrun::Error is an accepted refusal, any other exception aborts.
template <class F>
void refusals_only(F&& body) {
  try {
    body();
  } catch (const vizrun::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz finding: %s escaped the parser: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

}  // namespace vizrun::fuzz
