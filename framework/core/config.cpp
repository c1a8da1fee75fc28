#include "vizrun_host/config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <regex>

#include "vizrun_host/experiment.h"
#include "vizrun_host/files.h"
#include "vizrun_host/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vizrun::host {
namespace {

std::string escape_pointer_token(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

/// YAML 1.2 core-schema typing of a plain (unquoted) scalar.
json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  static const std::regex null_re("^(~|null|Null|NULL|)$");
  static const std::regex true_re("^(true|True|TRUE)$");
  static const std::regex false_re("^(false|False|FALSE)$");
  static const std::regex int_re("^[-+]?[0-9]+$");
  static const std::regex float_re("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$");
  static const std::regex inf_re("^[-+]?\\.(inf|Inf|INF)$");
  static const std::regex nan_re("^\\.(nan|NaN|NAN)$");
  if (std::regex_match(text, null_re)) return nullptr;
  if (std::regex_match(text, true_re)) return true;
  if (std::regex_match(text, false_re)) return false;
  if (std::regex_match(text, int_re)) {
    try {
      return std::stoll(text);
    } catch (const std::out_of_range&) {
      return std::stod(text);
    }
  }
  if (std::regex_match(text, float_re)) return std::stod(text);
  if (std::regex_match(text, inf_re)) return text[0] == '-' ? -INFINITY : INFINITY;
  if (std::regex_match(text, nan_re)) return NAN;
  return text;
}

struct Converter {
  ConfigTree& tree;
  std::string override_text;  // non-empty for values that came from --set

  Origin origin(const YAML::Mark& mark) const {
    Origin o;
    o.file = tree.file;
    if (!override_text.empty()) {
      o.override_text = override_text;
    } else if (mark.line >= 0) {
      o.line = mark.line + 1;
      o.column = mark.column + 1;
    }
    return o;
  }

  json convert(const YAML::Node& node, const std::string& pointer) {
    tree.value_origins[pointer] = origin(node.Mark());
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined: return nullptr;
      case YAML::NodeType::Scalar: return scalar_to_json(node);
      case YAML::NodeType::Sequence: {
        json list = json::array();
        std::size_t i = 0;
        for (const auto& item : node) list.push_back(convert(item, pointer + "/" + std::to_string(i++)));
        return list;
      }
      case YAML::NodeType::Map: {
        json object = json::object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            tree.fail(pointer, "keys must be plain strings");
          }
          const std::string key = kv.first.Scalar();
          const std::string child = pointer + "/" + escape_pointer_token(key);
          tree.key_origins[child] = origin(kv.first.Mark());
          if (object.contains(key)) tree.fail(child, "duplicate key '" + key + "'", true);
          object[key] = convert(kv.second, child);
        }
        return object;
      }
    }
    return nullptr;
  }
};

YAML::Node parse_yaml_text(const std::string& text, const std::string& label, int line_offset = 0) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Origin o{label, e.mark.line + 1 + line_offset, e.mark.column + 1, ""};
    throw ConfigError(o.describe() + ": invalid YAML: " + e.msg);
  }
}

}  // namespace

std::string Origin::describe() const {
  if (!override_text.empty()) return override_text;
  if (line > 0) return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  return file;
}

Origin ConfigTree::origin_of(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = value_origins.find(p);
    if (it != value_origins.end()) return it->second;
    if (p.empty()) return Origin{file, 0, 0, ""};
    p = p.substr(0, p.rfind('/'));
  }
}

Origin ConfigTree::key_origin_of(const std::string& pointer) const {
  auto it = key_origins.find(pointer);
  return it != key_origins.end() ? it->second : origin_of(pointer);
}

void ConfigTree::fail(const std::string& pointer, const std::string& message, bool at_key) const {
  const Origin o = at_key ? key_origin_of(pointer) : origin_of(pointer);
  std::string where = o.describe();
  // An override names its own key path; a file position needs the key path added.
  if (o.override_text.empty() && !pointer.empty()) where += ": " + display_path(pointer);
  throw ConfigError(where + ": " + message);
}

