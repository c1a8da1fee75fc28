#include "vizrun_host/runner.h"

#include <glob.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cxxabi.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "vizrun/plugin.h"
#include "vizrun_host/build_info.h"
#include "vizrun_host/config.h"
#include "vizrun_host/files.h"
#include "vizrun_host/image_io.h"
#include "vizrun_host/manifest.h"
#include "vizrun_host/progress.h"
#include "vizrun_host/report.h"
#include "vizrun_host/supervisor.h"
#include "vizrun_host/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vizrun::host {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_forward_pid{0};  // a supervised worker, while one runs
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "used from a signal handler");

extern "C" void on_stop_signal(int signal_number) {
  g_stop.store(true);
  if (const int pid = g_forward_pid.load(); pid > 0) ::kill(pid, signal_number);
}

/// The message for an exception that is not a std::exception (thrown by plugin code).
std::string foreign_exception(const std::string& who) {
  const std::type_info* type = abi::__cxa_current_exception_type();
  std::string name = type ? type->name() : "unknown";
  int status = 0;
  if (type) {
    if (char* readable = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status)) {
      if (status == 0) name = readable;
      std::free(readable);
    }
  }
  return who + " threw an exception of type '" + name + "', which is not a std::exception";
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Cores this process may run on: the affinity mask a scheduler (SLURM, taskset,
/// a container) gave it, not the machine's total.
int usable_cores() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string default_cache_dir() {
  if (const char* v = std::getenv("VIZRUN_CACHE"); v && *v) return v;
  if (const char* v = std::getenv("XDG_CACHE_HOME"); v && *v) return std::string(v) + "/vizrun";
  if (const char* v = std::getenv("HOME"); v && *v) return std::string(v) + "/.cache/vizrun";
  return (fs::temp_directory_path() / "vizrun-cache").string();
}

/// Log lines go to the run's vizrun.log and, by level, to stderr.
class Logger {
 public:
  Logger(ProgressReporter& progress, bool quiet, bool verbose) : m_progress(progress), m_quiet(quiet), m_verbose(verbose) {}
  void open(const std::string& path) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_file.open(path, std::ios::app);
  }
  void write(LogLevel level, const std::string& message) {
    static const char* names[] = {"debug", "info", "warning"};
    const std::string line = std::string(names[static_cast<int>(level)]) + ": " + message;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (m_file) m_file << utc_timestamp_iso() << " " << line << std::endl;
    }
    const bool show = level == LogLevel::warning ? !m_quiet : level == LogLevel::info ? !m_quiet : m_verbose;
    if (show) m_progress.message("vizrun: " + line);
  }
  void error(const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (m_file) m_file << utc_timestamp_iso() << " error: " << message << std::endl;
    }
    m_progress.message("vizrun: error: " + message);
  }

 private:
  ProgressReporter& m_progress;
  bool m_quiet, m_verbose;
  std::mutex m_mutex;
  std::ofstream m_file;
};

/// File name extensions taken as pictures when an input names a folder.
const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"};
  return kExtensions;
}

/// Every picture directly inside `folder` (not in subfolders, not hidden), sorted by name.
std::vector<std::string> images_in_folder(const std::string& folder) {
  std::vector<std::string> images;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name.front() == '.') continue;
    if (std::find(image_extensions().begin(), image_extensions().end(), ext) != image_extensions().end()) {
      images.push_back(entry.path().lexically_normal().string());
    }
  }
  std::sort(images.begin(), images.end());
  return images;
}

/// The runner's side of vizrun::Host.
class RunHost final : public Host {
 public:
  RunHost(std::string base_dir, Logger& logger, ProgressReporter& progress, Manifest& manifest)
      : m_base(std::move(base_dir)), m_logger(logger), m_progress(progress), m_manifest(manifest),
        m_cache(default_cache_dir()) {}

  std::string resolve_path(const std::string& path) const override {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    return (fs::path(m_base) / path).lexically_normal().string();
  }

