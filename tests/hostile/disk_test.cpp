// A full disk (issue 13, defect 11): a run that fills its folder fails with one
// error line; the manifest says "failed" with the reason; every file left is complete
// and listed; nothing half-written or temporary remains.
//
// The disk is a 3 MiB tmpfs mounted in a private mount namespace (`unshare -rm`,
// root or unprivileged user namespaces). Where that is not allowed, the test falls
// back to RLIMIT_FSIZE (a per-file size limit: writes fail with EFBIG, "File too
// large") and says so.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "catch.h"
#include "isolation_util.h"
#include "test_support.h"
#include "vizrun_host/files.h"

namespace fs = std::filesystem;
using namespace vizrun::hostile;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

bool can_mount_tmpfs(const std::string& dir) {
  fs::create_directories(dir + "/probe");
  const std::string command = "unshare -rm sh -c 'mount -t tmpfs -o size=1m vizrun-probe " + quote(dir + "/probe") +
                              "' >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

const char* kScript = R"(mnt=$1; copy=$2; shift 2
mount -t tmpfs -o size=3m vizrun-full "$mnt" || exit 97
"$@" >"$copy.out" 2>"$copy.err"
rc=$?
cp -a "$mnt/." "$copy/"
exit $rc
)";

}  // namespace

TEST_CASE("a run that fills the disk fails with one line and leaves only complete, listed files", "[hostile][disk]") {
  const std::string dir = vizrun::testing::temp_dir("disk-full");
  // About 250 KB of arrays and pictures per image: 30 images do not fit.
  const std::string config = write_experiment(dir, R"(  - plugin: layer_means
    options: {noise_images: 30, layers: [pool1, conv2, conv1]}
  - plugin: layer_means
    id: later
    options: {noise_images: 1, layers: [conv1]}
)");
  {
    std::string text = vizrun::host::read_file(config);
    text.replace(text.find("size: 12"), 8, "size: 96");
    vizrun::host::write_file_atomic(config, text);
  }
  const std::string copy = dir + "/copy";  // the run folder, copied out of the namespace
  fs::create_directories(copy);
  std::string mode, full_disk;
  int exit_code = -1;
  if (can_mount_tmpfs(dir)) {
    mode = "tmpfs of 3 MiB";
    full_disk = "No space left on device";
    const std::string mnt = dir + "/mnt";
    fs::create_directories(mnt);
    vizrun::host::write_file_atomic(dir + "/full.sh", kScript);
    const std::string command = "unshare -rm sh " + quote(dir + "/full.sh") + " " + quote(mnt) + " " + quote(copy) + " " +
                                VIZRUN_BINARY + " " + quote(config) + " --plugin-path " +
                                quote(vizrun::testing::test_plugin_dir() + "/good") + " --out " + quote(mnt + "/run") + " -q";
    const int status = std::system(command.c_str());
    REQUIRE(WIFEXITED(status));
    exit_code = WEXITSTATUS(status);
    REQUIRE(exit_code != 97);
  } else {
    mode = "RLIMIT_FSIZE of 100 KiB (mounting a tmpfs is not allowed here)";
    full_disk = "File too large";
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const rlimit limit{100 * 1024, 100 * 1024};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      std::freopen((copy + ".out").c_str(), "w", stdout);
      std::freopen((copy + ".err").c_str(), "w", stderr);
      ::execl(VIZRUN_BINARY, "vizrun", config.c_str(), "--plugin-path", (vizrun::testing::test_plugin_dir() + "/good").c_str(),
              "--out", (copy + "/run").c_str(), "-q", nullptr);
      ::_exit(127);
    }
    exit_code = wait_exit(pid);
  }
  WARN("full disk simulated with a " << mode);
  const std::string err = vizrun::host::read_file(copy + ".err");
  INFO(err);
  CHECK(exit_code == 1);
  const auto errors = lines_starting(err, "vizrun: error: ");
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Contains("layer_means: cannot ") && Contains("/run/layer_means/") && Contains(full_disk));

  const std::string run_dir = copy + "/run";
  const json m = manifest_of(run_dir);
  CHECK(m["status"] == "failed");
  CHECK_THAT(m["error"].get<std::string>(), Contains(full_disk) && Contains("the techniques after it were not run"));
  REQUIRE(m["techniques"].size() == 1);  // "later" was not started on a full disk
  CHECK(m["techniques"][0]["status"] == "failed");
  CHECK(m.contains("finished_utc"));
  const auto listed = listed_outputs(m);
  CHECK(listed.size() > 0);        // some files fitted
  CHECK(listed.size() < 30 * 6);   // not all of them
  check_files_are_complete_and_listed(run_dir, m);
  CHECK_THAT(vizrun::host::read_file(run_dir + "/config.yaml"), Contains("experiment: hostile"));
}
