#include "vizrun_host/report.h"

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

std::string render_technique(const json& t) {
  std::ostringstream os;
  const std::string status = t.value("status", "running");
  os << "<section><h2>" << html_escape(t.value("id", "")) << " <span class=\"status " << html_escape(status) << "\">"
     << html_escape(status) << "</span></h2>\n<table class=\"facts\">"
     << fact("plugin", html_escape(t.value("plugin", "")));
  if (t.contains("wall_seconds")) os << fact("wall time", number(t["wall_seconds"].get<double>()) + " s");
  os << fact("files", std::to_string(t.value("outputs", json::array()).size())) << "</table>\n";
  if (t.contains("error")) os << "<p class=\"error\">" << html_escape(t["error"].get<std::string>()) << "</p>\n";
  if (t.contains("options")) {
    os << "<details><summary>options</summary><pre>" << html_escape(t["options"].dump(2)) << "</pre></details>\n";
  }

  // Groups in first-appearance order; grids and overlays before single channels.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const json*>> images, arrays;
  const json outputs = t.value("outputs", json::array());
  for (const auto& o : outputs) {
    const std::string g = group_of(o.value("path", ""));
    if (!images.count(g) && !arrays.count(g)) order.push_back(g);
    (o.value("kind", "") == "image" ? images : arrays)[g].push_back(&o);
  }
  for (const auto& g : order) {
    if (!g.empty()) os << "<h3>" << html_escape(g) << "</h3>\n";
    if (images.count(g)) {
      const bool many = images[g].size() > 12;
      os << "<div class=\"gallery\">\n";
      for (const json* o : images[g]) {
        const std::string path = (*o)["path"];
        const std::string name = path.substr(path.rfind('/') + 1);
        const bool grid = name.find("grid") != std::string::npos || name.find("overlay") != std::string::npos;
        os << "<figure class=\"" << (grid ? "wide" : many ? "small" : "") << "\"><a href=\"" << html_escape(path)
           << "\"><img loading=\"lazy\" src=\"" << html_escape(path) << "\" alt=\"" << html_escape(name)
           << "\"></a><figcaption>" << html_escape(name) << "<br>" << caption(o->value("meta", json::object()))
           << "</figcaption></figure>\n";
      }
      os << "</div>\n";
    }
    if (arrays.count(g)) {
      os << "<details><summary>" << arrays[g].size() << " arrays (.npy)</summary><ul>";
      for (const json* o : arrays[g]) {
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
     << "<a href=\"config.yaml\">config.yaml</a> reproduces the run.</p></header>\n<main>\n";
  for (const auto& t : m.value("techniques", json::array())) os << render_technique(t);
  os << "</main></body></html>\n";
  return os.str();
}

}  // namespace vizrun::host
