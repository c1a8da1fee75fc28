#pragma once
/// \file value.h
/// A small JSON-like value tree. The host hands a plugin its validated options as a
/// `Value`, and plugins describe their outputs with `Value` records. It keeps
/// yaml-cpp and any JSON library out of the plugin ABI.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "vizrun/export.h"

namespace vizrun {

class Value;
using List = std::vector<Value>;
using Dict = std::map<std::string, Value>;

/// null, bool, integer, number, string, list or dict.
class VIZRUN_SDK_API Value {
 public:
  using Storage = std::variant<std::monostate, bool, std::int64_t, double, std::string, List, Dict>;

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : m_v(b) {}
  Value(int i) : m_v(std::int64_t{i}) {}
  Value(std::int64_t i) : m_v(i) {}
  Value(std::size_t i) : m_v(static_cast<std::int64_t>(i)) {}
  Value(double d) : m_v(d) {}
  Value(const char* s) : m_v(std::string(s)) {}
  Value(std::string s) : m_v(std::move(s)) {}
  Value(List l) : m_v(std::move(l)) {}
  Value(Dict d) : m_v(std::move(d)) {}

  bool is_null() const { return std::holds_alternative<std::monostate>(m_v); }
  bool is_bool() const { return std::holds_alternative<bool>(m_v); }
  bool is_int() const { return std::holds_alternative<std::int64_t>(m_v); }
  /// True for integers too: every integer is a number.
  bool is_number() const { return is_int() || std::holds_alternative<double>(m_v); }
  bool is_string() const { return std::holds_alternative<std::string>(m_v); }
  bool is_list() const { return std::holds_alternative<List>(m_v); }
  bool is_dict() const { return std::holds_alternative<Dict>(m_v); }

  /// Typed reads; each throws vizrun::Error naming the expected type on mismatch.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_double() const;
  const std::string& as_string() const;
  const List& as_list() const;
  const Dict& as_dict() const;
  List& as_list();
  Dict& as_dict();

  /// Dict member access. `at` throws when the key is missing; `get` returns `fallback`.
  const Value& at(const std::string& key) const;
  bool contains(const std::string& key) const;
  Value get(const std::string& key, Value fallback) const;
  /// Inserts into a dict (turning a null value into an empty dict first).
  Value& operator[](const std::string& key);

  /// A one-word name of the held type, for messages ("integer", "list", ...).
  std::string type_name() const;
  /// Compact JSON text, for logs and messages.
  std::string to_json() const;

  const Storage& storage() const { return m_v; }
  bool operator==(const Value& other) const { return m_v == other.m_v; }
  bool operator!=(const Value& other) const { return !(*this == other); }

 private:
  Storage m_v;
};

}  // namespace vizrun
