// manifest.json <-> RunRecord. The key names here are those of
// schemas/manifest.schema.json; fields are only ever added (manifest_version 1).
#include "vizrun_host/run_record.h"

#include <initializer_list>

namespace vizrun::host {
namespace {

using nlohmann::json;

/// Reading is lenient: a manifest cut short by a crash lacks later keys, and a
/// value of the wrong type reads as absent rather than throwing.
template <class T>
T read(const json& j, const char* key, T fallback = T{}) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

json member(const json& j, const char* key, json fallback) {
  const auto it = j.find(key);
  return it == j.end() ? fallback : *it;
}

const json& array_of(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

/// The members of `j` other than `known`.
json unknown_keys(const json& j, std::initializer_list<const char*> known) {
  json extra = json::object();
  if (!j.is_object()) return extra;
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool modelled = false;
    for (const char* k : known) modelled = modelled || it.key() == k;
    if (!modelled) extra[it.key()] = it.value();
  }
  return extra;
}

void add_extra(json& j, const json& extra) {
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    if (!j.contains(it.key())) j[it.key()] = it.value();
  }
}

json output_json(const OutputRecord& o) {
  json j = {{"path", o.path}, {"kind", o.kind}, {"sha256", o.sha256}, {"meta", o.meta}};
  if (o.recovered) j["recovered"] = true;
  return j;
}

OutputRecord output_from(const json& j) {
  OutputRecord o;
  o.path = read<std::string>(j, "path");
  o.kind = read<std::string>(j, "kind");
  o.sha256 = read<std::string>(j, "sha256");
  o.meta = member(j, "meta", json::object());
  if (!o.meta.is_object()) o.meta = json::object();
  o.recovered = read<bool>(j, "recovered", false);
  return o;
}

json technique_json(const TechniqueRecord& t) {
  json outputs = json::array();
  for (const auto& o : t.outputs) outputs.push_back(output_json(o));
  json j = {{"id", t.id}, {"plugin", t.plugin}, {"status", t.status},
            {"options", t.options}, {"outputs", outputs}, {"records", t.records}};
  if (!t.error.empty()) j["error"] = t.error;
  if (t.wall_seconds) j["wall_seconds"] = *t.wall_seconds;
  if (!t.precision.empty()) j["precision"] = t.precision;
  if (!t.precision_note.empty()) j["precision_note"] = t.precision_note;
  add_extra(j, t.extra);
  return j;
}

TechniqueRecord technique_from(const json& j) {
  TechniqueRecord t;
  t.id = read<std::string>(j, "id");
  t.plugin = read<std::string>(j, "plugin");
  t.status = read<std::string>(j, "status", "running");
  t.error = read<std::string>(j, "error");
  t.options = member(j, "options", json::object());
  if (j.contains("wall_seconds") && j["wall_seconds"].is_number()) t.wall_seconds = j["wall_seconds"].get<double>();
  t.precision = read<std::string>(j, "precision");
  t.precision_note = read<std::string>(j, "precision_note");
  for (const auto& o : array_of(j, "outputs")) t.outputs.push_back(output_from(o));
  t.records = member(j, "records", json::object());
  t.extra = unknown_keys(j, {"id", "plugin", "status", "error", "options", "wall_seconds", "precision",
                             "precision_note", "outputs", "records"});
  return t;
}

json plugin_json(const PluginRecord& p) {
  return {{"name", p.name}, {"kind", p.kind}, {"version", p.version}, {"sdk_version", p.sdk_version},
          {"file", p.file}, {"sha256", p.sha256}, {"fingerprint", p.fingerprint}};
}

PluginRecord plugin_from(const json& j) {
  return {read<std::string>(j, "name"), read<std::string>(j, "kind"), read<std::string>(j, "version"),
          read<std::string>(j, "sdk_version"), read<std::string>(j, "file"), read<std::string>(j, "sha256"),
          read<std::string>(j, "fingerprint")};
}

json model_json(const ModelRecord& m) {
  json layers = json::array();
  for (const auto& l : m.layers) layers.push_back({{"name", l.name}, {"type", l.type}, {"shape", l.shape}});
  return {{"plugin", m.plugin},
          {"parameters", m.parameters},
          {"weights", {{"source", m.weights.source}, {"file", m.weights.file}, {"sha256", m.weights.sha256},
                       {"skipped", m.weights.skipped}}},
          {"layers", layers},
          {"load_seconds", m.load_seconds}};
}

ModelRecord model_from(const json& j) {
  ModelRecord m;
  m.plugin = read<std::string>(j, "plugin");
  m.parameters = read<std::int64_t>(j, "parameters");
  const json weights = member(j, "weights", json::object());
  m.weights = {read<std::string>(weights, "source"), read<std::string>(weights, "file"),
               read<std::string>(weights, "sha256"), read<std::vector<std::string>>(weights, "skipped")};
  for (const auto& l : array_of(j, "layers")) {
    m.layers.push_back({read<std::string>(l, "name"), read<std::string>(l, "type"),
                        read<std::vector<std::int64_t>>(l, "shape")});
  }
  m.load_seconds = read<double>(j, "load_seconds");
  return m;
}

}  // namespace