  std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) const override {
    std::vector<std::string> files;
    for (const auto& pattern : patterns) {
      const std::string full = resolve_path(pattern);
      if (fs::is_directory(full)) {
        const auto images = images_in_folder(full);
        if (images.empty()) {
          throw Error("input '" + pattern + "' is a folder with no image file (looked for " + join(image_extensions(), ", ") + " in " + full + ")");
        }
        files.insert(files.end(), images.begin(), images.end());
        continue;
      }
      glob_t g{};
      int rc = ::glob(full.c_str(), GLOB_ERR | GLOB_NOCHECK, nullptr, &g);
      std::vector<std::string> matches;
      for (std::size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
      ::globfree(&g);
      std::sort(matches.begin(), matches.end());
      bool any = false;
      for (const auto& m : matches) {
        if (fs::is_regular_file(m)) {
          files.push_back(m);
          any = true;
        }
      }
      if (!any) throw Error("input '" + pattern + "' matches no file (looked for " + full + ")");
    }
    return files;
  }

  at::Tensor load_image(const std::string& path) const override {
    const std::string full = resolve_path(path);
    at::Tensor image = read_image(full, m_max_image_pixels);
    record_input(full);
    return image;
  }

  Value read_config(const std::string& path) const override {
    const std::string full = resolve_path(path);
    Value value = read_config_value(full);
    record_input(full);
    return value;
  }

  std::string cache_dir() const override { return m_cache; }
  void set_max_image_pixels(std::int64_t pixels) { m_max_image_pixels = pixels; }
  void log(LogLevel level, const std::string& message) const override { m_logger.write(level, message); }
  void expect_stages(std::size_t count) const override { m_progress.expect_stages(count); }

  void progress(const std::string& stage, std::size_t done, std::size_t total) const override {
    worker::set_stage(stage);
    m_progress.update(stage, done, total);
  }
  void check_stop() const override {
    if (g_stop.load()) throw Interrupted();
  }

  void record_input(const std::string& path) const {
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      if (!m_inputs.insert(path).second) return;
    }
    const std::string digest = sha256_file(path);
    m_manifest.edit([&](json& m) { m["inputs"].push_back({{"path", path}, {"sha256", digest}}); });
  }

 private:
  std::string m_base;
  Logger& m_logger;
  ProgressReporter& m_progress;
  Manifest& m_manifest;
  std::string m_cache;
  std::int64_t m_max_image_pixels = 100'000'000;
  mutable std::mutex m_mutex;
  mutable std::set<std::string> m_inputs;
};

/// The runner's side of vizrun::Output for one technique: files land in the
/// technique's folder under sanitised names and are listed in the manifest.
class TechniqueOutput final : public Output {
 public:
  /// `write_error` is set when writing to the run folder fails, whatever the
  /// plugin then does with the exception.
  TechniqueOutput(std::string run_dir, std::string technique_id, std::size_t index, Manifest& manifest,
                  const RunHost& host, std::string& write_error)
      : m_run_dir(std::move(run_dir)), m_id(std::move(technique_id)), m_index(index), m_manifest(manifest),
        m_host(host), m_write_error(write_error) {}

  void image(const std::string& name, const at::Tensor& hwc_uint8, const Dict& meta) override {
    const std::string relative = claim(name, ".png");
    writing([&] { write_png(m_run_dir + "/" + relative, hwc_uint8); });
    record_file(relative, "image", meta);
  }

  void array(const std::string& name, const at::Tensor& values, const Dict& meta) override {
    const std::string relative = claim(name, ".npy");
    const std::string bytes = encode_npy(values);
    writing([&] { write_file_atomic(m_run_dir + "/" + relative, bytes); });
    record_file(relative, "array", meta);
  }

  void record(const std::string& key, const Value& value) override {
    m_host.check_stop();
    m_manifest.edit([&](json& m) { m["techniques"][m_index]["records"][key] = to_json(value); });
    writing([&] { m_manifest.save_soon(); });
  }

  std::size_t files_written() const { return m_names.size(); }

