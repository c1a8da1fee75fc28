// Sweeps: expansion order and ids, every shard source, balanced slices, resume
// after each kind of interruption, and concurrent tasks sharing one folder.
#include "catch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "test_support.h"
#include "vizrun_host/files.h"
#include "vizrun_host/sweep.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace vizrun::host;
using Catch::Matchers::Contains;

namespace {

const char* kSweep = R"(experiment: sw
threads: 1
device: cpu
model: {plugin: tiny_model, weights: random}
techniques:
  - plugin: layer_means
    options: {noise_images: 1, layers: [conv1]}
sweep:
  seed: [0, 1, 2]
  model.options.size: [8, 16]
)";

const PluginRegistry& good_plugins() {
  static PluginRegistry r({vizrun::testing::test_plugin_dir() + "/good"});
  return r;
}

SweepPlan plan_of(const std::string& text, const std::vector<std::string>& extra = {}, const std::string& dir = "/tmp/x") {
  return plan_sweep(parse_config(text, "sweep.yaml", "/base"), extra, good_plugins(), dir);
}

/// Sets environment variables for one scope.
struct Env {
  std::vector<std::string> names;
  Env(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (const char* n : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
                          "JOB_COMPLETION_INDEX"}) {
      ::unsetenv(n);
    }
    for (auto [n, v] : vars) {
      ::setenv(n, v, 1);
      names.push_back(n);
    }
  }
  ~Env() {
    for (const auto& n : names) ::unsetenv(n.c_str());
  }
};

int run_vizrun(const std::vector<std::string>& args) {
  std::string command = std::string(VIZRUN_BINARY);
  for (const auto& a : args) command += " '" + a + "'";
  command += " >/dev/null 2>&1";
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> base_args(const std::string& target) {
  return {target, "--plugin-path", vizrun::testing::test_plugin_dir() + "/good", "-q"};
}

json read_json(const std::string& path) { return json::parse(read_file(path)); }

/// sha256 of every output file of every job, by job id and relative path.
std::map<std::string, std::string> output_hashes(const std::string& sweep_dir) {
  std::map<std::string, std::string> hashes;
  const json manifest = read_json(sweep_dir + "/sweep_manifest.json");  // outlives the loop (ASan found it did not)
  for (const auto& row : manifest["jobs"]) {
    for (const auto& o : row["outputs"]) hashes[o["path"]] = sha256_file(sweep_dir + "/" + o["path"].get<std::string>());
  }
  return hashes;
}

std::string write_config(const std::string& dir, const std::string& text) {
  write_file_atomic(dir + "/sweep.yaml", text);
  return dir + "/sweep.yaml";
}

}  // namespace

TEST_CASE("sweeps expand in a fixed order with ids derived from the resolved config", "[sweep]") {
  SweepPlan a = plan_of(kSweep);
  REQUIRE(a.jobs.size() == 6);
  // Keys in sorted order, the last one varying fastest.
  CHECK(a.jobs[0].overrides == std::vector<std::string>{"model.options.size=8", "seed=0"});
  CHECK(a.jobs[1].overrides == std::vector<std::string>{"model.options.size=8", "seed=1"});
  CHECK(a.jobs[3].overrides == std::vector<std::string>{"model.options.size=16", "seed=0"});
  CHECK(a.jobs[4].experiment.seed == 1);
  CHECK(a.jobs[4].experiment.model.options["size"] == 16);
  std::set<std::string> ids;
  for (const auto& j : a.jobs) {
    ids.insert(j.id);
    CHECK(j.id == sha256_hex(to_yaml(j.experiment.tree.root)).substr(0, 12));
    CHECK_FALSE(j.experiment.tree.root.contains("sweep"));
  }
  CHECK(ids.size() == 6);
  SweepPlan b = plan_of(kSweep);
  for (std::size_t i = 0; i < 6; ++i) CHECK(a.jobs[i].id == b.jobs[i].id);
  CHECK(a.id == b.id);
  // The same job reached another way has the same id; a changed value changes it.
  SweepPlan c = plan_of(kSweep, {"seed=1,5"});
  REQUIRE(c.jobs.size() == 4);
  CHECK(c.jobs[0].id == a.jobs[1].id);
  CHECK(c.jobs[1].id != a.jobs[2].id);
}

