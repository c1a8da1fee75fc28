#include "vizrun_host/runner.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cxxabi.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "vizrun/plugin.h"
#include "vizrun_host/build_info.h"
#include "vizrun_host/config.h"
#include "vizrun_host/determinism.h"
#include "vizrun_host/device_info.h"
#include "vizrun_host/files.h"
#include "vizrun_host/logger.h"
#include "vizrun_host/manifest.h"
#include "vizrun_host/precision.h"
#include "vizrun_host/progress.h"
#include "vizrun_host/report.h"
#include "vizrun_host/run_host.h"
#include "vizrun_host/supervisor.h"
#include "vizrun_host/technique_output.h"

namespace fs = std::filesystem;

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

PluginRecord plugin_record(const PluginDescriptor& d) {
  return {d.name, d.kind, d.version, d.sdk_version, d.file, sha256_file(d.file), d.fingerprint};
}

ModelRecord model_record(const std::string& plugin, const ModelBackend& model, double load_seconds) {
  const WeightsInfo w = model.weights_info();
  ModelRecord record{plugin, model.parameter_count(), {w.source, w.file, w.sha256, w.skipped}, {}, load_seconds};
  for (const auto& l : model.layers()) record.layers.push_back({l.name, l.type, l.shape});
  return record;
}

/// What the manifest says before anything runs.
RunRecord initial_record(const Experiment& e, const RunSettings& s, const std::string& device, int threads,
                         const PrecisionChoice& precision) {
  RunRecord r;
  r.experiment = e.name;
  r.started_utc = utc_timestamp_iso();
  r.vizrun = {build::version, build::git_revision,
              std::to_string(VIZRUN_SDK_VERSION_MAJOR) + "." + std::to_string(VIZRUN_SDK_VERSION_MINOR),
              TORCH_VERSION, build::fingerprint, build::compiler, build::build_type};
  r.environment = {device, threads, e.precision, s.command_line,
                   {{"used", precision.precision}, {"reason", precision.reason}, {"measurement", precision.measurement}}};
  r.environment.torch = torch_build_info();
  r.environment.device_info = device_info(device);
  r.environment.deterministic = e.deterministic;
  r.seed = e.seed;
  r.config_file = e.tree.file;
  r.overrides = s.overrides;
  r.config = e.tree.root;
  r.config_sha256 = sha256_hex(to_yaml(e.tree.root));
  r.sweep = s.sweep;
  return r;
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
  if (requested == "auto") return cuda ? "cuda" : "cpu";
  if (!cuda) {
    throw ConfigError("device: " + requested + " was requested but no usable CUDA device was found (" +
                      std::string(torch::cuda::device_count() == 0 ? "no CUDA devices visible to LibTorch" : "CUDA unavailable") +
                      "); use --device cpu or auto");
  }
  if (requested.rfind("cuda:", 0) == 0) {
    const long index = std::strtol(requested.c_str() + 5, nullptr, 10);
    const long count = static_cast<long>(torch::cuda::device_count());
    if (index >= count) {
      throw ConfigError("device: " + requested + " does not exist: " + std::to_string(count) +
                        " CUDA device(s) are visible (cuda:0" + (count > 1 ? " to cuda:" + std::to_string(count - 1) : std::string()) + ")");
    }
  }
  return requested;
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
  torch::set_num_threads(threads);
  const PrecisionChoice precision = choose_precision(e.precision, c10::Device(device));
  Manifest manifest(run_dir + "/manifest.json", initial_record(e, settings, device, threads, precision));
  write_file_atomic(run_dir + "/config.yaml", to_yaml(e.tree.root));
  manifest.save();
  // Room to record the end of a run that fills the disk.
  manifest.reserve_space(std::size_t{1} << 20);
  logger.write(LogLevel::info, "run folder " + run_dir);
  if (e.precision != "fp32") logger.write(LogLevel::info, "precision " + precision.precision + ": " + precision.reason);

  // Same config, weights, device and thread count: bit-identical outputs.
  set_determinism(e.deterministic);
  NondeterminismRecorder nondeterminism(manifest, logger);
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
    manifest.finish(status, error);
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
    CreateArgs args{to_value(e.model.options), &host, c10::Device(device), precision.precision, e.seed, e.weights};
    progress.set_task("model " + e.model.plugin);
    worker::set_activity("model", e.model.plugin, "", "loading");
    model = registry.create_model(e.model.plugin, args);
    manifest.add_plugin(plugin_record(registry.find(e.model.plugin, "model")));
    manifest.set_model(model_record(e.model.plugin, *model, seconds_since(model_start)));
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
    TechniqueRecord started;
    started.id = use.id;
    started.plugin = use.plugin;
    started.options = use.options;
    const std::size_t index = manifest.begin_technique(started);
    manifest.add_plugin(plugin_record(registry.find(use.plugin, "technique")));
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
      CreateArgs args{to_value(use.options), &host, c10::Device(device), precision.precision, e.seed, ""};
      std::shared_ptr<Technique> technique = registry.create_technique(use.plugin, args);
      const auto [used, note] = technique_precision(*technique, precision.precision);
      manifest.set_precision(index, used, note);
      if (!note.empty()) logger.write(LogLevel::warning, use.id + ": " + note);
      TechniqueOutput output(run_dir, use.id, index, manifest, host, write_error);
      worker::set_stage("running");
      {
        PrecisionScope scope(used, c10::Device(device));
        technique->run(*model, output);
      }
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
    manifest.end_technique(index, status, error, seconds_since(start));
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
