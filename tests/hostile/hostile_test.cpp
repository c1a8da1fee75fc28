// Hostile and careless inputs (issue 13): each case feeds what an attacker or a
// slip of the keyboard would, and checks the exit code, the single line that
// explains it and, for runs, the manifest the run leaves behind.
#include "catch.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <sstream>
#include <thread>

#include <torch/types.h>

#include "test_support.h"
#include "vizrun_host/config.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/files.h"
#include "vizrun_host/image_io.h"
#include "vizrun_host/runner.h"

namespace fs = std::filesystem;
using nlohmann::json;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace vizrun::host;

namespace {

struct Result {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
  long max_rss_kb = 0;  ///< peak resident memory of the vizrun process
};

/// Runs the real vizrun (no shell, so arguments may hold any byte) and measures it.
Result run_vizrun(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  const std::string dir = vizrun::testing::temp_dir("hostile-io");
  const std::string out = dir + "/out", err = dir + "/err";
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> argv{const_cast<char*>(VIZRUN_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(VIZRUN_BINARY, argv.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  REQUIRE(::wait4(pid, &status, 0, &usage) == pid);
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.max_rss_kb = usage.ru_maxrss;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

std::string good_plugins() { return vizrun::testing::test_plugin_dir() + "/good"; }

/// The message of the first line of stderr, and a check that it is the only one.
std::string only_line(const Result& r) {
  INFO("stderr: " << r.err);
  REQUIRE(!r.err.empty());
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  return r.err.substr(0, r.err.find('\n'));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

json manifest_of(const std::string& run_dir) { return json::parse(read_file(run_dir + "/manifest.json")); }

constexpr const char* kExperiment = R"(experiment: hostile
seed: 1
device: cpu
threads: 1
model: {plugin: tiny_model, weights: random, options: {size: 16}}
techniques:
  - plugin: layer_means
    options:
      noise_images: 1
      layers: [conv1]
)";

std::string write(const std::string& path, const std::string& text) {
  write_file_atomic(path, text);
  return path;
}

/// The classic "billion laughs": 9 levels of 9 aliases, 9^9 strings once expanded.
std::string alias_bomb() {
  std::string text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char level = 'b'; level <= 'i'; ++level) {
    const std::string prev(1, static_cast<char>(level - 1));
    text += std::string(1, level) + ": &" + level + " [";
    for (int i = 0; i < 9; ++i) text += (i ? ",*" : "*") + prev;
    text += "]\n";
  }
  return text;
}

// --- PNG files written here, so a bomb never sits in the repository ---------------

void put_u32(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}

void put_chunk(std::ofstream& out, const char* type, const std::string& data) {
  std::string chunk;
  put_u32(chunk, static_cast<std::uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  chunk += body;
  put_u32(chunk, static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
}

/// An 8-bit grey PNG of width x height black pixels, compressed as one zlib stream
/// row by row (20000 x 20000 takes about 400 KB). With `rows_written` < height only
/// that many rows are stored: a crafted header that claims more than the file holds.
void write_black_png(const std::string& path, std::uint32_t width, std::uint32_t height, std::uint32_t rows_written) {
  std::ofstream out(path, std::ios::binary);
  out.write("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(ihdr, width);
  put_u32(ihdr, height);
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8 bits, grey, deflate, no filter, no interlace
  put_chunk(out, "IHDR", ihdr);
  z_stream z{};
  REQUIRE(deflateInit(&z, 9) == Z_OK);
  const std::string row(width + 1, '\0');  // filter byte 0, then black
  std::string buffer(1 << 16, '\0');
  auto pump = [&](int flush) {
    do {
      z.next_out = reinterpret_cast<Bytef*>(buffer.data());
      z.avail_out = static_cast<uInt>(buffer.size());
      deflate(&z, flush);
      const std::size_t produced = buffer.size() - z.avail_out;
      if (produced) put_chunk(out, "IDAT", buffer.substr(0, produced));
    } while (z.avail_out == 0);
  };
  for (std::uint32_t y = 0; y < rows_written; ++y) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(row.data()));
    z.avail_in = static_cast<uInt>(row.size());
    pump(Z_NO_FLUSH);
  }
  pump(Z_FINISH);
  deflateEnd(&z);
  put_chunk(out, "IEND", "");
}

/// A small RGB photo (a gradient) written by the host's PNG writer.
void write_photo(const std::string& path, int width, int height) {
  auto img = torch::arange(width * height * 3, torch::kInt64).remainder(251).to(torch::kUInt8).reshape({height, width, 3});
  write_png(path, img);
}

}  // namespace

// ---------------------------------------------------------------------------------
// 1. YAML alias bombs
// ---------------------------------------------------------------------------------

TEST_CASE("a YAML alias bomb is refused in well under a second, naming the alias", "[hostile][alias]") {
  const std::string text = alias_bomb();
  CHECK(text.size() < 500);
  const auto start = std::chrono::steady_clock::now();
  const std::string message = error_of([&] { parse_config(text, "bomb.yaml", "."); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("alias bomb (" << text.size() << " bytes) refused in " << seconds * 1000 << " ms");
#ifdef VIZRUN_SANITIZER_BUILD
  const double bound = 10.0;  // instrumented and on a loaded machine: still far below the 100 s an unbounded expansion takes
#else
  const double bound = 0.5;
#endif
  CHECK(seconds < bound);
  // The first alias that would take the document past the limit: the third *e.
  CHECK_THAT(message, StartsWith("bomb.yaml:6:14: f[2]: alias *e repeats 66,430 values"));
  CHECK_THAT(message, Contains("alias bomb"));
  CHECK(message.find('\n') == std::string::npos);

  // Through the CLI: validate and run exit 2 with that line, and run creates nothing.
  const std::string dir = vizrun::testing::temp_dir("alias");
  const std::string file = write(dir + "/bomb.yaml", std::string(kExperiment) + "description: &d x\n" + "sweep:\n" +
                                                         [&] {
                                                           std::string s;
                                                           std::istringstream lines(text);
                                                           std::string line;
                                                           while (std::getline(lines, line)) s += "  " + line + "\n";
                                                           return s;
                                                         }());
  Result v = run_vizrun({"validate", file, "--plugin-path", good_plugins()});
  CHECK(v.exit_code == 2);
  CHECK_THAT(only_line(v), StartsWith("vizrun: error: " + file + ":18:16: "));
  CHECK_THAT(v.err, Contains("sweep.f[2]: alias *e repeats"));
  CHECK(v.seconds < 30);  // was over 100 s and 5.8 GB
  Result r = run_vizrun({"run", file, "--plugin-path", good_plugins(), "--out", dir + "/run", "-q"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(only_line(r), Contains("alias *e repeats"));
  CHECK_FALSE(fs::exists(dir + "/run"));
}

TEST_CASE("recursive aliases, too many aliases and deep nesting are refused, and plain aliases still work", "[hostile][alias]") {
  CHECK_THAT(error_of([] { parse_config("a: &x [1, *x]\n", "r.yaml", "."); }),
             StartsWith("r.yaml:1:11: a[1]: alias *x refers to a node that contains it"));
  std::string many = "v: &v 1\nlist: [";
  for (int i = 0; i < 10001; ++i) many += i ? ", *v" : "*v";
  many += "]\n";
  const std::string too_many = error_of([&] { parse_config(many, "many.yaml", "."); });
  CHECK_THAT(too_many, StartsWith("many.yaml:2:"));
  CHECK_THAT(too_many, Contains("alias number 10,001; a config may use at most 10,000"));
  const std::string deep = std::string(300, '[') + std::string(300, ']') + "\n";
  CHECK_THAT(error_of([&] { parse_config("a: " + deep, "deep.yaml", "."); }), Contains("nesting deeper than"));

  // Anchors and aliases of ordinary size behave as before, keys included.
  ConfigTree t = parse_config("a: &x {k: 1, l: [2, 3]}\nb: *x\nname: &n key\n*n : 4\n", "ok.yaml", ".");
  CHECK(t.root["b"] == json({{"k", 1}, {"l", {2, 3}}}));
  CHECK(t.root["key"] == 4);
  CHECK(t.origin_of("/b").describe() == "ok.yaml:2:4");
  CHECK(t.origin_of("/b/k").describe() == "ok.yaml:2:4");  // inside an alias: where the alias is
}

// ---------------------------------------------------------------------------------
// 2. Text that is not UTF-8
// ---------------------------------------------------------------------------------

TEST_CASE("text that is not UTF-8 is refused with file, line and column", "[hostile][utf8]") {
  const std::string dir = vizrun::testing::temp_dir("utf8");
  const std::string file = write(dir + "/latin1.yaml", std::string(kExperiment) + "description: caf\xe9 au lait\n");
  Result v = run_vizrun({"validate", file, "--plugin-path", good_plugins()});
  CHECK(v.exit_code == 2);
  CHECK_THAT(only_line(v), StartsWith("vizrun: error: " + file + ":11:17: invalid UTF-8 (byte 0xe9)"));
  Result r = run_vizrun({"run", file, "--plugin-path", good_plugins(), "--out", dir + "/run", "-q"});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(fs::exists(dir + "/run"));

  // Columns count characters: two-byte and four-byte characters before the bad byte.
  CHECK_THAT(error_of([] { parse_config("description: \xc3\xa9\xf0\x9d\x84\x9e \xff\n", "c.yaml", "."); }),
             StartsWith("c.yaml:1:17: invalid UTF-8 (byte 0xff)"));
  // In a key, an experiment name, overlong forms, surrogates, truncated sequences.
  CHECK_THAT(error_of([] { parse_config("seed: 1\nk\xe9y: 1\n", "k.yaml", "."); }), StartsWith("k.yaml:2:2: invalid UTF-8"));
  CHECK_THAT(error_of([] { parse_config("experiment: \xc0\xaf\n", "e.yaml", "."); }), StartsWith("e.yaml:1:13: invalid UTF-8 (byte 0xc0)"));
  CHECK_THAT(error_of([] { parse_config("a: \xed\xa0\x80\n", "s.yaml", "."); }), StartsWith("s.yaml:1:4: invalid UTF-8 (byte 0xed)"));
  CHECK_THAT(error_of([] { parse_config("a: b\xe2\x82", "t.yaml", "."); }), StartsWith("t.yaml:1:5: invalid UTF-8 (byte 0xe2)"));
  // An escape that encodes no character.
  CHECK_THAT(error_of([] { parse_config("a: \"x\\ud800\"\n", "u.yaml", "."); }), StartsWith("u.yaml:1:"));
  // Good UTF-8 passes and round-trips.
  ConfigTree ok = parse_config("description: \"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e\"\n", "ok.yaml", ".");
  CHECK(ok.root["description"] == "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e");
  CHECK(parse_config(to_yaml(ok.root), "again.yaml", ".").root == ok.root);

  // From the command line: one line that shows the bad byte instead of printing it.
  const std::string clean = write(dir + "/clean.yaml", kExperiment);
  Result o = run_vizrun({"validate", clean, "--plugin-path", good_plugins(), "--set", std::string("description=caf\xe9")});
  CHECK(o.exit_code == 2);
  CHECK(only_line(o) == "vizrun: error: --set description=caf\\xe9: byte 4 of the value (0xe9) is not UTF-8; expected UTF-8 text");
}

#ifdef VIZRUN_HOSTILE_WITH_PLUGINS
TEST_CASE("a run whose input file names are not UTF-8 still ends with a complete manifest", "[hostile][utf8][run]") {
  const std::string dir = vizrun::testing::temp_dir("utf8-run");
  fs::create_directories(dir + "/photos");
  write_photo(dir + "/photos/caf\xe9.png", 16, 16);
  const std::string file = write(dir + "/exp.yaml", R"(experiment: names
device: cpu
threads: 1
model: {plugin: tiny_model, weights: random, options: {size: 16}}
techniques:
  - plugin: activations
    options: {images: "photos/*.png", layers: [conv1]}
)");
  Result r = run_vizrun({"run", file, "--plugin-path", good_plugins(), "--out", dir + "/run", "-q"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json m = manifest_of(dir + "/run");
  CHECK(m["status"] == "complete");
  REQUIRE(m["inputs"].size() == 1);
  // The byte that is not UTF-8 is recorded as U+FFFD instead of ending the run.
  CHECK_THAT(m["inputs"][0]["path"].get<std::string>(), Contains("caf\xef\xbf\xbd.png"));
  CHECK(m["techniques"][0]["status"] == "complete");
}
#endif

// ---------------------------------------------------------------------------------
// 3. NaN and infinity
// ---------------------------------------------------------------------------------

TEST_CASE("NaN, infinity and numbers beyond a double are refused for every number", "[hostile][nan]") {
  const std::vector<std::string> keys = {"step_size", "deprocess_std", "memory_budget_mb", "init_scale",
                                         "intensity", "scale",         "offset",           "anything_else"};
  const std::vector<std::string> values = {".nan", ".NaN", ".NAN", ".inf", "-.inf", "+.Inf", ".INF", "1e309", "-1e999"};
  for (const auto& key : keys) {
    for (const auto& value : values) {
      const std::string text = std::string(kExperiment) + "      " + key + ": " + value + "\n";
      const std::string message = error_of([&] { parse_config(text, "exp.yaml", "."); });
      INFO(key << ": " << value << " -> " << message);
      const std::string where = "exp.yaml:11:" + std::to_string(9 + key.size()) + ": techniques[0].options." + key + ": ";
      CHECK_THAT(message, StartsWith(where));
      CHECK_THAT(message, Contains("expected a finite number"));
    }
  }
  CHECK_THAT(error_of([] { parse_config("seed: 1e309\n", "x.yaml", "."); }),
             StartsWith("x.yaml:1:7: seed: the number 1e309 is too large"));
  // Tiny numbers underflow to (sub)normals and are fine; quoted ".nan" is a string.
  CHECK(parse_config("a: 1e-320\n", "x.yaml", ".").root["a"].get<double>() > 0);
  CHECK(parse_config("a: '.nan'\n", "x.yaml", ".").root["a"] == ".nan");
  CHECK(parse_config("a: 99999999999999999999\n", "x.yaml", ".").root["a"].get<double>() == 1e20);

  const std::string dir = vizrun::testing::temp_dir("nan");
  const std::string file = write(dir + "/exp.yaml", kExperiment);
  Result v = run_vizrun({"validate", file, "--plugin-path", good_plugins(), "--set", "techniques.0.options.noise_images=.nan"});
  CHECK(v.exit_code == 2);
  CHECK(only_line(v) ==
        "vizrun: error: --set techniques.0.options.noise_images=.nan: expected a finite number, got .nan (NaN and "
        "infinity are not accepted)");
  Result r = run_vizrun({"run", file, "--plugin-path", good_plugins(), "--out", dir + "/run", "--set", "seed=.inf"});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(fs::exists(dir + "/run"));
}

// ---------------------------------------------------------------------------------
// 4. Numbers too large for the machine
// ---------------------------------------------------------------------------------

#ifdef VIZRUN_HOSTILE_WITH_PLUGINS
TEST_CASE("validate looks inside small_convnet's architecture file: file, line and key", "[hostile][validate]") {
  const std::string dir = vizrun::testing::temp_dir("validate-arch");
  const std::string arch = write(dir + "/arch.yaml",
                                 "input: {height: 28, width: 28, channels: 1}\n"
                                 "layers:\n"
                                 "  - {type: conv2d, filters: 4}\n"
                                 "  - {type: max_pool, pool: 0}\n");
  auto experiment = [&](const std::string& name, const std::string& options) {
    return write(dir + "/" + name,
                 "experiment: arch\nseed: 1\ndevice: cpu\nthreads: 1\n"
                 "model:\n  plugin: small_convnet\n  weights: random\n  options: " + options + "\n"
                 "techniques:\n  - plugin: layer_means\n    options: {noise_images: 1, layers: [conv2d_1]}\n");
  };
  // pool: 0 in the file: the schema cannot see it; it used to pass validate and die
  // of SIGFPE (later: fail on one line) only at run time.
  Result bad = run_vizrun({"validate", experiment("bad.yaml", "{architecture: arch.yaml}"), "--plugin-path", good_plugins()});
  CHECK(bad.exit_code == 2);
  CHECK(bad.out.empty());
  CHECK(only_line(bad) == "vizrun: error: " + arch + ":4:28: layers[1].pool: small_convnet: architecture 'arch.yaml': "
                          "layer 2 ('max_pooling2d_1'): pool must be between 1 and 64, got 0");

  // A file that is not there: the line names the experiment's key.
  const std::string missing = experiment("missing.yaml", "{architecture: nowhere.yaml}");
  Result gone = run_vizrun({"validate", missing, "--plugin-path", good_plugins()});
  CHECK(gone.exit_code == 2);
  const std::string gone_line = only_line(gone);
  CHECK_THAT(gone_line, Catch::StartsWith("vizrun: error: " + missing + ":8:27: model.options.architecture: "));
  CHECK_THAT(gone_line, Catch::Contains("nowhere.yaml: cannot open file"));

  // Inline layers, a window larger than its input: the experiment's line and key.
  const std::string small = experiment("inline.yaml", "{input: {height: 4, width: 4, channels: 1}, layers: [{type: max_pool, pool: 5}]}");
  Result win = run_vizrun({"validate", small, "--plugin-path", good_plugins()});
  CHECK(win.exit_code == 2);
  CHECK_THAT(only_line(win), Catch::StartsWith("vizrun: error: " + small + ":8:") &&
                                 Catch::Contains("model.options.layers[0]: small_convnet: layer 1 ('max_pooling2d_1')") &&
                                 Catch::Contains("input 4x4 is smaller than the window 5x5"));

  // The same file, fixed: valid, and the run agrees.
  write(arch, "input: {height: 28, width: 28, channels: 1}\nlayers:\n  - {type: conv2d, filters: 4}\n"
              "  - {type: max_pool, pool: 2}\n");
  Result good = run_vizrun({"validate", experiment("good.yaml", "{architecture: arch.yaml}"), "--plugin-path", good_plugins()});
  CHECK(good.exit_code == 0);
  CHECK_THAT(good.out, Catch::Contains("valid (model small_convnet, 1 technique)"));
}
#endif

#ifdef VIZRUN_HOSTILE_WITH_PLUGINS
TEST_CASE("a weights file that crashes libhdf5 ends the run as crashed, on one line", "[hostile][h5]") {
  // tests/fuzz/findings: corrupt global heaps on which libhdf5 1.10.8's H5HG_read
  // reads out of bounds (tests/fuzz/README.md). vizrun cannot check the heap before
  // libhdf5 does; the weights are read in the supervised worker, so the fault costs
  // the run, never the record.
  for (const std::string kind : {"segv", "overlap"}) {
    INFO(kind);
    const std::string dir = vizrun::testing::temp_dir("h5-crash");
    const std::string file = write(dir + "/exp.yaml",
                                   "experiment: h5\nseed: 1\ndevice: cpu\nthreads: 1\n"
                                   "model:\n  plugin: small_convnet\n  weights: " VIZRUN_FUZZ_FINDINGS
                                   "/keras_h5-libhdf5-H5HG_read-" + kind + ".h5\n"
                                   "  options: {input: {height: 28, width: 28, channels: 1}, layers: [{type: conv2d, filters: 4}]}\n"
                                   "techniques:\n  - plugin: layer_means\n    options: {noise_images: 1, layers: [conv2d_1]}\n");
    // validate does not open weights: the file passes it.
    CHECK(run_vizrun({"validate", file, "--plugin-path", good_plugins()}).exit_code == 0);
    Result r = run_vizrun({"run", file, "--plugin-path", good_plugins(), "--out", dir + "/run", "-q"});
    CHECK(r.exit_code == 1);
    INFO(r.err);
    // SIGSEGV in the Release build; under AddressSanitizer its report ends in SIGABRT.
    // (AddressSanitizer prints its report before the line.)
    std::string line;
    std::istringstream lines(r.err);
    for (std::string l; line.empty() && std::getline(lines, l);)
      if (l.rfind("vizrun: error: ", 0) == 0) line = l;
    CHECK_THAT(line, Catch::StartsWith("vizrun: error: model plugin 'small_convnet' crashed: the run worker died of SIG") &&
                         Catch::EndsWith("at stage 'loading'"));
    const json m = manifest_of(dir + "/run");
    CHECK(m["status"] == "crashed");
    CHECK(m["crash"]["plugin"] == "small_convnet");
    CHECK(m["crash"]["kind"] == "model");
    CHECK(m["crash"]["stage"] == "loading");
  }
}
#endif

TEST_CASE("threads beyond 4 x the machine's cores are refused up front", "[hostile][threads]") {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string dir = vizrun::testing::temp_dir("threads");
  const std::string file = write(dir + "/exp.yaml", kExperiment);
  Result v = run_vizrun({"validate", file, "--plugin-path", good_plugins(), "--set", "threads=100000"});
  CHECK(v.exit_code == 2);
  CHECK(only_line(v) == "vizrun: error: --set threads=100000: expected at most " + std::to_string(4 * cores) +
                            " threads (4 x the " + std::to_string(cores) +
                            " cores of this machine; 0 uses every core), got 100000");
  CHECK(v.seconds < 30);
  Result r = run_vizrun({"run", file, "--plugin-path", good_plugins(), "--out", dir + "/run", "--set", "threads=100000"});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(fs::exists(dir + "/run"));
  // In the file, the line and key are named; the bound itself is allowed.
  const std::string many = write(dir + "/many.yaml", std::string(kExperiment) + "output: runs\n");
  std::string text = read_file(many);
  text.replace(text.find("threads: 1"), 10, "threads: 1000000000000");
  write(many, text);
  Result f = run_vizrun({"validate", many, "--plugin-path", good_plugins()});
  CHECK(f.exit_code == 2);
  CHECK_THAT(only_line(f), StartsWith("vizrun: error: " + many + ":4:10: threads: expected at most"));
  Result ok = run_vizrun({"validate", file, "--plugin-path", good_plugins(), "--set", "threads=" + std::to_string(4 * cores)});
  CHECK(ok.exit_code == 0);
}

TEST_CASE("LibTorch errors and std::bad_alloc become one line without a backtrace", "[hostile][memory]") {
  CHECK(one_line_error(std::bad_alloc()) ==
        "out of memory (std::bad_alloc): an option asks for more memory than this machine has");
  std::string line;
  try {
    TORCH_CHECK(false, "shape mismatch\nsecond line");
  } catch (const c10::Error& e) {
    CHECK(std::string(e.what()).find("Exception raised from") != std::string::npos);  // what the user used to see
    line = one_line_error(e);
  }
  CHECK(line == "shape mismatch second line");
}

#ifdef VIZRUN_HOSTILE_WITH_PLUGINS
namespace {

/// Every number in a schema (through oneOf/anyOf, items and properties) has both bounds.
void check_bounded(const json& s, const std::string& where) {
  if (!s.is_object()) return;
  const auto types = s.contains("type") ? (s["type"].is_array() ? s["type"] : json::array({s["type"]})) : json::array();
  for (const auto& t : types) {
    if (t == "integer" || t == "number") {
      INFO(where);
      CHECK((s.contains("minimum") || s.contains("exclusiveMinimum")));
      CHECK((s.contains("maximum") || s.contains("exclusiveMaximum")));
    }
  }
  for (const char* key : {"oneOf", "anyOf"}) {
    if (s.contains(key)) {
      for (std::size_t i = 0; i < s[key].size(); ++i) check_bounded(s[key][i], where + "/" + key + "/" + std::to_string(i));
    }
  }
  if (s.contains("items")) check_bounded(s["items"], where + "/items");
  if (s.contains("properties")) {
    for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) check_bounded(it.value(), where + "." + it.key());
  }
}

std::string technique_config(const std::string& dir, const std::string& plugin, const std::string& options) {
  return write(dir + "/exp.yaml", "experiment: bounds\ndevice: cpu\nthreads: 1\n"
                                  "model: {plugin: tiny_model, weights: random, options: {size: 16}}\n"
                                  "techniques:\n  - plugin: " + plugin + "\n    options: {" + options + "}\n");
}

}  // namespace

TEST_CASE("every numeric option of the shipped techniques has sane bounds", "[hostile][bounds]") {
  int techniques = 0;
  for (const auto& d : vizrun::testing::registry().plugins()) {
    if (d.kind != "technique") continue;
    ++techniques;
    check_bounded(json::parse(d.options_schema), d.name);
  }
  CHECK(techniques >= 3);

  const std::string dir = vizrun::testing::temp_dir("bounds");
  write_photo(dir + "/p.png", 16, 16);
  struct Case {
    std::string plugin, options, message;
  };
  const std::vector<Case> cases = {
      {"filter_ascent", "layers: conv1, steps: 1e12", "techniques[0].options.steps: expected an integer >= 1 and <= 100000, got number"},
      {"filter_ascent", "layers: conv1, size: 100000", "techniques[0].options.size: expected an integer >= 1 and <= 8192"},
      {"filter_ascent", "layers: conv1, grid_margin: 1000000000", "techniques[0].options.grid_margin: expected an integer >= 0 and <= 256"},
      {"gradcam", "images: p.png, heatmap_size: 100000", "techniques[0].options.heatmap_size: expected an integer >= 1 and <= 4096"},
      {"activations", "images: p.png, upscale: 100000", "techniques[0].options.upscale: expected"},
      {"activations", "images: p.png, scale: 1e300", "techniques[0].options.scale: expected a number >= -1000000 and <= 1000000"},
  };
  for (const auto& c : cases) {
    const std::string file = technique_config(dir, c.plugin, c.options);
    Result v = run_vizrun({"validate", file, "--plugin-path", good_plugins()});
    INFO(c.plugin << " {" << c.options << "}");
    CHECK(v.exit_code == 2);
    CHECK_THAT(only_line(v), StartsWith("vizrun: error: " + file + ":7:"));
    CHECK_THAT(v.err, Contains(c.message));
  }
}

TEST_CASE("work too large for the memory available is refused before allocating, on one line", "[hostile][memory]") {
  const std::string dir = vizrun::testing::temp_dir("memory");
  write_photo(dir + "/p.png", 16, 16);
  write_photo(dir + "/thin.png", 2000, 2);
  struct Case {
    std::string plugin, options, what;
  };
  const std::vector<Case> cases = {
      {"filter_ascent", "layers: conv1, filters: 4, size: 8192, batch_size: 4", "filter_ascent: conv1: a batch of 4 pictures of 8192x8192 needs about"},
      {"activations", "images: p.png, layers: [conv1], upscale: 256", "activations: the grid of conv1 (4 channels of 4096x4096 pixels, upscale 256) needs about"},
      {"gradcam", "images: thin.png, overlay_min_size: 4096", "enlarged 2048 times for overlay_min_size 4096) needs about"},
  };
  for (const auto& c : cases) {
    INFO(c.plugin << " {" << c.options << "}");
    const std::string run = dir + "/run-" + c.plugin;
    const std::string file = technique_config(dir, c.plugin, c.options);
    Result r = run_vizrun({"run", file, "--plugin-path", good_plugins(), "--out", run, "-q"}, {"VIZRUN_MEMORY_LIMIT_MB=64"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Contains(c.what));
    CHECK_THAT(r.err, Contains("of memory; 64.0 MiB is available"));
    CHECK_THAT(r.err, !Contains("Exception raised from"));
    CHECK_THAT(r.err, !Contains("bad_alloc"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 2);  // the error, then "run failed; see ..."
    const json m = manifest_of(run);
    CHECK(m["status"] == "failed");
    CHECK(m["techniques"][0]["status"] == "failed");
    CHECK_THAT(m["techniques"][0]["error"].get<std::string>(), Contains("64.0 MiB is available"));
    CHECK(m["techniques"][0]["outputs"].empty());
  }
}

// ---------------------------------------------------------------------------------
// 5. Decompression bombs
// ---------------------------------------------------------------------------------

TEST_CASE("a 20000 x 20000 PNG is refused from its header, in little memory", "[hostile][bomb]") {
  const std::string dir = vizrun::testing::temp_dir("bomb");
  write_black_png(dir + "/bomb.png", 20000, 20000, 20000);
  CHECK(fs::file_size(dir + "/bomb.png") < 2'000'000);  // 400 megapixels in under 2 MB
  write_black_png(dir + "/claims.png", 100000, 100000, 1);  // a header that lies
  write_photo(dir + "/small.png", 16, 16);
  auto config = [&](const std::string& image, const std::string& extra) {
    return write(dir + "/exp.yaml", "experiment: bomb\ndevice: cpu\nthreads: 1\n" + extra +
                                        "model: {plugin: tiny_model, weights: random, options: {size: 16}}\n"
                                        "techniques:\n  - plugin: activations\n    options: {images: " + image +
                                        ", layers: [conv1]}\n");
  };
  Result small = run_vizrun({"run", config("small.png", ""), "--plugin-path", good_plugins(), "--out", dir + "/small", "-q"});
  INFO(small.err);
  REQUIRE(small.exit_code == 0);

  Result bomb = run_vizrun({"run", config("bomb.png", ""), "--plugin-path", good_plugins(), "--out", dir + "/bomb", "-q"});
  CHECK(bomb.exit_code == 1);
  const std::string expected = dir + "/bomb.png: image of 20000x20000 pixels (400.0 megapixels) is larger than "
                                     "max_image_pixels 100000000 (100.0 megapixels)";
  CHECK_THAT(bomb.err, StartsWith("vizrun: error: activations: " + expected));
  json m = manifest_of(dir + "/bomb");
  CHECK(m["status"] == "failed");
  CHECK(m["techniques"][0]["status"] == "failed");
  CHECK_THAT(m["techniques"][0]["error"].get<std::string>(), StartsWith(expected));
  CHECK(m["inputs"].empty());
  // Decoding would take 400 MB of bytes and 4.8 GB of floats; the refusal takes
  // no more than the run on a 16 x 16 photo (LibTorch itself is most of both).
  WARN("peak RSS: bomb " << bomb.max_rss_kb << " KiB in " << bomb.seconds << " s, small photo "
                         << small.max_rss_kb << " KiB in " << small.seconds << " s");
  CHECK(bomb.max_rss_kb < small.max_rss_kb + 100 * 1024);

  Result claims = run_vizrun({"run", config("claims.png", ""), "--plugin-path", good_plugins(), "--out", dir + "/claims", "-q"});
  CHECK(claims.exit_code == 1);
  CHECK_THAT(claims.err, Contains("claims.png: image of 100000x100000 pixels (10000.0 megapixels) is larger than"));
  CHECK(manifest_of(dir + "/claims")["status"] == "failed");

  // The limit is the experiment's: a low one refuses even the small photo...
  Result low = run_vizrun({"run", config("small.png", "max_image_pixels: 100\n"), "--plugin-path", good_plugins(), "--out",
                       dir + "/low", "-q"});
  CHECK(low.exit_code == 1);
  CHECK_THAT(low.err, Contains("small.png: image of 16x16 pixels (0.0 megapixels) is larger than max_image_pixels 100"));
  // ...and it must be a positive integer.
  Result bad = run_vizrun({"validate", config("small.png", "max_image_pixels: 0\n"), "--plugin-path", good_plugins()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(only_line(bad), Contains("max_image_pixels: expected an integer >= 1"));
}
#endif

TEST_CASE("the image reader checks the header against the limit before decoding", "[hostile][bomb]") {
  const std::string dir = vizrun::testing::temp_dir("bomb-reader");
  write_black_png(dir + "/claims.png", 30000, 30000, 1);
  CHECK_THAT(error_of([&] { read_image(dir + "/claims.png"); }), Contains("image of 30000x30000 pixels (900.0 megapixels)"));
  write_photo(dir + "/p.png", 20, 10);
  CHECK_THAT(error_of([&] { read_image(dir + "/p.png", 199); }), Contains("is larger than max_image_pixels 199"));
  const at::Tensor ok = read_image(dir + "/p.png", 200);
  CHECK(ok.sizes() == at::IntArrayRef({3, 10, 20}));
  // Memory is checked too: with 1 MiB to spare, a 1000 x 1000 picture does not fit.
  write_black_png(dir + "/mega.png", 1000, 1000, 1000);
  ::setenv("VIZRUN_MEMORY_LIMIT_MB", "1", 1);
  const std::string message = error_of([&] { read_image(dir + "/mega.png"); });
  ::unsetenv("VIZRUN_MEMORY_LIMIT_MB");
  CHECK_THAT(message, Contains("mega.png: decoding 1000x1000 pixels needs about"));
  CHECK_THAT(message, Contains("1.0 MiB is available"));
  CHECK(read_image(dir + "/mega.png").size(1) == 1000);
}

// ---------------------------------------------------------------------------------
// 6. What used to be accepted silently: a second document, NUL, empty paths, a
//    plugin path that does not exist
// ---------------------------------------------------------------------------------

TEST_CASE("a second YAML document and NUL bytes are refused with file, line and column", "[hostile][silent]") {
  const std::string dir = vizrun::testing::temp_dir("silent");
  // kExperiment has 10 lines: the second document starts on line 11.
  const std::string two = write(dir + "/two.yaml", std::string(kExperiment) + "---\nexperiment: other\n");
  Result v = run_vizrun({"validate", two, "--plugin-path", good_plugins()});
  CHECK(v.exit_code == 2);
  CHECK_THAT(only_line(v), StartsWith("vizrun: error: " + two + ":11:"));
  CHECK_THAT(only_line(v), Contains("a second YAML document starts here"));
  // An empty second document, and one after an explicit end marker, count too; a
  // document end marker alone does not.
  CHECK_THAT(error_of([] { parse_config("a: 1\n---\n", "e.yaml", "."); }), Contains("a second YAML document"));
  CHECK_THAT(error_of([] { parse_config("a: 1\n...\n---\nb: 2\n", "m.yaml", "."); }), StartsWith("m.yaml:"));
  CHECK(parse_config("a: 1\n...\n", "end.yaml", ".").root["a"] == 1);
  CHECK(parse_config("---\na: 1\n", "start.yaml", ".").root["a"] == 1);

  // A raw NUL byte: line and column, and the message itself holds no NUL.
  const std::string nul = write(dir + "/nul.yaml", std::string(kExperiment) + std::string("description: a\0b\n", 17));
  Result n = run_vizrun({"validate", nul, "--plugin-path", good_plugins()});
  CHECK(n.exit_code == 2);
  CHECK(only_line(n) == "vizrun: error: " + nul + ":11:15: a NUL byte (0x00); experiment files are text, and a NUL is in "
                        "none (is this a binary file?)");
  // A NUL written as an escape, in a value or a key, and in an override.
  CHECK_THAT(error_of([] { parse_config("a: \"x\\0y\"\n", "esc.yaml", "."); }),
             Contains("esc.yaml:1:4: a: text 'x\\x00y' holds a NUL character (at character 2)"));
  CHECK_THAT(error_of([] { parse_config("\"k\\x00\": 1\n", "key.yaml", "."); }), Contains("holds a NUL character"));
  const std::string clean = write(dir + "/clean.yaml", kExperiment);
  Result o = run_vizrun({"validate", clean, "--plugin-path", good_plugins(), "--set", "description=\"a\\0b\""});
  CHECK(o.exit_code == 2);
  CHECK_THAT(only_line(o), Contains("holds a NUL character"));
  // Control characters in a message are shown, not printed: the error stays one line.
  CHECK_THAT(error_of([] { parse_config("a: \"x\\ny\\0\"\n", "nl.yaml", "."); }), Contains("'x\\x0ay\\x00'"));
}

TEST_CASE("empty paths are refused and a plugin path that does not exist is warned about", "[hostile][silent]") {
  const std::string dir = vizrun::testing::temp_dir("silent-cli");
  const std::string clean = write(dir + "/clean.yaml", kExperiment);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", clean, "--plugin-path", good_plugins(), "--out", ""},
        std::vector<std::string>{"validate", clean, "--plugin-path", ""},
        std::vector<std::string>{"validate", ""},
        std::vector<std::string>{"plan", clean, "--out", ""},
        std::vector<std::string>{"layers", "--model", "tiny_model", "--weights", ""}}) {
    Result r = run_vizrun(args);
    INFO(args[0] << " " << args[1] << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(only_line(r), Contains("expected a path, got an empty string"));
  }

  const std::string missing = dir + "/no-such-folder";
  Result w = run_vizrun({"validate", clean, "--plugin-path", good_plugins(), "--plugin-path", missing});
  INFO(w.err);
  CHECK(w.exit_code == 0);
  CHECK_THAT(w.err, Contains("vizrun: warning: plugin path " + missing + ": no such file or folder"));
  Result p = run_vizrun({"plugins", "--plugin-path", missing});
  CHECK(p.exit_code == 0);
  CHECK_THAT(p.err, Contains("vizrun: warning: plugin path " + missing + ": no such file or folder"));
}
