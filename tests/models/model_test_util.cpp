#include "model_test_util.h"

#include <dlfcn.h>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "vizrun/error.h"

namespace fs = std::filesystem;

namespace vizrun::models::testing {

SimpleHost::SimpleHost(std::string base) : cache(temp_dir("cache")), m_base(std::move(base)) {}

std::string SimpleHost::resolve_path(const std::string& path) const {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(m_base) / path).lexically_normal().string();
}

std::vector<std::string> SimpleHost::expand_inputs(const std::vector<std::string>& patterns) const {
  return patterns;
}

at::Tensor SimpleHost::load_image(const std::string& path) const {
  throw Error("SimpleHost cannot decode images ('" + path + "')");
}

Value SimpleHost::read_config(const std::string& path) const { return value_from_yaml_file(resolve_path(path)); }

void SimpleHost::log(LogLevel, const std::string& message) const { logs.push_back(message); }

void SimpleHost::progress(const std::string&, std::size_t done, std::size_t total) const {
  ++progress_calls;
  last_done = done;
  last_total = total;
}

void SimpleHost::check_stop() const {
  if (stop) throw Interrupted();
}

ScopedEnv::ScopedEnv(std::string name, const std::string& value) : m_name(std::move(name)) {
  if (const char* old = std::getenv(m_name.c_str())) m_old = old;
  ::setenv(m_name.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (m_old) ::setenv(m_name.c_str(), m_old->c_str(), 1);
  else ::unsetenv(m_name.c_str());
}

std::string temp_dir(const std::string& tag) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("vizrun-models-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  static struct Cleanup {
    std::vector<fs::path> dirs;
    ~Cleanup() {
      std::error_code ec;
      for (auto& d : dirs) fs::remove_all(d, ec);
    }
  } cleanup;
  cleanup.dirs.push_back(dir);
  return dir.string();
}

Value value_from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return Value(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      List l;
      for (const auto& e : j) l.push_back(value_from_json(e));
      return Value(l);
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d[it.key()] = value_from_json(it.value());
      return Value(d);
    }
    default: return Value();
  }
}

namespace {

Value from_yaml(const YAML::Node& n) {
  if (n.IsMap()) {
    Dict d;
    for (const auto& kv : n) d[kv.first.as<std::string>()] = from_yaml(kv.second);
    return Value(d);
  }
  if (n.IsSequence()) {
    List l;
    for (const auto& e : n) l.push_back(from_yaml(e));
    return Value(l);
  }
  if (n.IsNull()) return Value();
  std::int64_t i;
  double x;
  bool b;
  if (YAML::convert<std::int64_t>::decode(n, i)) return Value(i);
  if (YAML::convert<double>::decode(n, x)) return Value(x);
  if (YAML::convert<bool>::decode(n, b)) return Value(b);
  return Value(n.as<std::string>());
}

}  // namespace

Value value_from_yaml_file(const std::string& path) {
  try {
    return from_yaml(YAML::LoadFile(path));
  } catch (const YAML::Exception& e) {
    throw Error("cannot read '" + path + "': " + e.what());
  }
}

namespace {

const VizrunPluginInfo* plugin_info(const std::string& plugin) {
  static std::mutex mutex;
  static std::map<std::string, const VizrunPluginInfo*> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = loaded.find(plugin);
  if (it != loaded.end()) return it->second;
  std::string path = std::string(VIZRUN_MODELS_PLUGIN_DIR) + "/" + plugin + VIZRUN_PLUGIN_SUFFIX;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // never closed: objects may outlive lookups
  if (!handle) throw Error(std::string("cannot load ") + path + ": " + ::dlerror());
  auto entry = reinterpret_cast<VizrunPluginEntry>(::dlsym(handle, VIZRUN_PLUGIN_ENTRY_SYMBOL));
  if (!entry) throw Error(path + " has no entry point");
  const VizrunPluginInfo* info = entry();
  loaded[plugin] = info;
  return info;
}

}  // namespace

nlohmann::json plugin_schema(const std::string& plugin) {
  return nlohmann::json::parse(plugin_info(plugin)->options_schema);
}

