// Crashing plugins (issue 13, defect 4): a segfault, abort(), exit() or a thrown
// int in a technique, and SIGKILL of the worker, end with a record: the supervising
// parent rewrites the manifest as "crashed" naming the plugin and the signal and
// listing every complete file; a sweep resumed afterwards redoes the job.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "catch.h"
#include "isolation_util.h"
#include "test_support.h"
#include "vizrun_host/files.h"

namespace fs = std::filesystem;
using namespace vizrun::hostile;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

std::string plugin_paths() {
  return "--plugin-path " + quote(vizrun::testing::test_plugin_dir() + "/good") + " --plugin-path " +
         quote(vizrun::testing::test_plugin_dir() + "/crash");
}

/// Under AddressSanitizer a segfault is reported and turned into exit 1; the tests
/// want the real signal.
void let_signals_through() {
  const char* old = std::getenv("ASAN_OPTIONS");
  ::setenv("ASAN_OPTIONS", (std::string(old ? old : "") + ":handle_segv=0:handle_sigbus=0:handle_abort=0").c_str(), 1);
}

const char* kTechniques = R"(  - plugin: layer_means
    options: {noise_images: 1, layers: [conv1, pool1]}
  - plugin: CRASHER
    id: boom
    options: {crash_at: 2}
  - plugin: layer_means
    id: after
    options: {noise_images: 1, layers: [conv1]}
)";

std::string techniques_with(const std::string& crasher) {
  std::string t = kTechniques;
  t.replace(t.find("CRASHER"), 7, crasher);
  return t;
}

}  // namespace

TEST_CASE("a technique that segfaults or aborts is recorded as crashed, naming plugin and signal", "[hostile][crash]") {
  let_signals_through();
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"segfaults", "SIGSEGV", "Segmentation fault"}, {"aborts", "SIGABRT", "Aborted"}};
  for (const auto& [plugin, signal, description] : cases) {
    INFO(plugin);
    const std::string dir = vizrun::testing::temp_dir("crash-" + plugin);
    const std::string run_dir = dir + "/run";
    const Result r = run_vizrun(quote(write_experiment(dir, techniques_with(plugin))) + " " + plugin_paths() +
                                " --out " + quote(run_dir) + " -q");
    INFO(r.err);
    CHECK(r.signal == 0);  // the supervisor itself survives
    CHECK(r.exit_code == 1);
    const std::string line = "technique plugin '" + plugin + "' (technique 'boom') crashed: the run worker died of " +
                             signal + " (" + description + ") at stage 'conv2'";
    CHECK(lines_starting(r.err, "vizrun: error: ") == std::vector<std::string>{"vizrun: error: " + line});

    const json m = manifest_of(run_dir);
    CHECK(m["status"] == "crashed");
    CHECK(m["error"] == line);
    CHECK(m["crash"]["signal"] == signal);
    CHECK(m["crash"]["plugin"] == plugin);
    CHECK(m["crash"]["kind"] == "technique");
    CHECK(m["crash"]["technique"] == "boom");
    CHECK(m["crash"]["stage"] == "conv2");
    CHECK(m.contains("finished_utc"));
    REQUIRE(m["techniques"].size() == 2);  // "after" never started
    CHECK(m["techniques"][0]["status"] == "complete");
    CHECK(m["techniques"][0]["outputs"].size() == 4);
    CHECK(m["techniques"][1]["status"] == "crashed");
    std::set<std::string> boom;
    for (const auto& o : m["techniques"][1]["outputs"]) boom.insert(o["path"]);
    CHECK(boom == std::set<std::string>{"boom/conv1.npy", "boom/pool1.npy"});
    CHECK(m["crash"]["complete_files"].size() == 6);
    check_files_are_complete_and_listed(run_dir, m);
    CHECK_THAT(vizrun::host::read_file(run_dir + "/index.html"), Contains("crashed"));
    CHECK_THAT(vizrun::host::read_file(run_dir + "/vizrun.log"), Contains("error: " + line));
  }
}

