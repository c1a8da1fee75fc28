#include "vizrun/options.h"

#include <nlohmann/json.hpp>

#include "vizrun/error.h"

namespace vizrun {
namespace {

/// Deeper nesting is refused: the conversion recurses, and no schema or model config
/// nests anywhere near this deep, while a hostile file could nest until the stack ends.
constexpr int kMaxDepth = 256;

Value from_json(const nlohmann::json& j, int depth = 0) {
  if (depth > kMaxDepth) throw Error("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value();
    case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<std::int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      List list;
      list.reserve(j.size());
      for (const auto& item : j) list.push_back(from_json(item, depth + 1));
      return Value(std::move(list));
    }
    case nlohmann::json::value_t::object: {
      Dict dict;
      for (auto it = j.begin(); it != j.end(); ++it) dict.emplace(it.key(), from_json(it.value(), depth + 1));
      return Value(std::move(dict));
    }
    default: throw Error("parse_json: binary values are not JSON");
  }
}

bool declares_object(const Value& schema) {
  return schema.contains("properties") ||
         (schema.contains("type") && schema.at("type").is_string() && schema.at("type").as_string() == "object");
}

}  // namespace

Value parse_json(std::string_view text) {
  try {
    return from_json(nlohmann::json::parse(text.begin(), text.end()));
  } catch (const nlohmann::json::parse_error& e) {
    throw Error("invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {  // out_of_range: a number past double's range, 1e309
    throw Error(std::string("invalid JSON: ") + e.what());
  }
}

void fill_defaults_from(Value& document, const Value& schema) {
  if (!schema.is_dict()) return;
  if (document.is_null() && declares_object(schema)) document = Dict{};
  if (document.is_dict() && schema.contains("properties") && schema.at("properties").is_dict()) {
    for (const auto& [key, property] : schema.at("properties").as_dict()) {
      Dict& members = document.as_dict();
      auto it = members.find(key);
      if (it == members.end()) {
        if (!property.is_dict() || !property.contains("default")) continue;
        it = members.emplace(key, property.at("default")).first;
      }
      fill_defaults_from(it->second, property);
    }
  }
  if (document.is_list() && schema.contains("items") && schema.at("items").is_dict()) {
    for (auto& item : document.as_list()) fill_defaults_from(item, schema.at("items"));
  }
}

void fill_defaults(Value& document, std::string_view schema_json) { fill_defaults_from(document, parse_json(schema_json)); }

Options::Options(Value options) : m_options(options.is_null() ? Value(Dict{}) : std::move(options)) {
  if (!m_options.is_dict()) throw Error("options: expected a mapping, got " + m_options.type_name());
}

Options Options::with_defaults(Value options, std::string_view schema_json) {
  fill_defaults(options, schema_json);
  return Options(std::move(options));
}

bool Options::has(const std::string& key) const { return m_options.contains(key) && !m_options.at(key).is_null(); }

const Value& Options::value(const std::string& key) const {
  if (!m_options.contains(key))
    throw Error("option '" + key + "' is missing: the schema gives it no default and it was not set");
  return m_options.at(key);
}

namespace {
template <class Read>
auto typed(const Options& options, const std::string& key, Read read) {
  const Value& v = options.value(key);
  try {
    return read(v);
  } catch (const Error& e) {
    throw Error("option '" + key + "': " + e.what());
  }
}
}  // namespace

std::int64_t Options::integer(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.as_int(); });
}
double Options::number(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.as_double(); });
}
bool Options::boolean(const std::string& key) const {
  return typed(*this, key, [](const Value& v) { return v.as_bool(); });
}
const std::string& Options::string(const std::string& key) const {
  const Value& v = value(key);
  if (!v.is_string()) throw Error("option '" + key + "': expected a string, got " + v.type_name() + " " + v.to_json());
  return v.as_string();
}
std::vector<std::string> Options::strings(const std::string& key) const {
  return typed(*this, key, [](const Value& v) {
    if (v.is_string()) return std::vector<std::string>{v.as_string()};
    std::vector<std::string> out;
    for (const auto& item : v.as_list()) out.push_back(item.as_string());
    return out;
  });
}

}  // namespace vizrun