std::shared_ptr<ModelBackend> create_model(const std::string& plugin, const Value& options,
                                           const std::string& weights, const Host* host, std::uint64_t seed,
                                           c10::Device device) {
  const VizrunPluginInfo* info = plugin_info(plugin);
  nlohmann::json schema = nlohmann::json::parse(info->options_schema);
  Dict filled = options.is_dict() ? options.as_dict() : Dict{};
  for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it)
    if (!filled.count(it.key()) && it.value().contains("default")) filled[it.key()] = value_from_json(it.value()["default"]);
  CreateArgs args;
  args.options = Value(filled);
  args.host = host;
  args.seed = seed;
  args.weights = weights;
  args.device = device;
  char error[4096] = {0};
  void* object = info->create(&args, error, sizeof error);
  if (!object) throw Error(error);
  auto* model = static_cast<ModelBackend*>(object);
  return std::shared_ptr<ModelBackend>(model, [info](ModelBackend* m) { info->destroy(m, info->kind); });
}

std::vector<float> formula(int p, const Shape& shape, const std::string& role) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<float> out(static_cast<std::size_t>(n));
  const std::uint64_t offset = static_cast<std::uint64_t>(p + 1) * 97531u;
  double scale = 0;
  if (role == "kernel") scale = 2.0 * std::sqrt(3.0) * std::sqrt(2.0 / static_cast<double>(n / shape.back()));
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t v = (static_cast<std::uint64_t>(i) * 2654435761u + offset) & 0xFFFFFFFFu;
    double u = static_cast<double>(v) / 4294967296.0;
    double x;
    if (role == "kernel") x = (u - 0.5) * scale;
    else if (role == "bias" || role == "beta" || role == "moving_mean") x = (u - 0.5) * 0.2;
    else if (role == "gamma") x = 1.0 + (u - 0.5) * 0.2;
    else if (role == "moving_variance") x = 1.0 + u * 0.5;
    else throw Error("formula: unknown role " + role);
    out[static_cast<std::size_t>(i)] = static_cast<float>(x);
  }
  return out;
}

at::Tensor formula_pixels(std::int64_t height, std::int64_t width) {
  const std::int64_t n = height * width * 3;
  at::Tensor t = torch::empty({1, height, width, 3}, torch::kFloat32);
  float* d = t.data_ptr<float>();
  const std::uint64_t offset = static_cast<std::uint64_t>(1000003 + 1) * 97531u;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint64_t v = (static_cast<std::uint64_t>(i) * 2654435761u + offset) & 0xFFFFFFFFu;
    d[i] = static_cast<float>(std::floor(static_cast<double>(v) / 4294967296.0 * 256.0));
  }
  return t.permute({0, 3, 1, 2}).contiguous();
}

std::vector<H5OutLayer> layout_with_formula(const nlohmann::json& layout, bool keras1_names) {
  std::vector<H5OutLayer> layers;
  int p = 0;
  for (const auto& name_json : layout["layer_names"]) {
    std::string name = name_json.get<std::string>();
    const auto& entry = layout["layers"][name];
    H5OutLayer layer;
    layer.name = name;
    const auto& names = entry["weight_names"];
    for (std::size_t k = 0; k < names.size(); ++k) {
      std::string wname = names[k].get<std::string>();
      std::string role = wname.substr(wname.find_last_of('/') + 1);
      if (role.size() > 2 && role.compare(role.size() - 2, 2, ":0") == 0) role.resize(role.size() - 2);
      H5OutWeight w;
      w.shape = entry["shapes"][k].get<Shape>();
      if (keras1_names) {
        std::string v = role == "kernel" ? "W" : role == "bias" ? "b" : role;
        wname = name + "_" + v + "_1:0";
      }
      w.name = wname;
      int index = p++;
      Shape shape = w.shape;
      w.fill = [index, shape, role](float* dst) {
        auto v = formula(index, shape, role);
        std::copy(v.begin(), v.end(), dst);
      };
      layer.weights.push_back(std::move(w));
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

std::string fixture_path(const std::string& name) { return std::string(VIZRUN_MODELS_FIXTURE_DIR) + "/" + name; }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read fixture " + path);
  return nlohmann::json::parse(in);
}

double relative_error(const nlohmann::json& layer, const at::Tensor& ours) {
  at::Tensor t = ours.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  Shape want = layer["shape"].get<Shape>();
  Shape have(t.sizes().begin() + 1, t.sizes().end());
  if (want != have) throw Error("shape " + shape_string(have) + " differs from the oracle's " + shape_string(want));
  const double* d = t.data_ptr<double>();
  const auto stride = layer["stride"].get<std::int64_t>();
  const auto& values = layer["values"];
  double worst = 0;
  for (std::size_t k = 0; k < values.size(); ++k)
    worst = std::max(worst, std::abs(d[static_cast<std::int64_t>(k) * stride] - values[k].get<double>()));
  return worst / std::max(layer["absmax"].get<double>(), 1e-12);
}

}  // namespace vizrun::models::testing
