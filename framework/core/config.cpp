#include "vizrun_host/config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <unordered_map>

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

bool one_of(const std::string& text, std::initializer_list<const char*> words) {
  for (const char* w : words) {
    if (text == w) return true;
  }
  return false;
}

bool all_digits(const std::string& text, std::size_t from, std::size_t to) {
  if (from >= to) return false;
  for (std::size_t i = from; i < to; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

/// [-+]?[0-9]+
bool is_int_text(const std::string& t) {
  const std::size_t from = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  return all_digits(t, from, t.size());
}

/// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float_text(const std::string& t) {
  std::size_t i = !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  const std::size_t int_start = i;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
  const bool int_digits = i > int_start;
  if (i < t.size() && t[i] == '.') {
    const std::size_t frac_start = ++i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    if (!int_digits && i == frac_start) return false;
  } else if (!int_digits) {
    return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) ++i;
    return all_digits(t, i, t.size());
  }
  return i == t.size();
}

/// YAML 1.2 core-schema typing of a scalar; `quoted` scalars are always strings.
/// Numbers too large for a double come back as infinity (the builder refuses them).
json scalar_to_json(const std::string& text, bool quoted) {
  if (quoted) return text;
  if (one_of(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (one_of(text, {"true", "True", "TRUE"})) return true;
  if (one_of(text, {"false", "False", "FALSE"})) return false;
  if (is_int_text(text)) {
    errno = 0;
    const long long v = std::strtoll(text.c_str(), nullptr, 10);
    if (errno != ERANGE) return v;
  }
  if (is_int_text(text) || is_float_text(text)) return std::strtod(text.c_str(), nullptr);  // ERANGE: inf or 0
  const std::size_t sign = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (one_of(text.substr(sign), {".inf", ".Inf", ".INF"})) return text[0] == '-' ? -INFINITY : INFINITY;
  if (one_of(text, {".nan", ".NaN", ".NAN"})) return NAN;
  return text;
}

/// Limits on what one document may expand to. Aliases count in full each time they
/// are used, so a few hundred bytes of nested aliases ("billion laughs") cannot turn
/// into gigabytes; no real experiment comes near these.
constexpr std::size_t kMaxValues = 250'000;
constexpr std::size_t kMaxAliases = 10'000;
constexpr std::size_t kMaxTextBytes = std::size_t{16} << 20;
constexpr std::size_t kMaxDepth = 256;

std::string count_words(std::size_t n) {
  std::string digits = std::to_string(n);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<std::size_t>(i), ",");
  return digits;
}

/// Builds the JSON tree from yaml-cpp's parser events, recording where every value
/// and key is written. Working on events (not on YAML::Node) lets it see aliases:
/// each is expanded by copying its anchor's finished value, within the limits above.
class TreeBuilder final : public YAML::EventHandler {
 public:
  TreeBuilder(std::string file, std::string override_text)
      : m_file(std::move(file)), m_override(std::move(override_text)) {}

  json result;
  std::map<std::string, Origin> value_origins;  ///< pointers relative to the document
  std::map<std::string, Origin> key_origins;

  // One experiment per file: a second document would be dropped without a word.
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (m_documents++ > 0)
      fail(mark, "", "a second YAML document starts here; an experiment file holds one document "
                     "(remove the '---' line and what follows, or move it to a file of its own)");
  }
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string& name) override { m_anchor_name = name; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    refuse_key(mark);
    const std::string pointer = value_pointer(mark);
    count(mark, pointer, 1, 0);
    remember(anchor, json(nullptr), 1, 0, nullptr);
    place(nullptr);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    const bool key = next_is_key();
    const std::string pointer = key ? child_pointer(text) : value_pointer(mark);
    if (const std::size_t bad = first_invalid_utf8(text); bad != std::string::npos) {
      fail(mark, key ? parent_pointer() : pointer,
           std::string(key ? "key '" : "text '") + printable_utf8(text) + "' is not valid UTF-8 (byte " +
               std::to_string(bad + 1) + "; a \\u escape of a lone surrogate encodes no character)");
    }
    // A "\0" or "\x00" escape: no path, name or option can hold a NUL (C strings end there).
    if (const std::size_t nul = text.find('\0'); nul != std::string::npos) {
      fail(mark, key ? parent_pointer() : pointer,
           std::string(key ? "key '" : "text '") + printable_utf8(text) + "' holds a NUL character (at character " +
               std::to_string(nul + 1) + "); expected text without NUL");
    }
    count(mark, pointer, 1, text.size());
    if (key) {
      remember(anchor, json(text), 1, text.size(), &text);
      set_key(mark, text);
      return;
    }
    json value = scalar_to_json(text, tag == "!");
    if (value.is_number_float() && !std::isfinite(value.get<double>())) {
      const bool literal = text.find_first_of("iInN") != std::string::npos;  // .inf, .nan
      fail(mark, pointer,
           literal ? "expected a finite number, got " + text + " (NaN and infinity are not accepted)"
                   : "the number " + text + " is too large (beyond +-1.8e308); expected a finite number");
    }
    remember(anchor, value, 1, text.size(), &text);
    place(std::move(value));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor, json::array());
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor, json::object());
  }
  void OnMapEnd() override { close(); }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const bool key = next_is_key();
    const std::string pointer = key ? parent_pointer() : value_pointer(mark);
    auto it = m_anchors.find(anchor);
    const std::string name = "*" + (it == m_anchors.end() ? std::string("?") : it->second.name);
    if (it == m_anchors.end() || !it->second.done) {
      fail(mark, pointer, "alias " + name + " refers to a node that contains it (recursive aliases are not allowed)");
    }
    if (++m_aliases > kMaxAliases) {
      fail(mark, pointer, "alias " + name + " is alias number " + count_words(m_aliases) + "; a config may use at most " +
                              count_words(kMaxAliases) + " (an alias bomb?)");
    }
    const Anchor& a = it->second;
    if (m_values + a.values > kMaxValues || m_bytes + a.bytes > kMaxTextBytes) {
      fail(mark, pointer,
           "alias " + name + " repeats " + count_words(a.values) + " values (" + count_words(a.bytes) +
               " bytes of text); with it the document would exceed " + count_words(kMaxValues) + " values or " +
               count_words(kMaxTextBytes >> 20) + " MiB (aliases count in full each time: an alias bomb?)");
    }
    count(mark, pointer, a.values, a.bytes);
    if (key) {
      if (!a.is_scalar) fail(mark, pointer, "keys must be plain strings (alias " + name + " is not a scalar)");
      set_key(mark, a.text);
      return;
    }
    // Everything inside the copy appears where the alias is: its keys and values are
    // reported at the alias (bounded, as the copy itself, by the limits above).
    mark_copied(a.value, pointer, origin(mark));
    place(json(a.value));
  }

 private:
  void mark_copied(const json& value, const std::string& pointer, const Origin& where) {
    value_origins[pointer] = where;
    if (value.is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        const std::string child = pointer + "/" + escape_pointer_token(it.key());
        key_origins[child] = where;
        mark_copied(it.value(), child, where);
      }
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) mark_copied(value[i], pointer + "/" + std::to_string(i), where);
    }
  }

  struct Frame {
    json value;  // array or object being filled
    std::string pointer;
    bool have_key = false;
    std::string key;
    YAML::anchor_t anchor = 0;
    std::size_t values_before = 0, bytes_before = 0;
  };
  struct Anchor {
    std::string name;
    bool done = false;
    bool is_scalar = false;
    std::string text;  // the scalar as written, for aliases used as keys
    json value;
    std::size_t values = 0, bytes = 0;
  };

  Origin origin(const YAML::Mark& mark) const {
    Origin o;
    o.file = m_file;
    if (!m_override.empty()) {
      o.override_text = m_override;
    } else if (mark.line >= 0) {
      o.line = mark.line + 1;
      o.column = mark.column + 1;
    }
    return o;
  }

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& pointer, const std::string& message) const {
    const Origin o = origin(mark);
    std::string where = o.describe();
    if (o.override_text.empty() && !pointer.empty()) where += ": " + display_path(pointer);
    throw ConfigError(where + ": " + message);
  }

  bool next_is_key() const {
    return !m_stack.empty() && m_stack.back().value.is_object() && !m_stack.back().have_key;
  }
  std::string parent_pointer() const { return m_stack.empty() ? std::string() : m_stack.back().pointer; }
  std::string child_pointer(const std::string& key) const { return parent_pointer() + "/" + escape_pointer_token(key); }

  /// The pointer of the value about to be placed, with its origin recorded.
  std::string value_pointer(const YAML::Mark& mark) {
    std::string pointer;
    if (!m_stack.empty()) {
      const Frame& f = m_stack.back();
      pointer = f.value.is_object() ? child_pointer(f.key) : f.pointer + "/" + std::to_string(f.value.size());
    }
    value_origins[pointer] = origin(mark);
    return pointer;
  }

  void refuse_key(const YAML::Mark& mark) const {
    if (next_is_key()) fail(mark, parent_pointer(), "keys must be plain strings");
  }

  void count(const YAML::Mark& mark, const std::string& pointer, std::size_t values, std::size_t bytes) {
    m_values += values;
    m_bytes += bytes;
    if (m_values > kMaxValues) {
      fail(mark, pointer, "the document holds more than " + count_words(kMaxValues) + " values");
    }
    if (m_bytes > kMaxTextBytes) {
      fail(mark, pointer, "the document holds more than " + count_words(kMaxTextBytes >> 20) + " MiB of text");
    }
  }

  void remember(YAML::anchor_t anchor, const json& value, std::size_t values, std::size_t bytes, const std::string* text) {
    if (anchor == YAML::NullAnchor) return;
    Anchor& a = m_anchors[anchor];
    a.name = std::move(m_anchor_name);
    a.done = true;
    a.is_scalar = text != nullptr;
    if (text) a.text = *text;
    a.value = value;
    a.values = values;
    a.bytes = bytes;
  }

  void set_key(const YAML::Mark& mark, const std::string& key) {
    Frame& f = m_stack.back();
    const std::string child = child_pointer(key);
    key_origins[child] = origin(mark);
    if (f.value.contains(key)) fail(mark, child, "duplicate key '" + key + "'");
    f.key = key;
    f.have_key = true;
  }

  void place(json value) {
    if (m_stack.empty()) {
      result = std::move(value);
      return;
    }
    Frame& f = m_stack.back();
    if (f.value.is_object()) {
      f.value[f.key] = std::move(value);
      f.have_key = false;
    } else {
      f.value.push_back(std::move(value));
    }
  }

  void open(const YAML::Mark& mark, YAML::anchor_t anchor, json empty) {
    refuse_key(mark);
    const std::string pointer = value_pointer(mark);
    if (m_stack.size() >= kMaxDepth) {
      fail(mark, pointer, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    count(mark, pointer, 1, 0);
    Frame f;
    f.value = std::move(empty);
    f.pointer = pointer;
    f.anchor = anchor;
    f.values_before = m_values;
    f.bytes_before = m_bytes;
    if (anchor != YAML::NullAnchor) {
      Anchor& a = m_anchors[anchor];
      a.name = std::move(m_anchor_name);
      a.done = false;
    }
    m_stack.push_back(std::move(f));
  }

  void close() {
    Frame f = std::move(m_stack.back());
    m_stack.pop_back();
    if (f.anchor != YAML::NullAnchor) {
      Anchor& a = m_anchors[f.anchor];
      a.done = true;
      a.value = f.value;
      a.values = m_values - f.values_before + 1;
      a.bytes = m_bytes - f.bytes_before;
    }
    place(std::move(f.value));
  }

  std::string m_file, m_override;
  std::vector<Frame> m_stack;
  std::unordered_map<YAML::anchor_t, Anchor> m_anchors;
  std::string m_anchor_name;
  std::size_t m_values = 0, m_bytes = 0, m_aliases = 0, m_documents = 0;
};

/// Line and column (in characters, from 1) of byte `offset` of `text`.
std::pair<int, int> position_of(const std::string& text, std::size_t offset) {
  int line = 1, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column;  // count characters, not continuation bytes
    }
  }
  return {line, column};
}

