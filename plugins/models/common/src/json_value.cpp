#include "vizrun_models/json_value.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vizrun/error.h"

namespace vizrun::models {

namespace {

Value convert(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value();
    case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Value(static_cast<std::int64_t>(j.get<std::uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      List l;
      for (const auto& e : j) l.push_back(convert(e));
      return Value(std::move(l));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d[it.key()] = convert(it.value());
      return Value(std::move(d));
    }
    default: return Value();
  }
}

}  // namespace

Value value_from_json(const std::string& text, const std::string& origin) {
  try {
    return convert(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + " is not valid JSON: " + e.what());
  }
}

Value value_from_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read '" + path + "'");
  std::stringstream s;
  s << in.rdbuf();
  return value_from_json(s.str(), "'" + path + "'");
}

}  // namespace vizrun::models
