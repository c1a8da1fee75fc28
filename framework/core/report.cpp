#include "vizrun_host/report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace vizrun::host {
namespace {

using nlohmann::json;

constexpr const char* kStyle = R"(
:root { color-scheme: dark; --bg: #15171c; --panel: #1e2129; --text: #e6e6e6; --muted: #9aa0aa; --accent: #7cc4ff; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
header { padding: 24px 32px 8px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 32px 0 8px; font-size: 21px; border-bottom: 1px solid #333; padding-bottom: 6px; }
h3 { margin: 20px 0 8px; font-size: 16px; color: var(--accent); }
main { padding: 0 32px 48px; }
.status { display: inline-block; padding: 1px 10px; border-radius: 10px; font-weight: 600; font-size: 13px; }
.complete { background: #1f5f36; } .failed, .crashed { background: #7a2323; } .running, .interrupted { background: #6b5a16; }
table.facts { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
table.facts td, table.facts th { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
table.facts th { color: var(--muted); font-weight: 500; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; color: #c8d0da; }
.gallery { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; background: var(--panel); padding: 8px; border-radius: 6px; max-width: 100%; }
figure img { display: block; min-width: 160px; max-width: 100%; height: auto; image-rendering: pixelated; }
figure.small img { width: 160px; }
figure.wide img { max-height: 760px; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 5px; max-width: 480px; }
.error { color: #ff8f8f; white-space: pre-wrap; }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--muted); }
pre { background: var(--panel); padding: 12px; border-radius: 6px; overflow: auto; font-size: 12.5px; }
nav.toc { background: var(--panel); border-radius: 6px; padding: 10px 16px; margin: 12px 0; font-size: 14px; }
nav.toc ul { margin: 2px 0; padding-left: 20px; } nav.toc a { color: var(--accent); text-decoration: none; }
.banner { background: #6b3b16; border-left: 4px solid #ff9f43; padding: 8px 14px; margin: 10px 0; border-radius: 4px; }
figure.dead { outline: 2px solid #7a2323; } .deadnote { color: #ff8f8f; }
)";

std::string number(double v) {
  char buf[32];
  if (std::fabs(v) >= 1e4 || (v != 0 && std::fabs(v) < 1e-3)) std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return number(v.get<double>());
  return v.dump();
}

std::string fact(const std::string& name, const std::string& value) {
  return "<tr><th>" + html_escape(name) + "</th><td>" + value + "</td></tr>\n";
}

std::string short_hash(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : "";
  return s.empty() ? "&ndash;" : "<code title=\"" + s + "\">" + s.substr(0, 12) + "</code>";
}

/// Caption from an output's meta: "filter 12 · loss 3.21".
std::string caption(const json& meta) {
  std::string out;
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    if (it.value().is_object() || it.value().is_array()) continue;
    if (!out.empty()) out += " &middot; ";
    out += html_escape(it.key()) + " " + html_escape(text_of(it.value()));
  }
  return out;
}

/// A list of flat dicts as a table; anything else as JSON.
std::string render_record(const std::string& key, const json& value) {
  std::ostringstream os;
  os << "<details" << (value.is_array() && value.size() <= 50 ? " open" : "") << "><summary>" << html_escape(key)
     << "</summary>";
  bool table = value.is_array() && !value.empty() &&
               std::all_of(value.begin(), value.end(), [](const json& r) { return r.is_object(); });
  if (table) {
    std::vector<std::string> columns;
    for (const auto& row : value) {
      for (auto it = row.begin(); it != row.end(); ++it) {
        if (std::find(columns.begin(), columns.end(), it.key()) == columns.end()) columns.push_back(it.key());
      }
    }
    os << "<table class=\"facts\"><tr>";
    for (const auto& c : columns) os << "<th>" << html_escape(c) << "</th>";
    os << "</tr>\n";
    for (const auto& row : value) {
      os << "<tr>";
      for (const auto& c : columns) os << "<td>" << (row.contains(c) ? html_escape(text_of(row[c])) : "") << "</td>";
      os << "</tr>\n";
    }
    os << "</table>";
  } else {
    os << "<pre>" << html_escape(value.dump(2)) << "</pre>";
  }
  os << "</details>\n";
  return os.str();
}

std::string group_of(const std::string& path) {
  // "<technique>/<group...>/<file>" -> "<group...>"
  auto first = path.find('/');
  auto last = path.rfind('/');
  if (first == std::string::npos || first == last) return "";
  return path.substr(first + 1, last - first - 1);
}

/// An id usable in a URL fragment: letters, digits, '-' and '_'; everything else '-'.
std::string anchor(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '-';
  return out;
}

std::string technique_anchor(const json& t) { return "t-" + anchor(t.value("id", "")); }
std::string group_anchor(const json& t, const std::string& g) { return technique_anchor(t) + "--" + anchor(g); }

/// A grid or overlay sums up a group; single-item pictures are its details.
bool is_summary_image(const std::string& name) {
  return name.find("grid") != std::string::npos || name.find("overlay") != std::string::npos;
}

/// An ascent whose loss stayed exactly 0: the filter never fired, so its picture is the start noise.
bool is_dead(const json& meta) { return meta.contains("loss") && meta["loss"].is_number() && meta["loss"].get<double>() == 0.0; }

/// Output groups ("<technique>/<group>/<file>") in first-appearance order; they point
/// into `outputs`, which must outlive them.
struct Groups {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const json*>> images, arrays;
};

Groups group_outputs(const json& outputs) {
  Groups g;
  for (const auto& o : outputs) {
    const std::string name = group_of(o.value("path", ""));
    if (!g.images.count(name) && !g.arrays.count(name)) g.order.push_back(name);
    (o.value("kind", "") == "image" ? g.images : g.arrays)[name].push_back(&o);
  }
  return g;
}

std::string render_figure(const json& o, const std::string& css_class) {
  const std::string path = o["path"];
  const std::string name = path.substr(path.rfind('/') + 1);
  const json meta = o.value("meta", json::object());
  const bool dead = is_dead(meta);
  std::ostringstream os;
  os << "<figure class=\"" << css_class << (dead ? " dead" : "") << "\"><a href=\"" << html_escape(path)
     << "\"><img loading=\"lazy\" src=\"" << html_escape(path) << "\" alt=\"" << html_escape(name)
     << "\"></a><figcaption>" << html_escape(name) << "<br>" << caption(meta);
  if (dead) os << "<br><span class=\"deadnote\">dead filter: loss 0, it never fired; the picture is the start noise</span>";
  os << "</figcaption></figure>\n";
  return os.str();
}

/// One layer (or image) group: its grids and overlays first, the single pictures behind a fold.
std::string render_group(const json& t, const std::string& g, const std::vector<const json*>& images) {
  std::vector<const json*> summary, single;
  for (const json* o : images) {
    const std::string path = (*o)["path"];
    (is_summary_image(path.substr(path.rfind('/') + 1)) ? summary : single).push_back(o);
  }
  std::size_t dead = 0;
  for (const json* o : single) dead += is_dead(o->value("meta", json::object()));
  std::ostringstream os;
  if (!g.empty()) os << "<h3 id=\"" << group_anchor(t, g) << "\">" << html_escape(g) << "</h3>\n";
  if (dead > 0) {
    os << "<p class=\"deadnote\">" << dead << " of " << single.size()
       << " filters are dead (loss 0): they never fired on the start picture, and their cells show the start noise.</p>\n";
  }
  if (!summary.empty()) {
    os << "<div class=\"gallery\">\n";
    for (const json* o : summary) os << render_figure(*o, "wide");
    os << "</div>\n";
  }
  if (!single.empty()) {
    const bool fold = !summary.empty() || single.size() > 12;
    if (fold) os << "<details><summary>" << single.size() << " single pictures</summary>\n";
    os << "<div class=\"gallery\">\n";
    for (const json* o : single) os << render_figure(*o, single.size() > 12 ? "small" : "");
    os << "</div>\n";
    if (fold) os << "</details>\n";
  }
  return os.str();
}

std::string render_technique(const json& t) {
  std::ostringstream os;
  const std::string status = t.value("status", "running");
  os << "<section id=\"" << technique_anchor(t) << "\"><h2>" << html_escape(t.value("id", "")) << " <span class=\"status "
     << html_escape(status) << "\">" << html_escape(status) << "</span></h2>\n<table class=\"facts\">"
     << fact("plugin", html_escape(t.value("plugin", "")));
  if (t.contains("wall_seconds")) os << fact("wall time", number(t["wall_seconds"].get<double>()) + " s");
  if (t.contains("precision")) os << fact("precision", html_escape(text_of(t["precision"])));
  os << fact("files", std::to_string(t.value("outputs", json::array()).size())) << "</table>\n";
  if (t.contains("error")) os << "<p class=\"error\">" << html_escape(t["error"].get<std::string>()) << "</p>\n";
  if (t.contains("options")) {
    os << "<details><summary>options</summary><pre>" << html_escape(t["options"].dump(2)) << "</pre></details>\n";
  }
  const json outputs = t.value("outputs", json::array());  // outlives the pointers in groups
  const Groups groups = group_outputs(outputs);
  for (const auto& g : groups.order) {
    if (groups.images.count(g)) os << render_group(t, g, groups.images.at(g));
    else if (!g.empty()) os << "<h3 id=\"" << group_anchor(t, g) << "\">" << html_escape(g) << "</h3>\n";
    if (groups.arrays.count(g)) {
      os << "<details><summary>" << groups.arrays.at(g).size() << " arrays (.npy)</summary><ul>";
      for (const json* o : groups.arrays.at(g)) {
        os << "<li><a href=\"" << html_escape((*o)["path"]) << "\"><code>" << html_escape((*o)["path"]) << "</code></a></li>";
      }
      os << "</ul></details>\n";
    }
  }
  const json records = t.value("records", json::object());
  for (auto it = records.begin(); it != records.end(); ++it) os << render_record(it.key(), it.value());
  os << "</section>\n";
  return os.str();
}

/// Contents: every technique, and under it every layer or image group.
std::string render_toc(const json& techniques) {
  if (techniques.empty()) return "";
  std::ostringstream os;
  os << "<nav class=\"toc\"><strong>Contents</strong><ul>\n";
  for (const auto& t : techniques) {
    os << "<li><a href=\"#" << technique_anchor(t) << "\">" << html_escape(t.value("id", "")) << "</a> ("
       << html_escape(t.value("plugin", "")) << ")";
    const json outputs = t.value("outputs", json::array());  // outlives the pointers in groups
  const Groups groups = group_outputs(outputs);
    std::vector<std::string> named;
    for (const auto& g : groups.order) if (!g.empty()) named.push_back(g);
    if (!named.empty()) {
      os << "<ul>";
      for (const auto& g : named) os << "<li><a href=\"#" << group_anchor(t, g) << "\">" << html_escape(g) << "</a></li>";
      os << "</ul>";
    }
    os << "</li>\n";
  }
  os << "</ul></nav>\n";
  return os.str();
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_run_report(const json& m) {
  std::ostringstream os;
  const std::string status = m.value("status", "running");
  const json model = m.value("model", json::object());
  const json weights = model.value("weights", json::object());
  const json v = m.value("vizrun", json::object());
  const json env = m.value("environment", json::object());
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
     << "<title>" << html_escape(m.value("experiment", "vizrun run")) << " &middot; vizrun</title><style>" << kStyle
     << "</style></head><body>\n<header><h1>" << html_escape(m.value("experiment", "")) << " <span class=\"status "
     << html_escape(status) << "\">" << html_escape(status) << "</span></h1>\n<table class=\"facts\">\n";
  if (m.contains("error")) os << fact("error", "<span class=\"error\">" + html_escape(m["error"].get<std::string>()) + "</span>");
  os << fact("model", html_escape(model.value("plugin", "")) + (model.contains("parameters") ? " (" + model["parameters"].dump() + " parameters)" : ""))
     << fact("weights", html_escape(weights.value("source", "")) + " " + short_hash(weights.value("sha256", json(""))))
     << fact("seed", m.value("seed", json(0)).dump())
     << fact("device", html_escape(env.value("device", "")) + ", " + env.value("threads", json(0)).dump() + " threads, " + html_escape(env.value("precision", "")))
     << fact("started", html_escape(m.value("started_utc", "")) + (m.contains("finished_utc") ? " &rarr; " + html_escape(m["finished_utc"].get<std::string>()) : ""))
     << fact("vizrun", html_escape(v.value("version", "")) + " (" + html_escape(v.value("git_revision", "")) + "), SDK " + html_escape(v.value("sdk_version", "")) + ", LibTorch " + html_escape(v.value("libtorch", "")))
     << fact("config", html_escape(m.value("config_file", "")) + " " + short_hash(m.value("config_sha256", json(""))));
  if (!m.value("overrides", json::array()).empty()) {
    std::string list;
    for (const auto& o : m["overrides"]) list += "<code>--set " + html_escape(o.get<std::string>()) + "</code> ";
    os << fact("overrides", list);
  }
  os << "</table>\n<p>Everything here is listed with its sha256 in <a href=\"manifest.json\">manifest.json</a>; "
     << "<a href=\"config.yaml\">config.yaml</a> reproduces the run.</p>\n";
  if (weights.value("source", "") == "random") {
    os << "<div class=\"banner\"><strong>Random weights.</strong> This run used <code>weights: random</code>: the "
          "pictures show an untrained network, not what a trained one has learned.</div>\n";
  }
  os << render_toc(m.value("techniques", json::array())) << "</header>\n<main>\n";
  for (const auto& t : m.value("techniques", json::array())) os << render_technique(t);
  os << "</main></body></html>\n";
  return os.str();
}

}  // namespace vizrun::host
