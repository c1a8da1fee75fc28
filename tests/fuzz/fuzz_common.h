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

/// Known findings in config.cpp, being fixed on the hostile-config branch (issue 13):
/// item 9, a number out of double's range (`1e309`) is converted with std::stod, whose
/// std::out_of_range("stod") escapes; item 8, invalid UTF-8 (raw, or from a YAML escape
/// such as "\xB6") is accepted and nlohmann's type_error.316 escapes when the tree is
/// written out; and, found here, a list index past unsigned long in an override key
/// (`techniques.99999999999999999999.x=1`), whose std::stoul out_of_range escapes
/// apply_override (findings/). The config targets set this so that fuzzing goes on past them
/// (README.md). Remove it once that branch is merged.
inline bool tolerate_known_config_findings = false;

inline bool known_config_finding(const std::exception& e) {
  const std::string what = e.what();
  return tolerate_known_config_findings &&
         (what == "stod" || what == "stoul" || what.rfind("[json.exception.type_error.316]", 0) == 0);
}

/// Runs `body`; a vizrun::Error is an accepted refusal, any other exception aborts.
template <class F>
void refusals_only(F&& body) {
  try {
    body();
  } catch (const vizrun::Error&) {
  } catch (const std::exception& e) {
    if (known_config_finding(e)) return;
    std::fprintf(stderr, "fuzz finding: %s escaped the parser: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

/// True when `text` is well-formed UTF-8.
///
/// Known finding, issue 13 item 8: config.cpp accepts invalid UTF-8 and nlohmann::json
/// throws type_error.316 when the tree is written out. The hostile-config branch makes
/// the reader refuse it; until that is merged the config targets skip such inputs (see
/// README.md). Remove the filter then.
inline bool valid_utf8(const std::string& text) {
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size();) {
    const unsigned c = at(i);
    const int n = c < 0x80 ? 0 : (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2 : (c >= 0xF0 && c <= 0xF4) ? 3 : -1;
    if (n < 0 || i + static_cast<std::size_t>(n) >= text.size() + (n == 0 ? 1 : 0)) return false;
    for (int k = 1; k <= n; ++k)
      if ((at(i + k) >> 6) != 0x2) return false;
    if (n >= 2) {  // overlong forms, surrogates, above U+10FFFF
      const unsigned d = at(i + 1);
      if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d >= 0xA0) || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d >= 0x90))
        return false;
    }
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

}  // namespace vizrun::fuzz
