#include "vizrun_host/schema.h"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <regex>
#include <sstream>

#include "vizrun/error.h"
#include "vizrun/options.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/text.h"

using nlohmann::json;

namespace vizrun::host {
namespace {

std::string escape_token(const std::string& key) {
  std::string out;
  for (char c : key) out += c == '/' ? std::string("~1") : c == '~' ? std::string("~0") : std::string(1, c);
  return out;
}

std::string quote(const json& v) { return v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump(); }

std::string with_article(const std::string& type) {
  if (type == "integer") return "an integer";
  if (type == "object") return "a mapping";
  if (type == "array") return "a list";
  if (type == "boolean") return "true or false";
  if (type == "null") return "null";
  return "a " + type;
}

std::string describe_found(const json& v) {
  switch (v.type()) {
    case json::value_t::object: return "a mapping";
    case json::value_t::array: return "a list of " + std::to_string(v.size()) + " items";
    case json::value_t::string: return "string " + v.dump();
    case json::value_t::boolean: return "boolean " + v.dump();
    case json::value_t::null: return "nothing (null)";
    case json::value_t::number_float: return "number " + v.dump();
    default: return "integer " + v.dump();
  }
}

bool has_type(const json& v, const std::string& type) {
  if (type == "integer") {
    return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<long long>(v.get<double>())));
  }
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  if (type == "null") return v.is_null();
  return false;
}

std::string range_words(const json& s) {
  std::string words;
  auto bound = [&](const char* key, const char* op) {
    if (s.contains(key)) words += std::string(words.empty() ? " " : " and ") + op + " " + s[key].dump();
  };
  bound("minimum", ">=");
  bound("exclusiveMinimum", ">");
  bound("maximum", "<=");
  bound("exclusiveMaximum", "<");
  return words;
}

/// Our own walk over the subset of JSON Schema plugins use, to name the exact key
/// and the expectation. Returns nothing when it finds no problem.
std::optional<Violation> walk(const json& v, const json& s, const std::string& ptr) {
  if (s.is_boolean()) {
    if (!s.get<bool>()) return Violation{ptr, "no value is allowed here"};
    return std::nullopt;
  }
  if (!s.is_object()) return std::nullopt;
  auto fail = [&](const std::string& why) { return Violation{ptr, why}; };
  auto expected = [&] { return fail("expected " + describe_expected(s) + ", got " + describe_found(v)); };

  for (const char* key : {"oneOf", "anyOf"}) {
    if (!s.contains(key)) continue;
    std::vector<Violation> failures;
    for (const auto& alt : s[key]) {
      auto r = walk(v, alt, ptr);
      if (!r) {
        failures.clear();
        break;
      }
      failures.push_back(*r);
    }
    if (!failures.empty()) {
      // When exactly one alternative accepts the value's type, and it is not a list of
      // values (an enum, a const), its complaint is the precise one; otherwise all
      // alternatives are what was expected.
      std::vector<std::size_t> typed;
      for (std::size_t i = 0; i < s[key].size(); ++i) {
        const json& alt = s[key][i];
        const json* values = alt.contains("enum") ? &alt["enum"] : nullptr;
        bool type_ok = values ? std::any_of(values->begin(), values->end(), [&](const json& e) { return e.type() == v.type(); })
                       : alt.contains("const") ? alt["const"].type() == v.type()
                       : !alt.contains("type") ||
                             (alt["type"].is_string() ? has_type(v, alt["type"]) : std::any_of(alt["type"].begin(), alt["type"].end(), [&](const json& t) { return has_type(v, t); }));
        if (type_ok) typed.push_back(i);
      }
      if (typed.size() == 1 && !s[key][typed[0]].contains("enum") && !s[key][typed[0]].contains("const")) {
        return failures[typed[0]];
      }
      return expected();
    }
  }
  if (s.contains("const") && v != s["const"]) return expected();
  if (s.contains("enum")) {
    bool found = false;
    for (const auto& e : s["enum"]) found = found || e == v;
    if (!found) {
      std::vector<std::string> names;
      for (const auto& e : s["enum"]) names.push_back(e.is_string() ? e.get<std::string>() : e.dump());
      std::string message = "expected " + describe_expected(s) + ", got " + describe_found(v);
      if (v.is_string()) {
        std::string close = closest_match(v.get<std::string>(), names);
        if (!close.empty()) message += " (did you mean '" + close + "'?)";
      }
      return fail(message);
    }
  }
  if (s.contains("type")) {
    const json& t = s["type"];
    bool ok = t.is_string() ? has_type(v, t) : std::any_of(t.begin(), t.end(), [&](const json& x) { return has_type(v, x); });
    if (!ok) return expected();
  }
  if (v.is_number()) {
    double x = v.get<double>();
    if ((s.contains("minimum") && x < s["minimum"].get<double>()) ||
        (s.contains("maximum") && x > s["maximum"].get<double>()) ||
        (s.contains("exclusiveMinimum") && x <= s["exclusiveMinimum"].get<double>()) ||
        (s.contains("exclusiveMaximum") && x >= s["exclusiveMaximum"].get<double>())) {
      return expected();
    }
  }
  if (v.is_string()) {
    const std::string& text = v.get_ref<const std::string&>();
    if (s.contains("minLength") && text.size() < s["minLength"].get<std::size_t>()) return expected();
    if (s.contains("pattern") && !std::regex_search(text, std::regex(s["pattern"].get<std::string>()))) {
      return expected();
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<std::size_t>()) {
      return fail("expected at least " + s["minItems"].dump() + " items, got " + std::to_string(v.size()));
    }
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<std::size_t>()) {
      return fail("expected at most " + s["maxItems"].dump() + " items, got " + std::to_string(v.size()));
    }
    if (s.contains("items") && s["items"].is_object()) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (auto r = walk(v[i], s["items"], ptr + "/" + std::to_string(i))) return r;
      }
    }
  }
  if (v.is_object()) {
    if (s.contains("required")) {
      for (const auto& key : s["required"]) {
        if (!v.contains(key.get<std::string>())) return fail("missing required key " + quote(key));
      }
    }
    const json properties = s.value("properties", json::object());
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string child = ptr + "/" + escape_token(it.key());
      if (properties.contains(it.key())) {
        if (auto r = walk(it.value(), properties[it.key()], child)) return r;
      } else if (s.contains("additionalProperties")) {
        const json& extra = s["additionalProperties"];
        if (extra.is_boolean() && !extra.get<bool>()) {
          std::vector<std::string> known;
          for (auto p = properties.begin(); p != properties.end(); ++p) known.push_back(p.key());
          std::string message = "unknown key '" + it.key() + "'";
          std::string close = closest_match(it.key(), known);
          if (!close.empty()) message += " (did you mean '" + close + "'?)";
          message += known.empty() ? "; no keys are allowed here" : "; expected one of: " + join(known, ", ");
          return Violation{child, message, true};
        }
        if (auto r = walk(it.value(), extra, child)) return r;
      }
    }
  }
  return std::nullopt;
}

