#include "isolation_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "catch.h"
#include "test_support.h"
#include "vizrun_host/files.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace vizrun::hostile {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Result run_vizrun(const std::string& args) {
  const std::string dir = vizrun::testing::temp_dir("hostile-io");
  const std::string command = std::string(VIZRUN_BINARY) + " " + args + " >" + dir + "/out 2>" + dir + "/err";
  const int status = std::system(command.c_str());
  Result r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  // The shell reports a child killed by signal N as 128 + N.
  if (r.exit_code > 128) r.signal = r.exit_code - 128;
  r.out = vizrun::host::read_file(dir + "/out");
  r.err = vizrun::host::read_file(dir + "/err");
  return r;
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) lines.push_back(line);
  }
  return lines;
}

json manifest_of(const std::string& run_dir) { return json::parse(vizrun::host::read_file(run_dir + "/manifest.json")); }

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), dir).generic_string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> leftovers_under(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& f : files_under(dir)) {
    const std::string name = fs::path(f).filename().string();
    if (name.find(".tmp-") != std::string::npos || name.find(".partial") != std::string::npos ||
        name.find(".reserve") != std::string::npos) {
      found.push_back(f);
    }
  }
  return found;
}

std::map<std::string, std::string> listed_outputs(const json& manifest) {
  std::map<std::string, std::string> out;
  for (const auto& t : manifest.value("techniques", json::array())) {
    for (const auto& o : t.value("outputs", json::array())) out[o["path"]] = o["sha256"];
  }
  return out;
}

void check_files_are_complete_and_listed(const std::string& run_dir, const json& m) {
  const auto listed = listed_outputs(m);
  for (const auto& [path, sha] : listed) {
    INFO(path);
    REQUIRE(fs::exists(run_dir + "/" + path));
    CHECK(vizrun::host::sha256_file(run_dir + "/" + path) == sha);
  }
  for (const auto& f : files_under(run_dir)) {
    if (f.find('/') == std::string::npos) continue;  // manifest.json, config.yaml, vizrun.log, index.html
    INFO(f);
    CHECK(listed.count(f) == 1);
  }
  CHECK(leftovers_under(run_dir).empty());
}

pid_t spawn_vizrun(const std::vector<std::string>& args, const std::string& stderr_file) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string name = "vizrun";
    argv.push_back(name.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::FILE* err = std::freopen(stderr_file.c_str(), "w", stderr);
    (void)err;
    ::execv(VIZRUN_BINARY, argv.data());
    ::_exit(127);
  }
  return pid;
}

pid_t child_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  pid_t child = 0;
  if (in >> child) return child;
  // Kernels without CONFIG_PROC_CHILDREN: look for a process whose parent is pid.
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat(e.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) return static_cast<pid_t>(std::stoi(name));
  }
  return 0;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string write_experiment(const std::string& dir, const std::string& techniques, const std::string& extra) {
  const std::string path = dir + "/exp.yaml";
  vizrun::host::write_file_atomic(path, "experiment: hostile\nseed: 3\ndevice: cpu\nthreads: 1\n"
                                        "model: {plugin: tiny_model, weights: random, options: {size: 12}}\n"
                                        "techniques:\n" + techniques + extra);
  return path;
}

}  // namespace vizrun::hostile
