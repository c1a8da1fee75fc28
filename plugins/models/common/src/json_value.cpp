#include "vizrun_models/json_value.h"

#include <fstream>
#include <sstream>

#include "vizrun/error.h"
#include "vizrun/options.h"

namespace vizrun::models {

Value value_from_json(const std::string& text, const std::string& origin) {
  try {
    return parse_json(text);  // the SDK's one JSON-to-Value conversion (vizrun/options.h)
  } catch (const Error& e) {
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
