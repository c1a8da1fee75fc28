#include "vizrun_host/model_check.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <map>
#include <memory>
#include <string>

#include "vizrun/option_check.h"
#include "vizrun/plugin.h"
#include "vizrun_host/quiet_host.h"
#include "vizrun_host/supervisor.h"

namespace vizrun::host {
namespace {

/// Writes `what` (the plugin being opened) to the parent, so a crash can name it.
void tell(int fd, const std::string& what) {
  const std::string line = what + "\n";
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n <= 0 && errno != EINTR) return;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
}

void check_techniques(const Experiment& e, ModelBackend& model, const PluginRegistry& registry, const Host& host,
                      int fd) {
  for (const auto& use : e.techniques) {
    tell(fd, "open technique plugin '" + use.plugin + "'");
    CreateArgs args{to_value(use.options), &host, c10::Device(c10::kCPU), "fp32", e.seed, ""};
    try {
      const auto technique = registry.create_technique(use.plugin, args);
      if (const auto* check = query<ModelCheck>(*technique)) check->check_model(model);
    } catch (const OptionError& problem) {
      e.tree.fail(use.pointer + "/options" + problem.pointer(), problem.what());
    } catch (const ConfigError&) {
      throw;
    } catch (const Error& problem) {
      e.tree.fail(use.pointer + "/options", problem.what());
    }
  }
}

/// The child's work; returns normally or throws what the parent should report.
void check_all(const std::vector<const Experiment*>& experiments, const PluginRegistry& registry, int fd) {
  std::map<std::string, std::shared_ptr<ModelBackend>> models;  // by plugin, options and weights
  for (const Experiment* e : experiments) {
    QuietHost quiet(*e);
    const std::string key = e->model.plugin + "\n" + e->model.options.dump() + "\n" + e->weights;
    auto& model = models[key];
    if (!model) {
      tell(fd, "open model plugin '" + e->model.plugin + "' (weights " + e->weights + ")");
      CreateArgs args{to_value(e->model.options), &quiet.host, c10::Device(c10::kCPU), "fp32", e->seed, e->weights};
      args.architecture_only = true;
      try {
        model = registry.create_model(e->model.plugin, args);
      } catch (const ConfigError&) {
        throw;
      } catch (const Error& problem) {
        e->tree.fail(e->model.pointer, problem.what());
      }
    }
    check_techniques(*e, *model, registry, quiet.host, fd);
  }
}

}  // namespace

void check_against_models(const std::vector<const Experiment*>& experiments, const PluginRegistry& registry) {
  // One pipe: the child's "what I open now" lines, then a record separator and its
  // verdict: "0" valid, "2<message>" a config problem, "1<message>" another error.
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw Error("validate: cannot create a pipe for the model check");
  const pid_t pid = ::fork();
  if (pid < 0) throw Error("validate: cannot fork the model check");
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string verdict = "0";
    try {
      check_all(experiments, registry, pipe_fds[1]);
    } catch (const ConfigError& e) {
      verdict = std::string("2") + e.what();
    } catch (const std::exception& e) {
      verdict = std::string("1") + e.what();
    }
    tell(pipe_fds[1], "\x1e" + verdict);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string all;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    all.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const auto separator = all.rfind('\x1e');
  if (WIFSIGNALED(status) || separator == std::string::npos) {
    std::string doing = all.substr(0, all.find_last_not_of('\n') + 1);
    doing = doing.substr(doing.find_last_of('\n') == std::string::npos ? 0 : doing.find_last_of('\n') + 1);
    throw Error("validate: the check against the model crashed (" +
                (WIFSIGNALED(status) ? signal_name(WTERMSIG(status)) : std::string("no verdict")) + ") at: " + doing +
                "; the file it reads is damaged or not what the plugin expects");
  }
  std::string verdict = all.substr(separator + 1);
  if (!verdict.empty() && verdict.back() == '\n') verdict.pop_back();
  if (verdict.empty() || verdict[0] == '0') return;
  if (verdict[0] == '2') throw ConfigError(verdict.substr(1));
  throw Error(verdict.substr(1));
}

}  // namespace vizrun::host
