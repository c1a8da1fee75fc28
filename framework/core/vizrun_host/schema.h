#pragma once
/// \file schema.h
/// JSON Schema (draft-07) checks for experiment files and plugin options.
/// valijson decides whether a document is valid; on failure we walk the schema
/// ourselves to say, in one line, which key is wrong and what was expected.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace vizrun::host {

struct Violation {
  std::string pointer;   ///< JSON pointer of the offending value (or unknown key)
  std::string message;   ///< "expected an integer >= 1, got string \"ten\""
  bool at_key = false;   ///< true when the key itself is the problem (unknown key)
};

/// Parses schema text; throws vizrun::Error naming `label` when it is not valid JSON.
nlohmann::json parse_schema(const std::string& text, const std::string& label);

/// The first violation of `schema` by `document`, if any. `pointer_prefix` is
/// prepended to reported pointers (for options nested inside an experiment).
std::optional<Violation> check(const nlohmann::json& document, const nlohmann::json& schema,
                               const std::string& pointer_prefix = "");

/// vizrun::fill_defaults (vizrun/options.h) on JSON: absent properties get the
/// schema's `default`, recursively into nested objects and list items.
void fill_defaults(nlohmann::json& document, const nlohmann::json& schema);

/// "an integer >= 1", "one of 'cpu', 'cuda', 'auto'", "a list of strings": what a
/// schema accepts, in words.
std::string describe_expected(const nlohmann::json& schema);

}  // namespace vizrun::host