 private:
  std::string claim(const std::string& name, const std::string& extension) {
    m_host.check_stop();
    const std::string relative = m_id + "/" + safe_relative_path(name) + extension;
    if (!m_names.insert(relative).second) {
      throw Error("technique '" + m_id + "' wrote two outputs named '" + relative + "'");
    }
    return relative;
  }

  template <class F>
  void writing(F&& write) {
    try {
      write();
    } catch (const WriteError& e) {
      if (m_write_error.empty()) m_write_error = e.what();
      throw;
    }
  }

  void record_file(const std::string& relative, const char* kind, const Dict& meta) {
    const std::string digest = sha256_file(m_run_dir + "/" + relative);
    m_manifest.edit([&](json& m) {
      m["techniques"][m_index]["outputs"].push_back(
          {{"path", relative}, {"kind", kind}, {"sha256", digest}, {"meta", to_json(Value(meta))}});
    });
    writing([&] { m_manifest.save_soon(); });
  }

  std::string m_run_dir;
  std::string m_id;
  std::size_t m_index;
  Manifest& m_manifest;
  const RunHost& m_host;
  std::string& m_write_error;
  std::set<std::string> m_names;
};

std::string make_run_dir(const Experiment& e, const RunSettings& settings) {
  if (!settings.run_dir.empty()) {
    fs::path dir(settings.run_dir);
    std::error_code ec;
    if (fs::exists(dir) && !fs::is_empty(dir, ec)) {
      throw ConfigError("--out " + settings.run_dir + ": folder exists and is not empty; choose a new folder");
    }
    fs::create_directories(dir);
    return fs::absolute(dir).lexically_normal().string();
  }
  const fs::path parent = fs::path(e.output) / e.name;
  fs::create_directories(parent);
  const std::string stamp = utc_timestamp_compact();
  for (int n = 1;; ++n) {
    fs::path dir = parent / (n == 1 ? stamp : stamp + "-" + std::to_string(n));
    std::error_code ec;
    if (fs::create_directory(dir, ec)) return fs::absolute(dir).lexically_normal().string();  // atomic claim
    if (ec) throw Error("cannot create run folder " + dir.string() + ": " + ec.message());
  }
}

json plugin_entry(const PluginDescriptor& d) {
  return {{"name", d.name},       {"kind", d.kind},        {"version", d.version},
          {"sdk_version", d.sdk_version}, {"file", d.file}, {"sha256", sha256_file(d.file)},
          {"fingerprint", d.fingerprint}};
}

json layer_table(const ModelBackend& model) {
  json layers = json::array();
  for (const auto& l : model.layers()) layers.push_back({{"name", l.name}, {"type", l.type}, {"shape", l.shape}});
  return layers;
}

json initial_manifest(const Experiment& e, const RunSettings& s, const std::string& device,
                      int threads) {
  const std::string config_text = to_yaml(e.tree.root);
  return {
      {"manifest_version", 1},
      {"status", "running"},
      {"experiment", e.name},
      {"started_utc", utc_timestamp_iso()},
      {"vizrun",
       {{"version", build::version},
        {"git_revision", build::git_revision},
        {"sdk_version", std::to_string(VIZRUN_SDK_VERSION_MAJOR) + "." + std::to_string(VIZRUN_SDK_VERSION_MINOR)},
        {"libtorch", TORCH_VERSION},
        {"build_fingerprint", build::fingerprint},
        {"compiler", build::compiler},
        {"build_type", build::build_type}}},
      {"environment", {{"device", device}, {"threads", threads}, {"precision", e.precision}, {"command_line", s.command_line}}},
      {"seed", e.seed},
      {"config_file", e.tree.file},
      {"overrides", s.overrides},
      {"config", e.tree.root},
      {"config_sha256", sha256_hex(config_text)},
      {"plugins", json::array()},
      {"inputs", json::array()},
      {"techniques", json::array()},
      {"sweep", s.sweep},
  };
}

}  // namespace