ConfigTree parse_config(const std::string& yaml_text, const std::string& label, const std::string& base_dir) {
  ConfigTree tree;
  tree.file = label;
  tree.base_dir = base_dir;
  YAML::Node node = parse_yaml_text(yaml_text, label);
  tree.root = Converter{tree, ""}.convert(node, "");
  if (tree.root.is_null()) tree.root = json::object();
  if (!tree.root.is_object()) tree.fail("", "expected a mapping at the top level of the experiment file");
  return tree;
}

ConfigTree load_config_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  fs::path abs = fs::absolute(path).lexically_normal();
  return parse_config(text, path, abs.parent_path().string());
}

Value read_config_value(const std::string& path) {
  return to_value(load_config_file(path).root);
}

void apply_override(ConfigTree& tree, const std::string& assignment, const std::string& label) {
  const std::string shown = label.empty() ? "--set " + assignment : label;
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(shown + ": expected key.path=value");
  }
  const std::vector<std::string> keys = split(assignment.substr(0, eq), '.');
  const YAML::Node parsed = parse_yaml_text(assignment.substr(eq + 1), shown);

  json* node = &tree.root;
  std::string pointer;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string& key = keys[i];
    const bool last = i + 1 == keys.size();
    if (key.empty()) throw ConfigError(shown + ": empty component in key path");
    if (node->is_array()) {
      if (!std::regex_match(key, std::regex("[0-9]+"))) {
        throw ConfigError(shown + ": '" + key + "' must be a list index (" + display_path(pointer) + " is a list)");
      }
      std::size_t index = std::stoul(key);
      if (index > node->size()) {
        throw ConfigError(shown + ": index " + key + " is past the end of " + display_path(pointer) + " (" +
                          std::to_string(node->size()) + " items)");
      }
      if (index == node->size()) node->push_back(json::object());  // append
      pointer += "/" + key;
      node = &(*node)[index];
    } else {
      if (node->is_null()) *node = json::object();
      if (!node->is_object()) {
        throw ConfigError(shown + ": cannot set '" + key + "' inside " + display_path(pointer) + ", which is a " +
                          node->type_name());
      }
      pointer += "/" + escape_pointer_token(key);
      if (!node->contains(key) && !last) (*node)[key] = json::object();
      node = &(*node)[key];
    }
    tree.key_origins[pointer] = Origin{tree.file, 0, 0, shown};
  }
  // Forget the origins of whatever the override replaces.
  for (auto it = tree.value_origins.lower_bound(pointer); it != tree.value_origins.end();) {
    if (it->first == pointer || it->first.rfind(pointer + "/", 0) == 0) {
      it = tree.value_origins.erase(it);
    } else {
      break;
    }
  }
  *node = Converter{tree, shown}.convert(parsed, pointer);
}

std::string display_path(const std::string& pointer) {
  std::string out;
  for (const auto& raw : split(pointer, '/')) {
    if (raw.empty() && out.empty()) continue;
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size()) {
        token += raw[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        token += raw[i];
      }
    }
    if (!token.empty() && std::all_of(token.begin(), token.end(), ::isdigit)) {
      out += "[" + token + "]";
    } else {
      out += (out.empty() ? "" : ".") + token;
    }
  }
  return out.empty() ? "(top level)" : out;
}

namespace {

void emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = value.begin(); it != value.end(); ++it) {
        out << YAML::Key << it.key() << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      // Quote strings that would otherwise read back as another type.
      const std::string& s = value.get_ref<const std::string&>();
      bool plain_ok = false;
      try {
        YAML::Node probe = YAML::Load(s);
        plain_ok = probe.IsScalar() && probe.Scalar() == s && scalar_to_json(probe).is_string();
      } catch (const YAML::Exception&) {
      }
      if (plain_ok) out << s;
      else out << YAML::DoubleQuoted << s;
      break;
    }
    case json::value_t::boolean: out << value.get<bool>(); break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: out << value.get<std::int64_t>(); break;
    case json::value_t::number_float: {
      double d = value.get<double>();
      if (std::isnan(d)) out << ".nan";
      else if (std::isinf(d)) out << (d > 0 ? ".inf" : "-.inf");
      else {
        std::string text = value.dump();  // shortest round-trip form
        if (text.find_first_of(".eE") == std::string::npos) text += ".0";
        out << text;
      }
      break;
    }
    default: out << YAML::Null;
  }
}

}  // namespace

std::string to_yaml(const nlohmann::json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace vizrun::host
