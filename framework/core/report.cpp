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
table.compare { border-collapse: collapse; } table.compare th { color: var(--muted); font-weight: 500; font-size: 13px; padding: 4px 8px; text-align: center; }
table.compare td { padding: 4px; vertical-align: top; } table.compare td img { width: 180px; height: auto; display: block; image-rendering: auto; }
table.compare th.row { text-align: right; min-width: 110px; max-width: 180px; overflow-wrap: anywhere; }
div.compare-scroll { overflow-x: auto; }
table.metrics td, table.metrics th { padding: 3px 10px; text-align: right; } table.metrics td.label { text-align: left; }
svg.curve { background: var(--panel); } .legend-del { color: #ff8f6b; } .legend-ins { color: #7cc4ff; }
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

std::string short_hash(const std::string& s) {
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

std::string file_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

/// An id usable in a URL fragment: letters, digits, '-' and '_'; everything else '-'.
std::string anchor(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '-';
  return out;
}

std::string technique_anchor(const TechniqueRecord& t) { return "t-" + anchor(t.id); }
std::string group_anchor(const TechniqueRecord& t, const std::string& g) { return technique_anchor(t) + "--" + anchor(g); }

/// A grid or overlay sums up a group; single-item pictures are its details.
bool is_summary_image(const OutputRecord& o) {
  const std::string name = file_name(o.path);
  return name.find("grid") != std::string::npos || name.find("overlay") != std::string::npos;
}

/// An ascent whose loss stayed exactly 0: the filter never fired, so its picture is the start noise.
bool is_dead(const OutputRecord& o) {
  const auto loss = o.meta.find("loss");
  return loss != o.meta.end() && loss->is_number() && loss->get<double>() == 0.0;
}

/// A technique's outputs by group ("<technique>/<group>/<file>"), groups in order of first appearance.
struct Group {
  std::string name;
  std::vector<OutputRecord> images, arrays;
};

std::vector<Group> group_outputs(const std::vector<OutputRecord>& outputs) {
  std::vector<Group> groups;
  std::map<std::string, std::size_t> index;
  for (const auto& o : outputs) {
    const std::string name = group_of(o.path);
    const auto [it, fresh] = index.emplace(name, groups.size());
    if (fresh) groups.push_back({name, {}, {}});
    (o.kind == "image" ? groups[it->second].images : groups[it->second].arrays).push_back(o);
  }
  return groups;
}

std::string render_figure(const OutputRecord& o, const std::string& css_class) {
  const std::string name = file_name(o.path);
  const bool dead = is_dead(o);
  std::ostringstream os;
  os << "<figure class=\"" << css_class << (dead ? " dead" : "") << "\"><a href=\"" << html_escape(o.path)
     << "\"><img loading=\"lazy\" src=\"" << html_escape(o.path) << "\" alt=\"" << html_escape(name)
     << "\"></a><figcaption>" << html_escape(name) << "<br>" << caption(o.meta);
  if (dead) os << "<br><span class=\"deadnote\">dead filter: loss 0, it never fired; the picture is the start noise</span>";
  os << "</figcaption></figure>\n";
  return os.str();
}

/// One layer (or image) group: its grids and overlays first, the single pictures behind a fold.
std::string render_images(const TechniqueRecord& t, const Group& g) {
  std::vector<const OutputRecord*> summary, single;
  for (const auto& o : g.images) (is_summary_image(o) ? summary : single).push_back(&o);
  const auto dead = std::count_if(single.begin(), single.end(), [](const OutputRecord* o) { return is_dead(*o); });
  std::ostringstream os;
  if (dead > 0) {
    os << "<p class=\"deadnote\">" << dead << " of " << single.size()
       << " filters are dead (loss 0): they never fired on the start picture, and their cells show the start noise.</p>\n";
  }
  if (!summary.empty()) {
    os << "<div class=\"gallery\">\n";
    for (const auto* o : summary) os << render_figure(*o, "wide");
    os << "</div>\n";
  }
  if (!single.empty()) {
    const bool fold = !summary.empty() || single.size() > 12;
    if (fold) os << "<details><summary>" << single.size() << " single pictures</summary>\n";
    os << "<div class=\"gallery\">\n";
    for (const auto* o : single) os << render_figure(*o, single.size() > 12 ? "small" : "");
    os << "</div>\n";
    if (fold) os << "</details>\n";
  }
  return os.str();
}

std::string render_arrays(const Group& g) {
  if (g.arrays.empty()) return "";
  std::ostringstream os;
  os << "<details><summary>" << g.arrays.size() << " arrays (.npy)</summary><ul>";
  for (const auto& o : g.arrays) {
    os << "<li><a href=\"" << html_escape(o.path) << "\"><code>" << html_escape(o.path) << "</code></a></li>";
  }
  os << "</ul></details>\n";
  return os.str();
}

// --- Comparison across methods: the grid and the metrics ------------------------------

/// The string form of a meta value ("" when absent).
std::string meta_text(const json& meta, const std::string& key) {
  const auto it = meta.find(key);
  return it == meta.end() || it->is_null() ? "" : text_of(*it);
}

/// The picture of a map the grid shows: meta `view: "overlay"` where the technique says
/// which view an image is, else an image whose file name says overlay; it needs meta `image`.
bool is_grid_picture(const OutputRecord& o, bool technique_has_views) {
  if (o.kind != "image" || !o.meta.contains("image")) return false;
  if (technique_has_views) return meta_text(o.meta, "view") == "overlay";
  return file_name(o.path).find("overlay") != std::string::npos;
}

/// One row per image (and class when an image has several), one column per method (and
/// layer when a method has several), from every technique's outputs with meta `image`,
/// `method` (else the technique's plugin), `layer` and `class`.
std::string render_comparison_grid(const std::vector<TechniqueRecord>& techniques) {
  struct Cell { std::string row, column, path, caption; };
  std::vector<Cell> cells;
  std::map<std::string, std::vector<std::string>> layers_of;  // method -> layers
  for (const auto& t : techniques) {
    const bool has_views = std::any_of(t.outputs.begin(), t.outputs.end(), [](const OutputRecord& o) { return o.meta.contains("view"); });
    for (const auto& o : t.outputs) {
      if (!is_grid_picture(o, has_views)) continue;
      const std::string method = o.meta.contains("method") ? meta_text(o.meta, "method") : t.plugin;
      const std::string layer = meta_text(o.meta, "layer");
      auto& layers = layers_of[method];
      if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
      const std::string cls = meta_text(o.meta, "name").empty() ? meta_text(o.meta, "class") : meta_text(o.meta, "name");
      cells.push_back({meta_text(o.meta, "image") + "\n" + cls, method + "\n" + layer, o.path, cls});
    }
  }
  if (cells.empty()) return "";
  std::vector<std::string> rows, columns;
  std::map<std::string, std::string> picture;  // row + column -> path
  for (const auto& c : cells) {
    if (std::find(rows.begin(), rows.end(), c.row) == rows.end()) rows.push_back(c.row);
    if (std::find(columns.begin(), columns.end(), c.column) == columns.end()) columns.push_back(c.column);
    picture.emplace(c.row + "\t" + c.column, c.path);  // the first (top-ranked) picture wins
  }
  if (columns.size() < 2) return "";  // one method at one layer: its own section shows it
  auto heading = [&](const std::string& column) {
    const std::string method = column.substr(0, column.find('\n')), layer = column.substr(column.find('\n') + 1);
    const bool several = layers_of[method].size() > 1 && !layer.empty();
    return html_escape(method) + (several ? "<br><code>" + html_escape(layer) + "</code>" : "");
  };
  std::ostringstream os;
  // Wider than the page with many methods: the grid scrolls on its own.
  os << "<h3>Methods side by side</h3>\n<div class=\"compare-scroll\"><table class=\"compare\"><tr><th></th>";
  for (const auto& c : columns) os << "<th>" << heading(c) << "</th>";
  os << "</tr>\n";
  for (const auto& r : rows) {
    const std::string image = r.substr(0, r.find('\n')), cls = r.substr(r.find('\n') + 1);
    os << "<tr><th class=\"row\">" << html_escape(file_name(image)) << (cls.empty() ? "" : "<br>" + html_escape(cls)) << "</th>";
    for (const auto& c : columns) {
      const auto it = picture.find(r + "\t" + c);
      os << "<td>";
      if (it != picture.end())
        os << "<a href=\"" << html_escape(it->second) << "\"><img loading=\"lazy\" src=\"" << html_escape(it->second)
           << "\" alt=\"" << html_escape(file_name(it->second)) << "\"></a>";
      os << "</td>";
    }
    os << "</tr>\n";
  }
  os << "</table></div>\n";
  return os.str();
}

/// A deletion (orange) and an insertion (blue) curve on [0, 1] x [0, max], as inline SVG.
std::string curve_svg(const json& curves) {
  constexpr double kW = 140, kH = 56;
  double top = 1e-12;
  for (const char* name : {"deletion", "insertion"})
    if (curves.contains(name))
      for (const auto& v : curves[name])
        if (v.is_number()) top = std::max(top, v.get<double>());
  std::ostringstream os;
  os << "<svg class=\"curve\" width=\"" << kW << "\" height=\"" << kH << "\" viewBox=\"0 0 " << kW << " " << kH
     << "\"><rect x=\"0.5\" y=\"0.5\" width=\"" << kW - 1 << "\" height=\"" << kH - 1 << "\" fill=\"none\" stroke=\"#444\"/>";
  using Line = std::pair<const char*, const char*>;  // curve, colour
  for (const auto& [name, colour] : {Line{"deletion", "#ff8f6b"}, Line{"insertion", "#7cc4ff"}}) {
    if (!curves.contains(name) || curves[name].size() < 2) continue;
    const json& c = curves[name];
    os << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (!c[i].is_number()) continue;
      const double x = 2 + (kW - 4) * static_cast<double>(i) / static_cast<double>(c.size() - 1);
      const double y = kH - 2 - (kH - 4) * c[i].get<double>() / top;
      os << number(x) << "," << number(y) << " ";
    }
    os << "\"><title>" << name << "</title></polyline>";
  }
  os << "</svg>";
  return os.str();
}

/// Every technique's `metrics` record: rows image x method (x layer, class), a column per
/// metric, and the deletion / insertion curves.
std::string render_metrics(const std::vector<TechniqueRecord>& techniques) {
  std::vector<json> entries;
  std::vector<std::string> columns;
  for (const auto& t : techniques) {
    if (!t.records.contains("metrics") || !t.records["metrics"].is_array()) continue;
    for (const auto& e : t.records["metrics"]) {
      if (!e.is_object()) continue;
      entries.push_back(e);
      if (e.contains("values") && e["values"].is_object())
        for (auto it = e["values"].begin(); it != e["values"].end(); ++it)
          if (std::find(columns.begin(), columns.end(), it.key()) == columns.end()) columns.push_back(it.key());
    }
  }
  if (entries.empty()) return "";
  const bool curves = std::any_of(entries.begin(), entries.end(), [](const json& e) { return e.contains("curves"); });
  std::ostringstream os;
  os << "<h3>Faithfulness metrics</h3>\n<p>Deletion: area under the class score as the most relevant pixels are removed "
        "(lower is better); insertion: as they are restored from a blurred image (higher is better); drop / increase in "
        "confidence and ROAD as pytorch-grad-cam defines them. "
     << (curves ? "Curves: <span class=\"legend-del\">deletion</span>, <span class=\"legend-ins\">insertion</span>." : "")
     << "</p>\n<table class=\"facts metrics\"><tr><th>image</th><th>method</th><th>layer</th><th>class</th><th>score</th>";
  for (const auto& c : columns) os << "<th>" << html_escape(c) << "</th>";
  if (curves) os << "<th>curves</th>";
  os << "</tr>\n";
  for (const auto& e : entries) {
    os << "<tr><td class=\"label\">" << html_escape(file_name(meta_text(e, "image"))) << "</td><td class=\"label\">"
       << html_escape(meta_text(e, "method")) << "</td><td class=\"label\"><code>" << html_escape(meta_text(e, "layer"))
       << "</code></td><td>" << html_escape(meta_text(e, "class")) << "</td><td>" << html_escape(meta_text(e, "score")) << "</td>";
    for (const auto& c : columns) {
      const bool has = e.contains("values") && e["values"].contains(c);
      os << "<td>" << (!has ? "" : e["values"][c].is_null() ? "n/a" : html_escape(text_of(e["values"][c]))) << "</td>";
    }
    if (curves) os << "<td>" << (e.contains("curves") ? curve_svg(e["curves"]) : "") << "</td>";
    os << "</tr>\n";
  }
  os << "</table>\n";
  return os.str();
}

std::string render_comparison(const std::vector<TechniqueRecord>& techniques) {
  const std::string grid = render_comparison_grid(techniques), metrics = render_metrics(techniques);
  if (grid.empty() && metrics.empty()) return "";
  return "<section id=\"comparison\"><h2>Comparison</h2>\n" + grid + metrics + "</section>\n";
}

std::string render_technique(const TechniqueRecord& t) {
  std::ostringstream os;
  os << "<section id=\"" << technique_anchor(t) << "\"><h2>" << html_escape(t.id) << " <span class=\"status "
     << html_escape(t.status) << "\">" << html_escape(t.status) << "</span></h2>\n<table class=\"facts\">"
     << fact("plugin", html_escape(t.plugin));
  if (t.wall_seconds) os << fact("wall time", number(*t.wall_seconds) + " s");
  if (!t.precision.empty()) {
    os << fact("precision", html_escape(t.precision) + (t.precision_note.empty() ? "" : " (" + html_escape(t.precision_note) + ")"));
  }
  os << fact("files", std::to_string(t.outputs.size())) << "</table>\n";
  if (!t.error.empty()) os << "<p class=\"error\">" << html_escape(t.error) << "</p>\n";
  if (!t.options.empty()) {
    os << "<details><summary>options</summary><pre>" << html_escape(t.options.dump(2)) << "</pre></details>\n";
  }
  for (const auto& g : group_outputs(t.outputs)) {
    if (!g.name.empty()) os << "<h3 id=\"" << group_anchor(t, g.name) << "\">" << html_escape(g.name) << "</h3>\n";
    os << render_images(t, g) << render_arrays(g);
  }
  for (auto it = t.records.begin(); it != t.records.end(); ++it) {
    if (it.key() == "metrics") continue;  // in the comparison section, as a table with curves
    os << render_record(it.key(), it.value());
  }
  os << "</section>\n";
  return os.str();
}

/// Contents: every technique, and under it every layer or image group.
std::string render_toc(const std::vector<TechniqueRecord>& techniques) {
  if (techniques.empty()) return "";
  std::ostringstream os;
  os << "<nav class=\"toc\"><strong>Contents</strong><ul>\n";
  for (const auto& t : techniques) {
    os << "<li><a href=\"#" << technique_anchor(t) << "\">" << html_escape(t.id) << "</a> (" << html_escape(t.plugin) << ")";
    std::vector<std::string> named;
    for (const auto& g : group_outputs(t.outputs)) {
      if (!g.name.empty()) named.push_back(g.name);
    }
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

/// The run's facts: status, model, weights, seed, device, times, build, config.
std::string render_facts(const RunRecord& m) {
  const ModelRecord model = m.model.value_or(ModelRecord{});
  const EnvironmentRecord& env = m.environment;
  const BuildRecord& v = m.vizrun;
  std::ostringstream os;
  os << "<table class=\"facts\">\n";
  if (!m.error.empty()) os << fact("error", "<span class=\"error\">" + html_escape(m.error) + "</span>");
  os << fact("model", html_escape(model.plugin) + (m.model ? " (" + std::to_string(model.parameters) + " parameters)" : ""))
     << fact("weights", html_escape(model.weights.source) + " " + short_hash(model.weights.sha256))
     << fact("seed", std::to_string(m.seed))
     << fact("device", html_escape(env.device) + ", " + std::to_string(env.threads) + " threads, " + html_escape(env.precision))
     << fact("started", html_escape(m.started_utc) + (m.finished_utc.empty() ? "" : " &rarr; " + html_escape(m.finished_utc)))
     << fact("vizrun", html_escape(v.version) + " (" + html_escape(v.git_revision) + "), SDK " + html_escape(v.sdk_version) + ", LibTorch " + html_escape(v.libtorch))
     << fact("config", html_escape(m.config_file) + " " + short_hash(m.config_sha256));
  if (!m.overrides.empty()) {
    std::string list;
    for (const auto& o : m.overrides) list += "<code>--set " + html_escape(o) + "</code> ";
    os << fact("overrides", list);
  }
  os << "</table>\n";
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

std::string render_run_report(const RunRecord& m) {
  const std::string title = m.experiment.empty() ? "vizrun run" : m.experiment;
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
     << "<title>" << html_escape(title) << " &middot; vizrun</title><style>" << kStyle
     << "</style></head><body>\n<header><h1>" << html_escape(m.experiment) << " <span class=\"status "
     << html_escape(m.status) << "\">" << html_escape(m.status) << "</span></h1>\n"
     << render_facts(m)
     << "<p>Everything here is listed with its sha256 in <a href=\"manifest.json\">manifest.json</a>; "
     << "<a href=\"config.yaml\">config.yaml</a> reproduces the run.</p>\n";
  if (m.model && m.model->weights.source == "random") {
    os << "<div class=\"banner\"><strong>Random weights.</strong> This run used <code>weights: random</code>: the "
          "pictures show an untrained network, not what a trained one has learned.</div>\n";
  }
  os << render_toc(m.techniques) << "</header>\n<main>\n";
  os << render_comparison(m.techniques);
  for (const auto& t : m.techniques) os << render_technique(t);
  os << "</main></body></html>\n";
  return os.str();
}

}  // namespace vizrun::host
