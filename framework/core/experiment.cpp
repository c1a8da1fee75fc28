#include "vizrun_host/experiment.h"

#include <filesystem>
#include <set>
#include <thread>

#include "vizrun/host.h"
#include "vizrun/option_check.h"
#include "vizrun_host/embedded.h"
#include "vizrun_host/schema.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vizrun::host {
namespace {

std::string resolve_against(const std::string& base, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base) / path).lexically_normal().string();
}

void check_against(const ConfigTree& tree, const json& document, const json& schema, const std::string& prefix) {
  if (auto violation = check(document, schema, prefix)) {
    tree.fail(violation->pointer, violation->message, violation->at_key);
  }
}

std::string default_name(const ConfigTree& tree) {
  std::string stem = fs::path(tree.file).stem().string();
  std::string name;
  for (char c : stem) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return name.empty() || name[0] == '.' || name[0] == '<' ? "experiment" : name;
}

}  // namespace

const json& experiment_schema() {
  static const json schema = parse_schema(embedded::experiment_schema, "schemas/experiment.schema.json");
  return schema;
}

Experiment resolve_experiment(ConfigTree tree) {
  json& root = tree.root;
  fill_defaults(root, experiment_schema());
  check_against(tree, root, experiment_schema(), "");

  Experiment e;
  if (!root.contains("experiment")) root["experiment"] = default_name(tree);
  e.name = root["experiment"];
  e.seed = root["seed"].get<std::uint64_t>();
  e.device = root["device"];
  e.precision = root["precision"];
  // threads: 100000 would start that many threads; bound it by this machine.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::int64_t max_threads = 4 * static_cast<std::int64_t>(cores);
  if (root["threads"].get<double>() > static_cast<double>(max_threads)) {
    tree.fail("/threads", "expected at most " + std::to_string(max_threads) + " threads (4 x the " +
                              std::to_string(cores) + " cores of this machine; 0 uses every core), got " +
                              root["threads"].dump());
  }
  e.threads = root["threads"];
  e.max_image_pixels = root["max_image_pixels"];
  e.deterministic = root["deterministic"];
  e.stall_timeout = root["stall_timeout"];
  // Run folders belong to whoever runs vizrun, not beside the config: an installed
  // config (the built-in demo) lives in a read-only share/ folder.
  e.output = fs::absolute(root["output"].get<std::string>()).lexically_normal().string();
  for (const auto& p : root["plugin_path"]) e.plugin_path.push_back(resolve_against(tree.base_dir, p));
  e.weights = root["model"]["weights"];
  e.model = PluginUse{root["model"]["plugin"], "model", root["model"]["options"], "/model"};

  std::set<std::string> explicit_ids;
  for (std::size_t i = 0; i < root["techniques"].size(); ++i) {
    const json& t = root["techniques"][i];
    if (t.contains("id") && !explicit_ids.insert(t["id"].get<std::string>()).second) {
      tree.fail("/techniques/" + std::to_string(i) + "/id", "duplicate technique id '" + t["id"].get<std::string>() + "'");
    }
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < root["techniques"].size(); ++i) {
    json& t = root["techniques"][i];
    std::string id = t.value("id", std::string());
    if (id.empty()) {
      // The same plugin twice without ids: gradcam, gradcam_2, ...
      const std::string base = t["plugin"];
      id = base;
      for (int n = 2; ids.count(id) || explicit_ids.count(id); ++n) id = base + "_" + std::to_string(n);
      t["id"] = id;
    }
    ids.insert(id);
    e.techniques.push_back(PluginUse{t["plugin"], id, t["options"], "/techniques/" + std::to_string(i)});
  }
  e.tree = std::move(tree);
  return e;
}

std::vector<std::string> plugin_directories(const Experiment& experiment) {
  return PluginRegistry::default_directories(experiment.plugin_path);
}

void validate_plugins(Experiment& e, const PluginRegistry& registry) {
  auto validate_one = [&](PluginUse& use, const std::string& kind) {
    const PluginDescriptor* descriptor = nullptr;
    try {
      descriptor = &registry.find(use.plugin, kind);
    } catch (const Error& error) {
      e.tree.fail(use.pointer + "/plugin", error.what());
    }
    const json schema = parse_schema(descriptor->options_schema, descriptor->file);
    fill_defaults(use.options, schema);
    check_against(e.tree, use.options, schema, use.pointer + "/options");
    // Keep the resolved tree in step: config.yaml records the options as run.
    e.tree.root[json::json_pointer(use.pointer)]["options"] = use.options;
  };
  validate_one(e.model, "model");
  for (auto& t : e.techniques) validate_one(t, "technique");
}

namespace {

/// The host a deep option check sees: paths and config files, nothing of a run.
class CheckHost final : public Host {
 public:
  explicit CheckHost(std::string base) : m_base(std::move(base)) {}
  std::string resolve_path(const std::string& path) const override { return resolve_against(m_base, path); }
  std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) const override {
    std::vector<std::string> out;
    for (const auto& p : patterns) out.push_back(resolve_path(p));
    return out;
  }
  at::Tensor load_image(const std::string& path) const override {
    throw Error("check_options: images cannot be read while validating (" + path + ")");
  }
  Value read_config(const std::string& path) const override { return read_config_value(resolve_path(path)); }
  std::string cache_dir() const override { return ""; }
  void log(LogLevel, const std::string&) const override {}
  void progress(const std::string&, std::size_t, std::size_t) const override {}
  void check_stop() const override {}

 private:
  std::string m_base;
};

}  // namespace

void check_plugin_options(const Experiment& e, const PluginRegistry& registry) {
  const CheckHost host(e.tree.base_dir);
  auto check_one = [&](const PluginUse& use, const std::string& kind) {
    CreateArgs args{to_value(use.options), &host, c10::Device(c10::kCPU), e.precision, e.seed,
                    kind == "model" ? e.weights : std::string()};
    OptionProblem problem;
    if (!registry.check_options(use.plugin, kind, args, problem)) return;
    if (problem.file.empty()) e.tree.fail(use.pointer + "/options" + problem.pointer, problem.message);
    const std::string path = host.resolve_path(problem.file);
    ConfigTree file;
    try {
      file = load_config_file(path);
    } catch (const ConfigError&) {
      // Unreadable as a whole: point at the option that names it.
      e.tree.fail(use.pointer + "/options", problem.message);
    }
    file.fail(problem.pointer, problem.message);
  };
  check_one(e.model, "model");
  for (const auto& t : e.techniques) check_one(t, "technique");
}

Value to_value(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return Value();
    case json::value_t::boolean: return Value(j.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return Value(j.get<std::int64_t>());
    case json::value_t::number_float: return Value(j.get<double>());
    case json::value_t::string: return Value(j.get<std::string>());
    case json::value_t::array: {
      List list;
      for (const auto& item : j) list.push_back(to_value(item));
      return Value(std::move(list));
    }
    default: {
      Dict dict;
      for (auto it = j.begin(); it != j.end(); ++it) dict[it.key()] = to_value(it.value());
      return Value(std::move(dict));
    }
  }
}

json to_json(const Value& v) {
  if (v.is_null()) return nullptr;
  if (v.is_bool()) return v.as_bool();
  if (v.is_int()) return v.as_int();
  if (v.is_number()) return v.as_double();
  if (v.is_string()) return v.as_string();
  if (v.is_list()) {
    json list = json::array();
    for (const auto& item : v.as_list()) list.push_back(to_json(item));
    return list;
  }
  json object = json::object();
  for (const auto& [key, item] : v.as_dict()) object[key] = to_json(item);
  return object;
}

}  // namespace vizrun::host