TEST_CASE("a thrown int is caught and fails only its technique", "[hostile][crash]") {
  const std::string dir = vizrun::testing::temp_dir("crash-int");
  const std::string run_dir = dir + "/run";
  const Result r = run_vizrun(quote(write_experiment(dir, techniques_with("throws_int"))) + " " + plugin_paths() +
                              " --out " + quote(run_dir) + " -q");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  const std::string error = "technique plugin 'throws_int' threw an exception of type 'int', which is not a std::exception";
  CHECK(lines_starting(r.err, "vizrun: error: ") == std::vector<std::string>{"vizrun: error: boom: " + error});
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "failed");
  CHECK(m["error"] == "boom: " + error);
  REQUIRE(m["techniques"].size() == 3);
  CHECK(m["techniques"][1]["status"] == "failed");
  CHECK(m["techniques"][1]["error"] == error);
  CHECK(m["techniques"][1]["outputs"].size() == 2);
  CHECK(m["techniques"][2]["status"] == "complete");  // the run went on
  check_files_are_complete_and_listed(run_dir, m);
}

TEST_CASE("a plugin that calls exit() mid-run is recorded as crashed", "[hostile][crash]") {
  const std::string dir = vizrun::testing::temp_dir("crash-exit");
  const std::string run_dir = dir + "/run";
  const Result r = run_vizrun(quote(write_experiment(dir, techniques_with("exits"))) + " " + plugin_paths() +
                              " --out " + quote(run_dir) + " -q");
  INFO(r.err);
  CHECK(r.exit_code == 1);
  const std::string line = "technique plugin 'exits' (technique 'boom') crashed: the run worker exited with status 0 "
                           "without finishing the run at stage 'conv2'";
  CHECK(lines_starting(r.err, "vizrun: error: ") == std::vector<std::string>{"vizrun: error: " + line});
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "crashed");
  CHECK(m["crash"]["exit_status"] == 0);
  CHECK_FALSE(m["crash"].contains("signal"));
  CHECK(m["techniques"][1]["status"] == "crashed");
  check_files_are_complete_and_listed(run_dir, m);
}

TEST_CASE("a worker that hangs is stopped after stall_timeout and recorded as crashed (hung)", "[hostile][crash][hang]") {
  const std::string dir = vizrun::testing::temp_dir("crash-hang");
  const std::string run_dir = dir + "/run";
  std::string techniques = techniques_with("hangs");
  techniques.replace(techniques.find("id: boom"), 8, "id: stuck");
  const auto start = std::chrono::steady_clock::now();
  const Result r = run_vizrun(quote(write_experiment(dir, techniques)) + " " + plugin_paths() + " --out " +
                              quote(run_dir) + " -q --stall-timeout 2");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(r.err);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == 1);
  // 2 s without a beat, SIGTERM (the plugin never checks for it), SIGKILL 2 s later.
  CHECK(seconds >= 4.0);
  CHECK(seconds < 60.0);
  const std::string line = "technique plugin 'hangs' (technique 'stuck') hung at stage 'conv2': the run worker "
                           "showed no progress for 2 s (stall_timeout) and was stopped with SIGKILL";
  CHECK(lines_starting(r.err, "vizrun: error: ") == std::vector<std::string>{"vizrun: error: " + line});
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "crashed");
  CHECK(m["error"] == line);
  CHECK(m["crash"]["hung"] == true);
  CHECK(m["crash"]["stall_timeout_s"] == 2);
  CHECK(m["crash"]["signal"] == "SIGKILL");
  CHECK(m["crash"]["plugin"] == "hangs");
  CHECK(m["crash"]["technique"] == "stuck");
  CHECK(m["crash"]["stage"] == "conv2");
  REQUIRE(m["techniques"].size() == 2);  // "after" never started
  CHECK(m["techniques"][0]["status"] == "complete");
  CHECK(m["techniques"][1]["status"] == "crashed");
  std::set<std::string> stuck;
  for (const auto& o : m["techniques"][1]["outputs"]) stuck.insert(o["path"]);
  CHECK(stuck == std::set<std::string>{"stuck/conv1.npy", "stuck/pool1.npy"});
  check_files_are_complete_and_listed(run_dir, m);
  CHECK_THAT(vizrun::host::read_file(run_dir + "/vizrun.log"), Contains("error: " + line));
}

