// libFuzzer target: sweep expansion (framework/core/sweep.cpp). The input is an
// experiment file; after a NUL byte, each line is one `--sweep key=a,b,c` argument.
// Jobs are validated against the plugins in $VIZRUN_FUZZ_PLUGIN_DIR (run.sh points it
// at the test plugins tiny_model and layer_means of a normal build); without it every
// job is refused as naming an unknown plugin, which still expands the axes.
//
// Invariants: the job count is the product of the axis lengths; job ids are unique
// and are the first 12 hex digits of the config hash; each job carries one override
// and one choice per axis; for several shard counts the shards are disjoint, cover
// every job, and differ in size by at most one job.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "fuzz_common.h"
#include "vizrun_host/config.h"
#include "vizrun_host/plugin_registry.h"
#include "vizrun_host/sweep.h"

using namespace vizrun::host;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::unique_ptr<PluginRegistry> registry = [] {
    std::vector<std::string> dirs;
    if (const char* dir = std::getenv("VIZRUN_FUZZ_PLUGIN_DIR")) dirs.push_back(dir);
    return std::make_unique<PluginRegistry>(dirs);
  }();
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string yaml = input.substr(0, nul);
  std::vector<std::string> axes;
  if (nul != std::string::npos) {
    std::istringstream lines(input.substr(nul + 1));
    for (std::string line; std::getline(lines, line) && axes.size() < 8;) axes.push_back(line);
  }
  vizrun::fuzz::refusals_only([&] {
    const ConfigTree tree = parse_config(yaml, "sweep.yaml", "/fuzz");
    if (!is_sweep(tree, axes)) return;
    const SweepPlan plan = plan_sweep(tree, axes, *registry, "/fuzz/sweep");
    FUZZ_CHECK(!plan.jobs.empty());
    FUZZ_CHECK(plan.id.size() == 12);
    const std::size_t n_axes = plan.jobs.front().overrides.size();
    std::set<std::string> ids;
    for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
      const SweepJob& job = plan.jobs[i];
      FUZZ_CHECK(job.index == i);
      FUZZ_CHECK(job.overrides.size() == n_axes && job.choice.size() == n_axes);
      FUZZ_CHECK(job.id == job.config_sha256.substr(0, 12));
      FUZZ_CHECK(ids.insert(job.id).second);
    }
    // The product of the axis lengths: the largest choice + 1 on each axis.
    std::size_t product = 1;
    for (std::size_t a = 0; a < n_axes; ++a) {
      std::size_t longest = 0;
      for (const auto& job : plan.jobs) longest = std::max(longest, job.choice[a] + 1);
      product *= longest;
    }
    FUZZ_CHECK(product == plan.jobs.size());
    for (std::size_t count : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, plan.jobs.size() + 1}) {
      std::vector<int> seen(plan.jobs.size(), 0);
      std::size_t smallest = plan.jobs.size(), largest = 0;
      for (std::size_t k = 0; k < count; ++k) {
        const auto mine = shard_jobs(plan, k, count);
        smallest = std::min(smallest, mine.size());
        largest = std::max(largest, mine.size());
        for (std::size_t j : mine) {
          FUZZ_CHECK(j < plan.jobs.size());
          ++seen[j];
        }
      }
      FUZZ_CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
      FUZZ_CHECK(largest - smallest <= 1);
    }
  });
  return 0;
}