/// Refuses text that is not UTF-8, or that holds a NUL byte (yaml-cpp would read
/// past it silently), before yaml-cpp sees it, naming the line and column (in
/// characters) of the first bad byte.
void require_text(const std::string& text, const std::string& label, bool is_override) {
  const std::size_t bad = first_invalid_utf8(text);
  const std::size_t nul = text.find('\0');
  if (bad == std::string::npos && nul == std::string::npos) return;
  const bool is_nul = nul < bad;
  const std::size_t at = is_nul ? nul : bad;
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(text[at]));
  if (is_override) {
    throw ConfigError(printable_utf8(label) + ": byte " + std::to_string(at + 1) + " of the value (" + byte + ") is " +
                      (is_nul ? "a NUL" : "not UTF-8") + "; expected UTF-8 text");
  }
  const auto [line, column] = position_of(text, at);
  const std::string where = printable_utf8(label) + ":" + std::to_string(line) + ":" + std::to_string(column);
  if (is_nul)
    throw ConfigError(where + ": a NUL byte (0x00); experiment files are text, and a NUL is in none (is this a binary file?)");
  throw ConfigError(where + ": invalid UTF-8 (byte " + byte + "); experiment files must be UTF-8 text (re-save it as UTF-8)");
}

/// Parses the first YAML document of `text` into a builder. Throws ConfigError.
void build(TreeBuilder& builder, const std::string& text, const std::string& label, bool is_override) {
  require_text(text, label, is_override);
  std::istringstream in(text);
  try {
    YAML::Parser parser(in);
    // The second call reads on only to refuse a second document (OnDocumentStart).
    if (parser.HandleNextDocument(builder)) parser.HandleNextDocument(builder);
  } catch (const YAML::Exception& e) {
    Origin o{printable_utf8(label), e.mark.line + 1, e.mark.column + 1, ""};
    if (is_override) o = Origin{"", 0, 0, printable_utf8(label)};
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
  TreeBuilder builder(label, "");
  build(builder, yaml_text, label, false);
  tree.root = std::move(builder.result);
  tree.value_origins = std::move(builder.value_origins);
  tree.key_origins = std::move(builder.key_origins);
  if (tree.root.is_null()) tree.root = json::object();
  // An empty file (or only comments) has no node to point at: its messages point at its start.
  if (!tree.value_origins.count("")) tree.value_origins[""] = Origin{label, 1, 1, ""};
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

namespace {

// A key becomes a JSON key of the resolved config and the manifest: UTF-8 only, and no
// control character (NUL included), which no option name has and a message could only
// show escaped. `shown` is the override as messages name it.
void require_plain_key_path(const std::string& key_path, const std::string& shown) {
  const std::size_t bad = first_invalid_utf8(key_path);
  const auto control = std::find_if(key_path.begin(), key_path.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  const std::size_t at = std::min(bad, static_cast<std::size_t>(control - key_path.begin()));
  if (at == key_path.size()) return;
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(key_path[at]));
  throw ConfigError(shown + ": byte " + std::to_string(at + 1) + " of the key path (" + byte + ") is " +
                    (at == bad ? "not UTF-8" : "a control character") + "; expected UTF-8 text");
}

}  // namespace

void apply_override(ConfigTree& tree, const std::string& assignment, const std::string& label) {
  // Messages name the override as printable UTF-8 (bad bytes escaped): they reach the
  // terminal and the manifest.
  const std::string shown = printable_utf8(label.empty() ? "--set " + assignment : label);
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(shown + ": expected key.path=value");
  }
  const std::string key_path = assignment.substr(0, eq);
  require_plain_key_path(key_path, shown);
  const std::vector<std::string> keys = split(key_path, '.');
  TreeBuilder parsed(tree.file, shown);
  build(parsed, assignment.substr(eq + 1), shown, true);

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
      // Compared as text first: an index of 20 digits would overflow stoul.
      const std::string size_text = std::to_string(node->size());
      const std::string digits = key.substr(std::min(key.find_first_not_of('0'), key.size() - 1));
      if (digits.size() > size_text.size() || (digits.size() == size_text.size() && digits > size_text)) {
        throw ConfigError(shown + ": index " + key + " is past the end of " + display_path(pointer) + " (" +
                          size_text + " items)");
      }
      std::size_t index = std::stoul(digits);
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
  for (auto& [p, o] : parsed.value_origins) tree.value_origins[pointer + p] = o;
  for (auto& [p, o] : parsed.key_origins) tree.key_origins[pointer + p] = o;
  *node = std::move(parsed.result);
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

/// A string, plain where it reads back as the same string, double-quoted otherwise.
/// Keys go through here too: a key such as "... x" or one with a control character
/// would otherwise end the document or read back as another key.
void emit_string(YAML::Emitter& out, const std::string& s) {
  // Control characters (a lone CR, say) and edge spaces are quoted whatever the probe
  // says: yaml-cpp reads some of them back differently from a plain scalar.
  const bool awkward = s.empty() || std::isspace(static_cast<unsigned char>(s.front())) ||
                       std::isspace(static_cast<unsigned char>(s.back())) ||
                       std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  bool plain_ok = false;
  if (!awkward) try {
    YAML::Node probe = YAML::Load(s);
    plain_ok = probe.IsScalar() && probe.Scalar() == s && scalar_to_json(s, probe.Tag() == "!").is_string();
  } catch (const YAML::Exception&) {
  }
  if (plain_ok) out << s;
  else out << YAML::DoubleQuoted << s;
}

void emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = value.begin(); it != value.end(); ++it) {
        out << YAML::Key;
        emit_string(out, it.key());
        out << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: emit_string(out, value.get_ref<const std::string&>()); break;
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