json RunRecord::to_json() const {
  json plugin_list = json::array(), input_list = json::array(), technique_list = json::array();
  for (const auto& p : plugins) plugin_list.push_back(plugin_json(p));
  for (const auto& i : inputs) input_list.push_back({{"path", i.path}, {"sha256", i.sha256}});
  for (const auto& t : techniques) technique_list.push_back(technique_json(t));
  json env = {{"device", environment.device}, {"threads", environment.threads},
              {"precision", environment.precision}, {"command_line", environment.command_line}};
  if (!environment.precision_choice.is_null()) env["precision_choice"] = environment.precision_choice;
  if (!environment.torch.is_null()) env["torch"] = environment.torch;
  if (!environment.device_info.is_null()) env["device_info"] = environment.device_info;
  env["deterministic"] = environment.deterministic;
  env["nondeterministic_ops"] = environment.nondeterministic_ops;
  json j = {
      {"manifest_version", 1},
      {"status", status},
      {"experiment", experiment},
      {"started_utc", started_utc},
      {"vizrun",
       {{"version", vizrun.version}, {"git_revision", vizrun.git_revision}, {"sdk_version", vizrun.sdk_version},
        {"libtorch", vizrun.libtorch}, {"build_fingerprint", vizrun.build_fingerprint},
        {"compiler", vizrun.compiler}, {"build_type", vizrun.build_type}}},
      {"environment", env},
      {"seed", seed},
      {"config_file", config_file},
      {"overrides", overrides},
      {"config", config},
      {"config_sha256", config_sha256},
      {"plugins", plugin_list},
      {"inputs", input_list},
      {"techniques", technique_list},
      {"sweep", sweep},
  };
  if (!error.empty()) j["error"] = error;
  if (!finished_utc.empty()) j["finished_utc"] = finished_utc;
  if (model) j["model"] = model_json(*model);
  add_extra(j, extra);
  return j;
}

RunRecord RunRecord::from_json(const json& m) {
  RunRecord r;
  if (!m.is_object()) return r;
  r.experiment = read<std::string>(m, "experiment");
  r.status = read<std::string>(m, "status", "running");
  r.error = read<std::string>(m, "error");
  r.started_utc = read<std::string>(m, "started_utc");
  r.finished_utc = read<std::string>(m, "finished_utc");
  r.seed = read<std::uint64_t>(m, "seed");
  r.config_file = read<std::string>(m, "config_file");
  r.config = member(m, "config", json::object());
  r.config_sha256 = read<std::string>(m, "config_sha256");
  r.overrides = read<std::vector<std::string>>(m, "overrides");
  r.sweep = member(m, "sweep", nullptr);
  const json env = member(m, "environment", json::object());
  r.environment = {read<std::string>(env, "device"), read<int>(env, "threads", 1), read<std::string>(env, "precision"),
                   read<std::string>(env, "command_line"), member(env, "precision_choice", nullptr)};
  r.environment.torch = member(env, "torch", nullptr);
  r.environment.device_info = member(env, "device_info", nullptr);
  r.environment.deterministic = read<bool>(env, "deterministic", true);
  r.environment.nondeterministic_ops = read<std::vector<std::string>>(env, "nondeterministic_ops");
  const json v = member(m, "vizrun", json::object());
  r.vizrun = {read<std::string>(v, "version"),         read<std::string>(v, "git_revision"),
              read<std::string>(v, "sdk_version"),     read<std::string>(v, "libtorch"),
              read<std::string>(v, "build_fingerprint"), read<std::string>(v, "compiler"),
              read<std::string>(v, "build_type")};
  for (const auto& p : array_of(m, "plugins")) r.plugins.push_back(plugin_from(p));
  for (const auto& i : array_of(m, "inputs")) r.inputs.push_back({read<std::string>(i, "path"), read<std::string>(i, "sha256")});
  if (m.contains("model") && m["model"].is_object()) r.model = model_from(m["model"]);
  for (const auto& t : array_of(m, "techniques")) r.techniques.push_back(technique_from(t));
  r.extra = unknown_keys(m, {"manifest_version", "status", "experiment", "error", "started_utc", "finished_utc",
                             "vizrun", "environment", "seed", "config_file", "overrides", "config", "config_sha256",
                             "plugins", "inputs", "model", "techniques", "sweep"});
  return r;
}

std::vector<const OutputRecord*> RunRecord::all_outputs() const {
  std::vector<const OutputRecord*> all;
  for (const auto& t : techniques) {
    for (const auto& o : t.outputs) all.push_back(&o);
  }
  return all;
}

}  // namespace vizrun::host