TEST_CASE("a slow run that shows progress outlives a short stall_timeout", "[hostile][crash][hang]") {
  // 3 images x 3 layers x 400 ms = 3.6 s in one technique, with a stop check per item:
  // the heartbeat, not the technique's start, is what the watchdog sees.
  const std::string dir = vizrun::testing::temp_dir("slow-alive");
  const std::string run_dir = dir + "/run";
  const Result r = run_vizrun(
      quote(write_experiment(dir, "  - plugin: layer_means\n    options: {noise_images: 3, layers: [conv1, pool1, conv2], "
                                  "sleep_ms: 400}\n")) +
      " --plugin-path " + quote(vizrun::testing::test_plugin_dir() + "/good") + " --out " + quote(run_dir) +
      " -q --set stall_timeout=2");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "complete");
  CHECK(m["config"]["stall_timeout"] == 2);
}

namespace {

const char* kSlow = R"(  - plugin: layer_means
    options: {noise_images: 6, layers: [conv1, pool1, conv2], sleep_ms: 100}
)";

std::size_t npy_files_in(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    n += it->path().extension() == ".npy";
  }
  return n;
}

/// Waits until `ready()` or about 20 s.
template <class F>
bool wait_for(F&& ready) {
  for (int i = 0; i < 800; ++i) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

}  // namespace

TEST_CASE("SIGKILL of the worker mid-layer: crashed, and every file on disk is listed", "[hostile][crash][kill]") {
  const std::string dir = vizrun::testing::temp_dir("kill-worker");
  const std::string run_dir = dir + "/run";
  const pid_t pid = spawn_vizrun({write_experiment(dir, kSlow), "--plugin-path", vizrun::testing::test_plugin_dir() + "/good",
                                  "--out", run_dir, "-q"},
                                 dir + "/err");
  REQUIRE(pid > 0);
  REQUIRE(wait_for([&] { return npy_files_in(run_dir + "/layer_means") >= 4; }));
  const pid_t worker = child_of(pid);
  REQUIRE(worker > 0);
  REQUIRE(worker != pid);
  ::kill(worker, SIGKILL);
  CHECK(wait_exit(pid) == 1);
  const std::string err = vizrun::host::read_file(dir + "/err");
  INFO(err);
  const auto errors = lines_starting(err, "vizrun: error: ");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Contains("technique plugin 'layer_means' crashed: the run worker died of SIGKILL (Killed"));
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "crashed");
  CHECK(m["crash"]["signal"] == "SIGKILL");
  CHECK(m["crash"]["worker_pid"] == worker);
  CHECK(m["techniques"][0]["status"] == "crashed");
  const auto listed = listed_outputs(m);
  CHECK(listed.size() >= 8);   // at least 4 pictures and 4 arrays were on disk
  CHECK(listed.size() < 36);   // and the run did not finish
  CHECK(m["crash"]["complete_files"].size() == listed.size());
  check_files_are_complete_and_listed(run_dir, m);
}