std::string context_to_pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string token = part;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') token = token.substr(1, token.size() - 2);
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"') token = token.substr(1, token.size() - 2);
    pointer += "/" + escape_token(token);
  }
  return pointer;
}

}  // namespace

json parse_schema(const std::string& text, const std::string& label) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(label + ": options schema is not valid JSON: " + e.what());
  }
}

std::string describe_expected(const json& s) {
  if (!s.is_object()) return "anything";
  for (const char* key : {"oneOf", "anyOf"}) {
    if (s.contains(key)) {
      std::vector<std::string> parts;
      for (const auto& alt : s[key]) parts.push_back(describe_expected(alt));
      return join(parts, " or ");
    }
  }
  if (s.contains("const")) return quote(s["const"]);
  if (s.contains("enum")) {
    std::vector<std::string> names;
    for (const auto& e : s["enum"]) names.push_back(quote(e));
    return names.size() == 1 ? names[0] : "one of " + join(names, ", ");
  }
  std::vector<std::string> types;
  if (s.contains("type")) {
    if (s["type"].is_string()) types.push_back(s["type"]);
    else for (const auto& t : s["type"]) types.push_back(t);
  }
  std::vector<std::string> parts;
  for (const auto& t : types) {
    std::string words = with_article(t);
    if (t == "integer" || t == "number") words += range_words(s);
    if (t == "string" && s.contains("pattern")) words += " matching " + s["pattern"].get<std::string>();
    if (t == "array" && s.contains("items") && s["items"].is_object()) {
      words += " of " + describe_expected(s["items"]);
      if (s.contains("minItems")) words += " (at least " + s["minItems"].dump() + ")";
    }
    parts.push_back(words);
  }
  return parts.empty() ? "a value" : join(parts, " or ");
}

std::optional<Violation> check(const json& document, const json& schema, const std::string& pointer_prefix) {
  valijson::Schema parsed;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema);
  try {
    parser.populateSchema(schema_adapter, parsed);
  } catch (const std::exception& e) {
    throw Error("invalid JSON Schema: " + std::string(e.what()));
  }
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter document_adapter(document);
  if (validator.validate(parsed, document_adapter, &results)) return std::nullopt;

  if (auto v = walk(document, schema, "")) {
    v->pointer = pointer_prefix + v->pointer;
    return v;
  }
  // Our walk does not know the construct: report valijson's most specific error.
  valijson::ValidationResults::Error deepest;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    if (error.context.size() >= deepest.context.size()) deepest = error;
  }
  return Violation{pointer_prefix + context_to_pointer(deepest.context), deepest.description};
}

void fill_defaults(json& document, const json& schema) {
  // One implementation, the SDK's (vizrun/options.h): the host, plugins and tests
  // complete options the same way.
  Value filled = to_value(document);
  vizrun::fill_defaults_from(filled, to_value(schema));
  document = to_json(filled);
}

}  // namespace vizrun::host
