// libFuzzer target: the SDK's JSON reader and schema defaults (framework/sdk/options.cpp),
// which read plugins' schemas and the JSON inside users' model files (a .keras file's
// config.json goes through parse_json).
//
// Input: a schema text, then after a NUL byte a document text (without one, the input is
// both). Invariants: what parse_json accepts, Value::to_json writes back as text that
// parses to the same value; fill_defaults keeps every value the document had and is
// idempotent; Options' typed reads refuse only with vizrun::Error.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "vizrun/options.h"

using vizrun::Value;

namespace {

/// Equal as JSON numbers are: an integer and a double of the same value match, because
/// to_json writes the double 2.0 as "2", which reads back as an integer.
bool same_json(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.is_list() && b.is_list()) {
    if (a.as_list().size() != b.as_list().size()) return false;
    for (std::size_t i = 0; i < a.as_list().size(); ++i)
      if (!same_json(a.as_list()[i], b.as_list()[i])) return false;
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    if (a.as_dict().size() != b.as_dict().size()) return false;
    for (const auto& [key, item] : a.as_dict())
      if (!b.contains(key) || !same_json(item, b.at(key))) return false;
    return true;
  }
  return a == b;
}

/// Every value `before` holds is still in `after` (fill_defaults only adds).
bool only_added(const Value& before, const Value& after) {
  if (before.is_dict()) {
    if (!after.is_dict()) return false;
    for (const auto& [key, item] : before.as_dict())
      if (!after.contains(key) || !only_added(item, after.at(key))) return false;
    return true;
  }
  if (before.is_list()) {
    if (!after.is_list() || after.as_list().size() != before.as_list().size()) return false;
    for (std::size_t i = 0; i < before.as_list().size(); ++i)
      if (!only_added(before.as_list()[i], after.as_list()[i])) return false;
    return true;
  }
  return before.is_null() || before == after;
}

void read_every_option(const Value& document) {
  if (!document.is_dict()) return;
  const vizrun::Options options(document);
  for (const auto& member : document.as_dict()) {
    const std::string& key = member.first;  // a named copy: lambdas cannot capture bindings in C++17
    FUZZ_CHECK(options.has(key) == !member.second.is_null());
    vizrun::fuzz::refusals_only([&] { options.integer(key); });
    vizrun::fuzz::refusals_only([&] { options.number(key); });
    vizrun::fuzz::refusals_only([&] { options.boolean(key); });
    vizrun::fuzz::refusals_only([&] { options.string(key); });
    vizrun::fuzz::refusals_only([&] { options.strings(key); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string schema_text = input.substr(0, nul);
  const std::string document_text = nul == std::string::npos ? input : input.substr(nul + 1);
  vizrun::fuzz::refusals_only([&] {
    const Value schema = vizrun::parse_json(schema_text);
    FUZZ_CHECK(same_json(vizrun::parse_json(schema.to_json()), schema));
    Value document;
    vizrun::fuzz::refusals_only([&] { document = vizrun::parse_json(document_text); });
    const Value before = document;
    vizrun::fill_defaults_from(document, schema);
    FUZZ_CHECK(only_added(before, document));
    Value again = document;
    vizrun::fill_defaults_from(again, schema);
    FUZZ_CHECK(again == document);
    read_every_option(document);
  });
  return 0;
}
