#include "vizrun/value.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "vizrun/error.h"

namespace vizrun {
namespace {

[[noreturn]] void type_error(const Value& v, const char* expected) {
  throw Error("expected " + std::string(expected) + ", got " + v.type_name() + " " + v.to_json());
}

void write_json_string(std::ostringstream& os, const std::string& s) {
  os << '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': os << "\\\""; break;
      case '\\': os << "\\\\"; break;
      case '\n': os << "\\n"; break;
      case '\t': os << "\\t"; break;
      case '\r': os << "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          os << buf;
        } else {
          os << c;
        }
    }
  }
  os << '"';
}

void write_json(std::ostringstream& os, const Value& v) {
  const auto& s = v.storage();
  if (v.is_null()) {
    os << "null";
  } else if (v.is_bool()) {
    os << (v.as_bool() ? "true" : "false");
  } else if (v.is_int()) {
    os << v.as_int();
  } else if (std::holds_alternative<double>(s)) {
    double d = std::get<double>(s);
    if (!std::isfinite(d)) {
      os << "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      os << buf;
    }
  } else if (v.is_string()) {
    write_json_string(os, v.as_string());
  } else if (v.is_list()) {
    os << '[';
    bool first = true;
    for (const auto& item : v.as_list()) {
      if (!first) os << ',';
      first = false;
      write_json(os, item);
    }
    os << ']';
  } else {
    os << '{';
    bool first = true;
    for (const auto& [key, item] : v.as_dict()) {
      if (!first) os << ',';
      first = false;
      write_json_string(os, key);
      os << ':';
      write_json(os, item);
    }
    os << '}';
  }
}

}  // namespace

bool Value::as_bool() const {
  if (!is_bool()) type_error(*this, "a boolean");
  return std::get<bool>(m_v);
}

std::int64_t Value::as_int() const {
  if (!is_int()) type_error(*this, "an integer");
  return std::get<std::int64_t>(m_v);
}

double Value::as_double() const {
  if (is_int()) return static_cast<double>(std::get<std::int64_t>(m_v));
  if (!std::holds_alternative<double>(m_v)) type_error(*this, "a number");
  return std::get<double>(m_v);
}

const std::string& Value::as_string() const {
  if (!is_string()) type_error(*this, "a string");
  return std::get<std::string>(m_v);
}

const List& Value::as_list() const {
  if (!is_list()) type_error(*this, "a list");
  return std::get<List>(m_v);
}

const Dict& Value::as_dict() const {
  if (!is_dict()) type_error(*this, "a mapping");
  return std::get<Dict>(m_v);
}

List& Value::as_list() {
  if (!is_list()) type_error(*this, "a list");
  return std::get<List>(m_v);
}

Dict& Value::as_dict() {
  if (!is_dict()) type_error(*this, "a mapping");
  return std::get<Dict>(m_v);
}

const Value& Value::at(const std::string& key) const {
  const auto& d = as_dict();
  auto it = d.find(key);
  if (it == d.end()) throw Error("missing key '" + key + "'");
  return it->second;
}

bool Value::contains(const std::string& key) const {
  return is_dict() && as_dict().count(key) > 0;
}

Value Value::get(const std::string& key, Value fallback) const {
  if (!is_dict()) return fallback;
  const auto& d = as_dict();
  auto it = d.find(key);
  return it == d.end() ? fallback : it->second;
}

Value& Value::operator[](const std::string& key) {
  if (is_null()) m_v = Dict{};
  return as_dict()[key];
}

std::string Value::type_name() const {
  static const char* names[] = {"null", "boolean", "integer", "number", "string", "list", "mapping"};
  return names[m_v.index()];
}

std::string Value::to_json() const {
  std::ostringstream os;
  write_json(os, *this);
  return os.str();
}

}  // namespace vizrun
