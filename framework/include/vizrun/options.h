#pragma once
/// \file options.h
/// A plugin's options: the defaults its JSON Schema states, and typed reads of them.
///
/// The schema is the only place a default is written. The host fills defaults in
/// (`fill_defaults`) before it creates a plugin, so a plugin reads every option that
/// has a default as present; a test builds options the same way. (SDK 1.3)

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vizrun/export.h"
#include "vizrun/value.h"

namespace vizrun {

/// Parses JSON text (a plugin's schema, say) into a Value. Throws vizrun::Error with
/// the byte offset of the first problem.
VIZRUN_SDK_API Value parse_json(std::string_view text);

/// Adds to `document` every default that `schema` (a draft-07 JSON Schema) states for
/// a property the document lacks, then descends into the properties present and into
/// the items of arrays, so nested objects get their defaults too. Only `properties`
/// and `items` are followed: a default inside `oneOf` alternatives is the choice of an
/// alternative, which the document's own value must make. A null document with an
/// object schema becomes a dict.
VIZRUN_SDK_API void fill_defaults(Value& document, std::string_view schema_json);
/// The same with the schema already parsed (vizrun::parse_json).
VIZRUN_SDK_API void fill_defaults_from(Value& document, const Value& schema);

/// Typed reads of options that the host has validated and completed. Each read names
/// the key when it is missing or of another type, so a schema and the code that reads
/// it cannot drift apart silently.
class VIZRUN_SDK_API Options {
 public:
  Options() = default;
  explicit Options(Value options);
  /// Options as the host hands them to a plugin: `options` completed with the
  /// defaults of `schema_json`. For tests and for plugins that create sub-objects.
  static Options with_defaults(Value options, std::string_view schema_json);

  /// True when the key is present and not null.
  bool has(const std::string& key) const;
  const Value& value(const std::string& key) const;
  std::int64_t integer(const std::string& key) const;
  double number(const std::string& key) const;
  bool boolean(const std::string& key) const;
  const std::string& string(const std::string& key) const;
  /// A string or a list of strings, as a list (`images: cat.png` or `images: [a, b]`).
  std::vector<std::string> strings(const std::string& key) const;

  const Value& all() const { return m_options; }

 private:
  Value m_options;
};

}  // namespace vizrun
