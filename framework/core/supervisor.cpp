// The supervising parent of a run and the worker's shared state (see supervisor.h).
#include "vizrun_host/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <set>

#include "vizrun/error.h"
#include "vizrun_host/config.h"
#include "vizrun_host/files.h"
#include "vizrun_host/manifest.h"
#include "vizrun_host/report.h"
#include "vizrun_host/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vizrun::host {
namespace {

WorkerState* g_state = nullptr;  // set in a worker only
std::mutex g_state_mutex;         // progress may be reported from several threads

template <std::size_t N>
void put(char (&field)[N], const std::string& text) {
  const std::size_t n = std::min(text.size(), N - 1);
  std::memcpy(field, text.data(), n);
  field[n] = '\0';
}

template <std::size_t N>
std::string get(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

std::string errno_text() { return std::strerror(errno); }

void beat_now() {
  if (g_state) __atomic_store_n(&g_state->last_beat_ms, monotonic_ms(), __ATOMIC_RELAXED);
}

/// The worker: runs the experiment and writes its result (one JSON document) to `fd`.
[[noreturn]] void worker_main(int fd, pid_t parent, WorkerState* state, const Experiment& e,
                              const PluginRegistry& registry, const RunSettings& settings) {
  forward_stop_signals_to(0);
  // A parent killed outright (SIGKILL) should not leave the worker running on: it
  // stops at the next step like after SIGTERM, as the run would have before.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) request_stop();
  // exit() called by plugin code must end the worker, not run the destructors of
  // every library: threads started before the fork do not exist here, and a library
  // waiting for its thread at exit (liblog4cplus does) would hang the worker for ever.
  // Handlers run in reverse order, so this one runs before the libraries' finalizers.
  ::on_exit(
      [](int status, void*) {
        std::fflush(nullptr);
        ::_exit(status);
      },
      nullptr);
  g_state = state;
  beat_now();
  json reply;
  try {
    const RunResult r = run_experiment_in_process(e, registry, settings);
    reply = {{"run_dir", r.run_dir}, {"status", r.status}, {"exit_code", r.exit_code}};
  } catch (const ConfigError& ex) {
    reply = {{"error", ex.what()}, {"config_error", true}};
  } catch (const std::exception& ex) {
    reply = {{"error", ex.what()}, {"config_error", false}};
  } catch (...) {
    reply = {{"error", "unknown exception in the run worker"}, {"config_error", false}};
  }
  if (reply.contains("error") && reply["error"].get<std::string>().size() > 16000) {
    reply["error"] = reply["error"].get<std::string>().substr(0, 16000) + "...";
  }
  const std::string text = reply.dump(-1, ' ', false, json::error_handler_t::replace);
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::fflush(nullptr);
  // No static destructors: plugin libraries and LibTorch are not unwound at exit.
  ::_exit(0);
}

std::string read_all_available(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);  // a grandchild may hold the write end
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

/// "technique plugin 'x' (technique 'y')", or what the worker was doing outside plugins.
std::string describe_activity(const WorkerState& s) {
  const std::string plugin = get(s.plugin), kind = get(s.kind), technique = get(s.technique);
  if (plugin.empty()) return "no plugin was running";
  std::string who = kind + " plugin '" + plugin + "'";
  if (!technique.empty() && technique != plugin) who += " (technique '" + technique + "')";
  return who;
}

bool is_leftover_temporary(const std::string& name) {
  return !name.empty() && name[0] == '.' &&
         (name.find(".tmp-") != std::string::npos || ends_with(name, ".partial.png") ||
          ends_with(name, ".reserve"));
}

}  // namespace

std::int64_t monotonic_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

namespace worker {
void set_run_dir(const std::string& run_dir) {
  if (!g_state) return;
  std::lock_guard<std::mutex> lock(g_state_mutex);
  put(g_state->run_dir, run_dir);
  beat_now();
}
void set_activity(const std::string& kind, const std::string& plugin, const std::string& technique,
                  const std::string& stage) {
  if (!g_state) return;
  std::lock_guard<std::mutex> lock(g_state_mutex);
  put(g_state->kind, kind);
  put(g_state->plugin, plugin);
  put(g_state->technique, technique);
  put(g_state->stage, stage);
  beat_now();
}
void set_stage(const std::string& stage) {
  if (!g_state) return;
  std::lock_guard<std::mutex> lock(g_state_mutex);
  put(g_state->stage, stage);
  beat_now();
}
void beat() { beat_now(); }
}  // namespace worker

std::string signal_name(int n) {
  static const std::map<int, const char*> names = {
      {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},
      {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},
      {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
      {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"}};
  const auto it = names.find(n);
  return it != names.end() ? it->second : "signal " + std::to_string(n);
}

void record_unfinished_run(const std::string& run_dir, const std::string& status, const std::string& error,
                           json details) {
  const std::string manifest_path = run_dir + "/manifest.json";
  // The worker is gone: whatever it had not renamed into place is incomplete.
  ::unlink(Manifest::reserve_file(manifest_path).c_str());
  std::error_code ec;
  std::vector<fs::path> leftovers;
  for (auto it = fs::recursive_directory_iterator(run_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (is_leftover_temporary(it->path().filename().string()) && !it->is_directory(ec)) leftovers.push_back(it->path());
  }
  for (const auto& p : leftovers) fs::remove(p, ec);

  RunRecord m;
  try {
    m = RunRecord::from_json(json::parse(read_file(manifest_path)));
  } catch (const std::exception& ex) {
    m.extra["manifest_lost"] = std::string("the worker's manifest was unreadable: ") + ex.what();
  }

  // Files renamed into place are complete (every write is temp-then-rename), but the
  // manifest lags the last second of outputs: list those too, by hash.
  std::map<std::string, TechniqueRecord*> technique_of;
  std::set<std::string> listed;
  for (auto& t : m.techniques) {
    technique_of[t.id] = &t;
    for (const auto& o : t.outputs) listed.insert(o.path);
  }
  std::vector<std::string> found;
  for (auto it = fs::recursive_directory_iterator(run_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string relative = fs::relative(it->path(), run_dir, ec).generic_string();
    const auto slash = relative.find('/');
    if (slash == std::string::npos || it->path().filename().string()[0] == '.') continue;
    if (!technique_of.count(relative.substr(0, slash)) || listed.count(relative)) continue;
    found.push_back(relative);
  }
  std::sort(found.begin(), found.end());
  json recovered = json::array();
  for (const auto& relative : found) {
    const std::string ext = fs::path(relative).extension().string();
    try {
      OutputRecord output{relative, ext == ".png" ? "image" : ext == ".npy" ? "array" : "file",
                          sha256_file(run_dir + "/" + relative), json::object(), true};
      technique_of[relative.substr(0, relative.find('/'))]->outputs.push_back(output);
      recovered.push_back(relative);
    } catch (const std::exception&) {
    }
  }
  json files = json::array();
  for (const auto* o : m.all_outputs()) files.push_back(o->path);
  for (auto& t : m.techniques) {
    if (t.status == "running") {
      t.status = status;
      t.error = error;
    }
  }
  details["complete_files"] = files;
  details["recovered_files"] = recovered;
  m.status = status;
  m.error = error;
  m.finished_utc = utc_timestamp_iso();
  m.extra[status == "crashed" ? "crash" : "abnormal_end"] = details;
  write_file_atomic(manifest_path, m.to_json().dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  try {
    write_file_atomic(run_dir + "/index.html", render_run_report(m));
  } catch (const std::exception&) {
  }
  std::ofstream log(run_dir + "/vizrun.log", std::ios::app);
  if (log) log << utc_timestamp_iso() << " error: " << error << std::endl;
}

RunResult run_supervised(const Experiment& e, const PluginRegistry& registry, const RunSettings& settings) {
  void* memory = ::mmap(nullptr, sizeof(WorkerState), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw Error("cannot start the run worker: mmap: " + errno_text());
  auto* state = new (memory) WorkerState{};
  state->last_beat_ms = monotonic_ms();  // the watchdog's clock starts with the worker
  struct Unmap {
    void* p;
    ~Unmap() { ::munmap(p, sizeof(WorkerState)); }
  } unmap{memory};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error("cannot start the run worker: pipe: " + errno_text());
  // A file size limit should fail a write (EFBIG), not kill the process.
  ::signal(SIGXFSZ, SIG_IGN);
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const std::string why = errno_text();
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error("cannot start the run worker: fork: " + why);
  }
  if (pid == 0) {
    ::close(fds[0]);
    worker_main(fds[1], parent, state, e, registry, settings);
  }
  ::close(fds[1]);
  forward_stop_signals_to(pid);
  if (stop_requested()) ::kill(pid, SIGTERM);  // a signal that came before the pid was known
  // Wait, and watch the heartbeat. Polling starts at 1 ms (short runs end without
  // delay) and settles at 100 ms.
  const std::int64_t stall_ms = static_cast<std::int64_t>(e.stall_timeout) * 1000;
  const std::int64_t grace_ms = std::min<std::int64_t>(10'000, std::max<std::int64_t>(stall_ms, 1000));
  std::int64_t terminated_at = -1;  // when the watchdog sent SIGTERM
  bool killed = false;
  WorkerState at_hang{};
  int wait_status = 0;
  for (int pause_ms = 1;; pause_ms = std::min(2 * pause_ms, 100)) {
    const pid_t r = ::waitpid(pid, &wait_status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    const std::int64_t now = monotonic_ms();
    if (stall_ms > 0 && terminated_at < 0 &&
        now - __atomic_load_n(&state->last_beat_ms, __ATOMIC_RELAXED) > stall_ms) {
      at_hang = *state;  // what it was doing, before SIGTERM's unwinding changes it
      terminated_at = now;
      ::kill(pid, SIGTERM);
    } else if (terminated_at >= 0 && !killed && now - terminated_at > grace_ms) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    ::usleep(static_cast<useconds_t>(pause_ms) * 1000);
  }
  forward_stop_signals_to(0);
  const std::string reply_text = read_all_available(fds[0]);
  ::close(fds[0]);
  const bool hung = terminated_at >= 0;
  const WorkerState seen = hung ? at_hang : *state;

  json reply = json::parse(reply_text, nullptr, false);
  // A worker the watchdog stopped is hung, however it ended after SIGTERM.
  const bool exited_cleanly =
      !hung && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0 && reply.is_object();
  const std::string run_dir = get(seen.run_dir);
  if (exited_cleanly && reply.contains("status")) {
    return {reply.value("run_dir", run_dir), reply.value("status", "failed"), reply.value("exit_code", 1)};
  }
  if (exited_cleanly && reply.contains("error")) {
    std::string message = reply.value("error", "");
    // The worker gave up with an error after the run had started (a manifest that
    // could not be written, say): the run must not stay "running".
    std::string note;
    if (!run_dir.empty() && fs::exists(run_dir + "/manifest.json")) {
      bool running = true;
      try {
        running = json::parse(read_file(run_dir + "/manifest.json")).value("status", "running") == "running";
      } catch (const std::exception&) {
      }
      try {
        if (running) record_unfinished_run(run_dir, "failed", message, {{"activity", describe_activity(seen)}});
      } catch (const std::exception& ex) {
        note = std::string("; the manifest could not be updated either: ") + ex.what();
      }
    }
    message += note;
    if (reply.value("config_error", false)) throw ConfigError(message);
    throw Error(message);
  }

  // The worker died, or exited without a result.
  json details = {{"plugin", get(seen.plugin)},
                  {"kind", get(seen.kind)},
                  {"technique", get(seen.technique)},
                  {"stage", get(seen.stage)},
                  {"worker_pid", pid}};
  std::string how;
  if (hung) {
    details["hung"] = true;
    details["stall_timeout_s"] = e.stall_timeout;
  }
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    details["signal"] = signal_name(sig);
    details["signal_number"] = sig;
    details["signal_description"] = ::strsignal(sig);
    how = "died of " + signal_name(sig) + " (" + ::strsignal(sig) + ")";
    if (sig == SIGKILL) how += "; killed from outside, for example by the out-of-memory killer or a job scheduler";
  } else {
    const int code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
    details["exit_status"] = code;
    how = "exited with status " + std::to_string(code) + " without finishing the run";
  }
  const std::string stage = get(seen.stage);
  const std::string where = describe_activity(seen) + (stage.empty() ? "" : ", stage '" + stage + "'");
  if (hung) {
    const std::string stopped = WIFSIGNALED(wait_status) ? "stopped with " + signal_name(WTERMSIG(wait_status))
                                                          : "stopped (it exited after SIGTERM)";
    how = "showed no progress for " + std::to_string(e.stall_timeout) + " s (stall_timeout) and was " + stopped;
  }
  if (run_dir.empty()) {
    throw Error("the run worker " + how + " before creating the run folder (" + where + ")");
  }
  std::string error = "the run worker " + how + " while " + where;
  if (hung) {
    error = (get(seen.plugin).empty() ? std::string("the run") : describe_activity(seen)) + " hung" +
            (stage.empty() ? "" : " at stage '" + stage + "'") + ": the run worker " + how;
  } else if (!get(seen.plugin).empty()) {
    error = describe_activity(seen) + " crashed: the run worker " + how + (stage.empty() ? "" : " at stage '" + stage + "'");
  }
  try {
    record_unfinished_run(run_dir, "crashed", error, details);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "vizrun: error: %s; and the manifest could not be rewritten: %s\n", error.c_str(), ex.what());
    return {run_dir, "crashed", 1};
  }
  std::fprintf(stderr, "vizrun: error: %s\n", error.c_str());
  return {run_dir, "crashed", 1};
}

}  // namespace vizrun::host