TEST_CASE("sweep errors point at the offending axis", "[sweep]") {
  CHECK_THROWS_WITH(plan_of(kSweep, {"seed"}), Contains("expected key.path=value1,value2"));
  // Found by tests/fuzz/fuzz_sweep: a key with '=' split its job's override in the wrong
  // place and let nlohmann's parse_error escape.
  CHECK_THROWS_AS(plan_of(std::string(kSweep) + "  \"seed=1\": [2, 3]\n"), ConfigError);
  CHECK_THROWS_WITH(plan_of(std::string(kSweep) + "  \"seed=1\": [2, 3]\n"),
                    Contains("sweep.yaml:11:3: sweep.seed=1: a swept key path cannot contain '='"));
  CHECK_THROWS_WITH(plan_of(kSweep, {"seed=1,1"}), Contains("resolve to the same config"));
  // Found by fuzz_sweep: values of only spaces left an axis
  // of no values and a sweep of no jobs ("seed= " is the empty list).
  for (const std::string axis : {"seed= ", "seed=   "})
    CHECK_THROWS_WITH(plan_of(kSweep, {axis}), Contains("--sweep " + axis + ": expected key.path=value1,value2"));
  CHECK_THROWS_WITH(plan_of(kSweep, {"threads=-1,2"}), Contains("--sweep threads=-1: expected an integer >= 0"));
  CHECK_THROWS_WITH(plan_of(std::string(kSweep) + "  precision: [fp32, fp8]\n"),
                    Contains("sweep.yaml:11:14: sweep precision=fp8: expected one of 'fp32', 'bf16', 'auto'"));
}

TEST_CASE("a sweep of more jobs than the limit is refused before it is expanded", "[sweep]") {
  // 20^4 = 160,000 jobs (and far more for longer products, which used to overflow the
  // count): refused at once instead of validating jobs for minutes.
  std::string values = "[0";
  for (int i = 1; i < 20; ++i) values += ", " + std::to_string(i);
  values += "]";
  const std::string text = std::string(kSweep) + "  techniques.0.options.noise_images: " + values +
                           "\n  techniques.0.options.sleep_ms: " + values + "\n  threads: " + values + "\n";
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(plan_of(text, {"seed=" + values.substr(1, values.size() - 2)}),
                    Contains("sweep: 2 x 20 x 20 x 20 x 20 values make more than 10000 jobs"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  std::string many = "seed=0";
  for (int i = 1; i < 64; ++i) many += "," + std::to_string(i);
  std::vector<std::string> axes;
  for (const char* key : {"threads", "techniques.0.options.noise_images", "techniques.0.options.sleep_ms",
                          "model.options.size", "techniques.0.options.layers.0", "precision", "device", "seed",
                          "experiment", "techniques.0.id", "output"})
    axes.push_back(std::string(key) + "=" + many.substr(5));
  CHECK_THROWS_WITH(plan_of(kSweep, axes), Contains("make more than 10000 jobs"));
}

TEST_CASE("shards come from --shard, SLURM array variables or JOB_COMPLETION_INDEX", "[sweep][shard]") {
  {
    Env env({});
    Shard s = resolve_shard("2/5", 0);
    CHECK((s.index == 2 && s.count == 5 && s.source == "--shard"));
    CHECK(resolve_shard("", 0).source == "all");
    CHECK_THROWS_WITH(resolve_shard("5/5", 0), Contains("out of range"));
    CHECK_THROWS_WITH(resolve_shard("1-4", 0), Contains("expected K/N"));
  }
  {
    Env env({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "4"}});
    Shard s = resolve_shard("", 0);
    CHECK((s.index == 3 && s.count == 4 && s.source == "SLURM_ARRAY_TASK_ID"));
    CHECK(resolve_shard("0/2", 0).source == "--shard");  // the command line wins
  }
  {
    Env env({{"SLURM_ARRAY_TASK_ID", "11"}, {"SLURM_ARRAY_TASK_MIN", "10"}, {"SLURM_ARRAY_TASK_MAX", "13"}});
    Shard s = resolve_shard("", 0);
    CHECK((s.index == 1 && s.count == 4));
  }
  {
    Env env({{"SLURM_ARRAY_TASK_ID", "1"}});
    CHECK_THROWS_WITH(resolve_shard("", 0), Contains("SLURM_ARRAY_TASK_COUNT"));
  }
  {
    Env env({{"JOB_COMPLETION_INDEX", "2"}});
    CHECK_THROWS_WITH(resolve_shard("", 0), Contains("--shard-count"));
    Shard s = resolve_shard("", 3);
    CHECK((s.index == 2 && s.count == 3 && s.source == "JOB_COMPLETION_INDEX"));
  }
}

TEST_CASE("shards are disjoint, cover every job and stay balanced when one axis drives the cost", "[sweep][shard]") {
  // 3 image sizes x 6 seeds; cost grows with the square of the size.
  SweepPlan plan = plan_of(kSweep, {"model.options.size=8,16,32", "seed=0,1,2,3,4,5"});
  REQUIRE(plan.jobs.size() == 18);
  for (std::size_t n : {2u, 3u, 4u, 6u}) {
    std::vector<int> seen(plan.jobs.size(), 0);
    std::vector<double> cost(n, 0);
    std::vector<std::size_t> size(n, 0);
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t j : shard_jobs(plan, k, n)) {
        ++seen[j];
        const double s = plan.jobs[j].experiment.model.options["size"].get<double>();
        cost[k] += s * s;
        ++size[k];
      }
    }
    CHECK(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
    CHECK(*std::max_element(size.begin(), size.end()) - *std::min_element(size.begin(), size.end()) <= 1);
    // Contiguous slices of this product give a max/min cost ratio of 16 for n = 3.
    INFO("shards " << n << ": max/min cost " << *std::max_element(cost.begin(), cost.end()) / *std::min_element(cost.begin(), cost.end()));
    CHECK(*std::max_element(cost.begin(), cost.end()) <= 1.6 * *std::min_element(cost.begin(), cost.end()));
  }
}

