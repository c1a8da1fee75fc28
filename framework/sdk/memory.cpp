#include "vizrun/memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "vizrun/error.h"

namespace vizrun {
namespace {

/// The value of `key` in /proc/meminfo, in bytes; 0 when absent.
std::uint64_t meminfo(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> name >> kib) {
    std::getline(in, unit);
    if (name == key + ":") return kib * 1024;
  }
  return 0;
}

/// Room left under this process's cgroup v2 memory limit; 0 when there is no limit.
std::uint64_t cgroup_room() {
  std::ifstream self("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  }
  if (path.empty()) return 0;
  const std::string dir = "/sys/fs/cgroup" + (path == "/" ? std::string() : path);
  std::ifstream max_file(dir + "/memory.max"), current_file(dir + "/memory.current");
  std::string max_text;
  std::uint64_t current = 0;
  if (!(max_file >> max_text) || max_text == "max" || !(current_file >> current)) return 0;
  const std::uint64_t limit = std::strtoull(max_text.c_str(), nullptr, 10);
  return limit > current ? limit - current : 1;
}

}  // namespace

std::uint64_t available_memory() {
  std::uint64_t bytes = meminfo("MemAvailable");
  auto lower = [&](std::uint64_t bound) {
    if (bound > 0) bytes = bytes == 0 ? bound : std::min(bytes, bound);
  };
  lower(cgroup_room());
  if (const char* v = std::getenv("VIZRUN_MEMORY_LIMIT_MB"); v && *v) {
    lower(static_cast<std::uint64_t>(std::strtod(v, nullptr) * 1024.0 * 1024.0));
  }
  return bytes;
}

std::string format_bytes(double bytes) {
  static const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

void require_memory(const std::string& what, double bytes) {
  const std::uint64_t available = available_memory();
  if (available == 0 || bytes <= static_cast<double>(available)) return;
  throw Error(what + " needs about " + format_bytes(bytes) + " of memory; " +
              format_bytes(static_cast<double>(available)) + " is available");
}

}  // namespace vizrun
