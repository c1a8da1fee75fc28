#pragma once
// Helpers for the hostile-input tests of plugin isolation: run the real `vizrun`
// binary, read run folders, find a supervisor's worker process.
#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace vizrun::hostile {

struct Result {
  int exit_code = -1;  ///< -1 when vizrun itself died of a signal
  int signal = 0;
  std::string out, err;
};

/// Runs `vizrun <args>` through the shell (args are quoted by the caller).
Result run_vizrun(const std::string& args);
std::string quote(const std::string& s);
/// Lines of `text` that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix);

nlohmann::json manifest_of(const std::string& run_dir);
/// Every regular file under `dir`, relative, sorted ("layer_means/image0/conv1.npy").
std::vector<std::string> files_under(const std::string& dir);
/// Names of leftovers a clean end must not leave: temporaries and the manifest reserve.
std::vector<std::string> leftovers_under(const std::string& dir);
/// Checks (Catch2) that every output listed in `m` exists with its hash, that every
/// file in the technique folders of `run_dir` is listed and that nothing temporary
/// is left.
void check_files_are_complete_and_listed(const std::string& run_dir, const nlohmann::json& m);
/// path -> sha256 of every output listed in a run manifest.
std::map<std::string, std::string> listed_outputs(const nlohmann::json& manifest);

/// Starts vizrun with argv (no shell) and returns its pid.
pid_t spawn_vizrun(const std::vector<std::string>& args, const std::string& stderr_file);
/// The first child process of `pid`, or 0 when it has none (yet).
pid_t child_of(pid_t pid);
/// Waits for `pid` and returns its exit code (-1 for a signal).
int wait_exit(pid_t pid);

/// An experiment on the test plugins; `techniques` is the YAML list body.
std::string write_experiment(const std::string& dir, const std::string& techniques, const std::string& extra = "");

}  // namespace vizrun::hostile