TEST_CASE("a resumed sweep skips complete jobs and redoes every other kind", "[sweep][resume]") {
  const std::string dir = vizrun::testing::temp_dir("resume");
  const std::string config = write_config(dir, kSweep);
  const std::string sweep_dir = dir + "/sweep";
  auto args = base_args(config);
  args.insert(args.end(), {"--out", sweep_dir});
  REQUIRE(run_vizrun(args) == 0);
  REQUIRE(run_vizrun({"merge", sweep_dir}) == 0);
  const auto reference = output_hashes(sweep_dir);
  const json jobs = read_json(sweep_dir + "/sweep_manifest.json")["jobs"];
  auto manifest_of = [&](int i) { return sweep_dir + "/" + jobs[i]["id"].get<std::string>() + "/manifest.json"; };
  auto set_status = [&](int i, const char* status) {
    json m = read_json(manifest_of(i));
    m["status"] = status;
    write_file_atomic(manifest_of(i), m.dump());
  };
  const std::string untouched = read_file(manifest_of(5));
  set_status(0, "running");      // killed hard (SIGKILL, node failure)
  set_status(1, "failed");
  set_status(2, "interrupted");  // SIGTERM at the time limit
  fs::remove_all(sweep_dir + "/" + jobs[3]["id"].get<std::string>());         // never started
  fs::create_directories(sweep_dir + "/." + jobs[4]["id"].get<std::string>() + ".tmp-host-1");  // leftover
  fs::remove(sweep_dir + "/" + jobs[4]["id"].get<std::string>() + "/manifest.json");  // half-made folder

  CHECK(run_vizrun({"merge", sweep_dir}) == 1);
  REQUIRE(run_vizrun({sweep_dir, "--plugin-path", vizrun::testing::test_plugin_dir() + "/good", "-q"}) == 0);
  REQUIRE(run_vizrun({"merge", sweep_dir}) == 0);
  CHECK(read_file(manifest_of(5)) == untouched);  // complete: not rerun
  for (int i = 0; i < 5; ++i) CHECK(read_json(manifest_of(i))["status"] == "complete");
  CHECK(output_hashes(sweep_dir) == reference);  // redone work is bit-identical
  for (const auto& entry : fs::directory_iterator(sweep_dir)) {
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("SIGTERM stops a sweep task and resubmitting finishes it with nothing lost", "[sweep][resume]") {
  const std::string dir = vizrun::testing::temp_dir("sweep-term");
  const std::string config = write_config(dir, std::string(kSweep) + "  techniques.0.options.sleep_ms: [120]\n");
  const std::string sweep_dir = dir + "/sweep";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execl(VIZRUN_BINARY, "vizrun", config.c_str(), "--plugin-path", (vizrun::testing::test_plugin_dir() + "/good").c_str(),
            "--out", sweep_dir.c_str(), "-q", nullptr);
    ::_exit(127);
  }
  // Let a couple of jobs finish, then send what SLURM sends at the time limit.
  for (int i = 0; i < 400; ++i) {
    int done = 0;
    if (fs::exists(sweep_dir)) {
      for (const auto& e : fs::directory_iterator(sweep_dir)) done += e.path().filename().string().size() == 12;
    }
    if (done >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WEXITSTATUS(status) == 1);
  CHECK(run_vizrun({"merge", sweep_dir}) == 1);
  REQUIRE(run_vizrun({sweep_dir, "--plugin-path", vizrun::testing::test_plugin_dir() + "/good", "-q"}) == 0);
  CHECK(run_vizrun({"merge", sweep_dir}) == 0);
  CHECK(read_json(sweep_dir + "/sweep_manifest.json")["complete"] == 6);
}

TEST_CASE("concurrent shard tasks share one folder without clashing", "[sweep][concurrency]") {
  const std::string dir = vizrun::testing::temp_dir("concurrent");
  const std::string config = write_config(dir, kSweep);
  const std::string shared = dir + "/shared", sequential = dir + "/sequential";
  std::vector<pid_t> pids;
  for (int k = 0; k < 3; ++k) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const std::string shard = std::to_string(k) + "/3";
      ::execl(VIZRUN_BINARY, "vizrun", config.c_str(), "--plugin-path", (vizrun::testing::test_plugin_dir() + "/good").c_str(),
              "--out", shared.c_str(), "--shard", shard.c_str(), "-q", nullptr);
      ::_exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WEXITSTATUS(status) == 0);
  }
  REQUIRE(run_vizrun({"merge", shared}) == 0);
  auto args = base_args(config);
  args.insert(args.end(), {"--out", sequential});
  REQUIRE(run_vizrun(args) == 0);
  REQUIRE(run_vizrun({"merge", sequential}) == 0);
  // Each job ran exactly once (one folder per id, no leftovers) and matches a sequential run bit for bit.
  std::size_t folders = 0;
  for (const auto& e : fs::directory_iterator(shared)) {
    const std::string name = e.path().filename().string();
    CHECK(name.find(".tmp-") == std::string::npos);
    folders += e.is_directory();
  }
  CHECK(folders == 6);
  CHECK(output_hashes(shared) == output_hashes(sequential));
  CHECK(read_json(shared + "/sweep.json")["jobs"] == 6);
}