std::string one_line_error(const std::exception& error) {
  if (dynamic_cast<const std::bad_alloc*>(&error)) {
    return "out of memory (std::bad_alloc): an option asks for more memory than this machine has";
  }
  // LibTorch's errors carry a C++ backtrace of 20-odd lines after the message.
  std::string text = error.what();
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) text = c10_error->what_without_backtrace();
  std::string line;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      if (!line.empty() && line.back() != ' ') line += ' ';
    } else {
      line += c;
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line.empty() ? std::string("unknown error") : line;
}

std::string resolve_device(const std::string& requested) {
  if (requested == "cpu") return "cpu";
  const bool cuda = torch::cuda::is_available();
  if (requested == "cuda" && !cuda) {
    throw ConfigError("device: cuda was requested but no usable CUDA device was found (" +
                      std::string(torch::cuda::device_count() == 0 ? "no CUDA devices visible to LibTorch" : "CUDA unavailable") +
                      "); use --device cpu or auto");
  }
  return cuda ? "cuda" : "cpu";
}

void forward_stop_signals_to(int pid) { g_forward_pid.store(pid); }

void install_stop_handlers() {
  struct sigaction action{};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}
bool stop_requested() { return g_stop.load(); }
void request_stop() { g_stop.store(true); }
void reset_stop() { g_stop.store(false); }

RunResult run_experiment(const Experiment& e, const PluginRegistry& registry, const RunSettings& settings) {
  const char* in_process = std::getenv("VIZRUN_IN_PROCESS");
  if (!settings.supervised || (in_process && std::string(in_process) == "1")) {
    return run_experiment_in_process(e, registry, settings);
  }
  return run_supervised(e, registry, settings);
}