TEST_CASE("SIGKILL of the supervisor: the worker stops cleanly as interrupted", "[hostile][crash][kill]") {
  const std::string dir = vizrun::testing::temp_dir("kill-parent");
  const std::string run_dir = dir + "/run";
  const pid_t pid = spawn_vizrun({write_experiment(dir, kSlow), "--plugin-path", vizrun::testing::test_plugin_dir() + "/good",
                                  "--out", run_dir, "-q"},
                                 dir + "/err");
  REQUIRE(wait_for([&] { return npy_files_in(run_dir + "/layer_means") >= 2; }));
  const pid_t worker = child_of(pid);
  REQUIRE(worker > 0);
  ::kill(pid, SIGKILL);
  wait_exit(pid);
  // The worker is told (SIGTERM on its parent's death) and ends at its next step.
  REQUIRE(wait_for([&] { return ::kill(worker, 0) != 0; }));
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "interrupted");
  check_files_are_complete_and_listed(run_dir, m);
}

TEST_CASE("a sweep job whose worker is killed is crashed, merge says so and resume redoes it", "[hostile][crash][sweep]") {
  const std::string dir = vizrun::testing::temp_dir("kill-sweep");
  const std::string sweep_dir = dir + "/sweep";
  const std::string config = write_experiment(dir, R"(  - plugin: layer_means
    options: {noise_images: 4, layers: [conv1, pool1, conv2], sleep_ms: 60}
)", "sweep:\n  seed: [5, 6]\n");
  const std::string good = vizrun::testing::test_plugin_dir() + "/good";
  const pid_t pid = spawn_vizrun({config, "--plugin-path", good, "--out", sweep_dir, "-q"}, dir + "/err");
  // The first job runs in a hidden temporary folder; kill its worker mid-layer.
  std::string job_tmp;
  REQUIRE(wait_for([&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(sweep_dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name[0] == '.' && name.find(".tmp-") != std::string::npos && npy_files_in(e.path().string()) >= 3) {
        job_tmp = name;
        return true;
      }
    }
    return false;
  }));
  const pid_t worker = child_of(pid);
  REQUIRE(worker > 0);
  ::kill(worker, SIGKILL);
  CHECK(wait_exit(pid) == 1);  // the other job still ran
  const std::string killed = job_tmp.substr(1, 12);
  INFO(vizrun::host::read_file(dir + "/err"));
  const json crashed = manifest_of(sweep_dir + "/" + killed);
  CHECK(crashed["status"] == "crashed");
  CHECK(crashed["crash"]["signal"] == "SIGKILL");
  check_files_are_complete_and_listed(sweep_dir + "/" + killed, crashed);
  std::vector<std::string> jobs;
  for (const auto& e : fs::directory_iterator(sweep_dir)) {
    if (e.is_directory() && e.path().filename().string().size() == 12) jobs.push_back(e.path().filename().string());
  }
  REQUIRE(jobs.size() == 2);
  for (const auto& j : jobs) {
    if (j != killed) CHECK(manifest_of(sweep_dir + "/" + j)["status"] == "complete");
  }

  const Result merged = run_vizrun("merge " + quote(sweep_dir));
  CHECK(merged.exit_code == 1);
  CHECK_THAT(merged.out, Contains("1 of 2 jobs complete") && Contains(killed) && Contains("crashed"));

  const Result resumed = run_vizrun(quote(sweep_dir) + " --plugin-path " + quote(good));
  INFO(resumed.err);
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.err, Contains("redoing (was crashed)") && Contains("already complete, skipped"));
  CHECK(run_vizrun("merge " + quote(sweep_dir)).exit_code == 0);
  CHECK(manifest_of(sweep_dir + "/" + killed)["status"] == "complete");

  // Bit-identical to a sweep that was never interrupted.
  const std::string reference = dir + "/reference";
  REQUIRE(run_vizrun(quote(config) + " --plugin-path " + quote(good) + " --out " + quote(reference) + " -q").exit_code == 0);
  for (const auto& j : jobs) {
    INFO(j);
    const auto redone = listed_outputs(manifest_of(sweep_dir + "/" + j));
    CHECK(redone.size() == 24);
    CHECK(redone == listed_outputs(manifest_of(reference + "/" + j)));
  }
  for (const auto& e : fs::directory_iterator(sweep_dir)) CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}