TEST_CASE("vizrun slurm writes an array script over the captured sweep", "[sweep][slurm]") {
  const std::string dir = vizrun::testing::temp_dir("slurm-script");
  const std::string config = write_config(dir, kSweep);
  REQUIRE(run_vizrun({"slurm", config, "--plugin-path", vizrun::testing::test_plugin_dir() + "/good", "--out", dir + "/sw",
                      "--partition", "gpu", "--time", "1:00:00", "--cpus", "4", "--gpus", "1", "--tasks", "3",
                      "--array-parallelism", "2"}) == 0);
  const std::string script = read_file(dir + "/sw/vizrun-array.sbatch");
  CHECK_THAT(script, Contains("#SBATCH --array=0-2%2"));
  CHECK_THAT(script, Contains("#SBATCH --partition=gpu"));
  CHECK_THAT(script, Contains("#SBATCH --time=1:00:00"));
  CHECK_THAT(script, Contains("#SBATCH --gpus=1"));
  CHECK_THAT(script, Contains("#SBATCH --cpus-per-task=4"));
  CHECK_THAT(script, Contains(" run '" + dir + "/sw' -q"));
  // The captured plan is independent of the original file.
  fs::remove(config);
  CHECK(run_vizrun({"plan", dir + "/sw", "--plugin-path", vizrun::testing::test_plugin_dir() + "/good"}) == 0);
}