RunResult run_experiment_in_process(const Experiment& e, const PluginRegistry& registry, const RunSettings& settings) {
  const std::string device = resolve_device(e.device);
  const int threads = e.threads > 0 ? e.threads : usable_cores();
  const std::string run_dir = make_run_dir(e, settings);
  worker::set_run_dir(run_dir);

  ProgressReporter progress(ProgressReporter::mode_for(stderr, settings.quiet));
  Logger logger(progress, settings.quiet, settings.verbose);
  logger.open(run_dir + "/vizrun.log");
  Manifest manifest(run_dir + "/manifest.json");
  manifest.edit([&](json& m) { m = initial_manifest(e, settings, device, threads); });
  write_file_atomic(run_dir + "/config.yaml", to_yaml(e.tree.root));
  manifest.save();
  // Room to record the end of a run that fills the disk.
  manifest.reserve_space(std::size_t{1} << 20);
  logger.write(LogLevel::info, "run folder " + run_dir);

  // Same config, weights, device and thread count: bit-identical outputs.
  torch::set_num_threads(threads);
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  RunHost host(e.tree.base_dir, logger, progress, manifest);
  host.set_max_image_pixels(e.max_image_pixels);

  std::shared_ptr<ModelBackend> model;
  RunResult result{run_dir, "complete", 0};
  auto finish = [&](const std::string& status, const std::string& error) {
    progress.finish();
    if (model) {
      // The model's code runs one last time here, while the run is still "running".
      worker::set_activity("model", e.model.plugin, "", "unloading");
      model.reset();
      worker::set_activity("", "", "", "finishing");
    }
    result.status = status;
    result.exit_code = status == "complete" ? 0 : 1;
    manifest.edit([&](json& m) {
      m["status"] = status;
      if (!error.empty()) m["error"] = error;
      m["finished_utc"] = utc_timestamp_iso();
    });
    manifest.save();
    manifest.release_reserve();
    try {
      write_file_atomic(run_dir + "/index.html", render_run_report(manifest.snapshot()));
    } catch (const std::exception& ex) {
      logger.write(LogLevel::warning, std::string("could not write index.html: ") + ex.what());
    }
    logger.write(LogLevel::info, "run " + status + ": " + run_dir);
    return result;
  };

  const auto model_start = Clock::now();
  const std::string model_who = "model plugin '" + e.model.plugin + "'";
  try {
    torch::manual_seed(e.seed);
    CreateArgs args{to_value(e.model.options), &host, c10::Device(device), e.precision, e.seed, e.weights};
    progress.set_task("model " + e.model.plugin);
    worker::set_activity("model", e.model.plugin, "", "loading");
    model = registry.create_model(e.model.plugin, args);
    const WeightsInfo w = model->weights_info();
    const json plugin = plugin_entry(registry.find(e.model.plugin, "model"));
    manifest.edit([&](json& m) {
      m["plugins"].push_back(plugin);
      m["model"] = {{"plugin", e.model.plugin},
                    {"parameters", model->parameter_count()},
                    {"weights", {{"source", w.source}, {"file", w.file}, {"sha256", w.sha256}, {"skipped", w.skipped}}},
                    {"layers", layer_table(*model)},
                    {"load_seconds", seconds_since(model_start)}};
    });
    manifest.save();
  } catch (const Interrupted&) {
    return finish("interrupted", "interrupted while loading the model");
  } catch (const std::exception& ex) {
    logger.error(one_line_error(ex));
    return finish("failed", "model: " + one_line_error(ex));
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (...) {
    const std::string error = foreign_exception(model_who);
    logger.error(error);
    return finish("failed", "model: " + error);
  }

  std::vector<std::string> failures;
  progress.begin_run(e.techniques.size());
  for (std::size_t i = 0; i < e.techniques.size(); ++i) {
    const PluginUse& use = e.techniques[i];
    manifest.edit([&](json& m) {
      m["techniques"].push_back({{"id", use.id}, {"plugin", use.plugin}, {"status", "running"},
                                 {"options", use.options}, {"outputs", json::array()}, {"records", json::object()}});
      m["plugins"].push_back(plugin_entry(registry.find(use.plugin, "technique")));
    });
    // Saved before the plugin's code runs: a crash report can name it.
    manifest.save();
    worker::set_activity("technique", use.plugin, use.id, "starting");
    progress.set_task(use.id);
    progress.begin_technique(i);
    const auto start = Clock::now();
    std::string status = "complete", error;
    std::string write_error;
    const std::string who = "technique plugin '" + use.plugin + "'";
    try {
      torch::manual_seed(e.seed);
      CreateArgs args{to_value(use.options), &host, c10::Device(device), e.precision, e.seed, ""};
      std::shared_ptr<Technique> technique = registry.create_technique(use.plugin, args);
      TechniqueOutput output(run_dir, use.id, i, manifest, host, write_error);
      worker::set_stage("running");
      technique->run(*model, output);
      worker::set_stage("unloading");
      technique.reset();
      logger.write(LogLevel::info, use.id + ": " + std::to_string(output.files_written()) + " files in " +
                                       ProgressReporter::format_duration(seconds_since(start)));
    } catch (const Interrupted&) {
      status = "interrupted";
    } catch (const std::exception& ex) {
      status = "failed";
      error = one_line_error(ex);
    } catch (abi::__forced_unwind&) {
      throw;
    } catch (...) {
      status = "failed";
      error = foreign_exception(who);
    }
    if (!write_error.empty() && status == "complete") {
      status = "failed";
      error = who + " went on after an output could not be written: " + write_error;
    }
    if (status == "failed") {
      logger.error(use.id + ": " + error);
      failures.push_back(use.id + ": " + error);
    }
    worker::set_activity("", "", "", "recording " + use.id);
    progress.finish();
    manifest.edit([&](json& m) {
      json& t = m["techniques"][i];
      t["status"] = status;
      t["wall_seconds"] = seconds_since(start);
      if (!error.empty()) t["error"] = error;
    });
    manifest.save();
    if (status == "interrupted") return finish("interrupted", "interrupted during " + use.id);
    // The run folder cannot be written (disk full, quota, size limit): every later
    // technique would fail the same way.
    if (!write_error.empty() && status == "failed") {
      return finish("failed", failures.back() + (i + 1 < e.techniques.size() ? "; the techniques after it were not run" : ""));
    }
  }
  return finish(failures.empty() ? "complete" : "failed", failures.empty() ? "" : failures.front());
}

}  // namespace vizrun::host
