// Damaged plugin files (issue 13, defect 3): a truncated copy of a real plugin, a
// garbage file, a FIFO or a folder named *.vizplugin.so is refused before dlopen
// with one line naming the file and why; every command goes on (it used to die of
// SIGBUS inside the loader, even `vizrun plugins`).
#include <elf.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>

#include "catch.h"
#include "isolation_util.h"
#include "test_support.h"
#include "vizrun_host/files.h"
#include "vizrun_host/plugin_registry.h"

namespace fs = std::filesystem;
using namespace vizrun::hostile;
using Catch::Matchers::Contains;
using vizrun::host::check_plugin_file;
using vizrun::host::PluginRegistry;

namespace {

std::string good_dir() { return vizrun::testing::test_plugin_dir() + "/good"; }
std::string real_plugin() { return vizrun::host::read_file(good_dir() + "/layer_means.vizplugin.so"); }

const vizrun::host::RejectedPlugin* rejected(const PluginRegistry& r, const std::string& file) {
  for (const auto& x : r.rejected()) {
    if (x.file == file) return &x;
  }
  return nullptr;
}

std::string patched(std::string bytes, std::size_t offset, const void* value, std::size_t n) {
  REQUIRE(offset + n <= bytes.size());
  std::memcpy(bytes.data() + offset, value, n);
  return bytes;
}

}  // namespace

TEST_CASE("every truncation of a real plugin is refused before dlopen, and the whole file loads", "[hostile][plugin-file]") {
  const std::string full = real_plugin();
  REQUIRE(full.size() > 4096);
  const std::size_t n = full.size();
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{16}, std::size_t{63}, std::size_t{64},
                          std::size_t{200}, std::size_t{1000}, n / 4, n / 2, 3 * n / 4, n - 100, n - 1}) {
    const std::string dir = vizrun::testing::temp_dir("truncated");
    const std::string file = dir + "/layer_means.vizplugin.so";
    vizrun::host::write_file_atomic(file, full.substr(0, cut));
    INFO("truncated to " << cut << " of " << n << " bytes");
    const std::string reason = check_plugin_file(file);
    CHECK_FALSE(reason.empty());
    // A scan skips it and still finds the good copy later in the path.
    PluginRegistry registry({dir, good_dir()});
    const auto* r = rejected(registry, file);
    REQUIRE(r != nullptr);
    CHECK(r->damaged);
    CHECK_THAT(r->reason, Contains(file + ": not a loadable plugin (" + reason + ")"));
    CHECK(r->reason.find('\n') == std::string::npos);
    CHECK(registry.find("layer_means", "technique").file == fs::absolute(good_dir() + "/layer_means.vizplugin.so").lexically_normal().string());
    CHECK_THROWS_WITH(PluginRegistry::inspect(file), Contains("not a loadable plugin"));
  }
  // Cut inside a loadable segment / inside the section table: the reason says which.
  const std::string dir = vizrun::testing::temp_dir("truncated-reasons");
  vizrun::host::write_file_atomic(dir + "/half.vizplugin.so", full.substr(0, n / 2));
  vizrun::host::write_file_atomic(dir + "/tail.vizplugin.so", full.substr(0, n - 1));
  // Where the half falls depends on the build (a sanitizer build's plugin is mostly debug
  // sections past its segments), so either reason is right; both name the size.
  CHECK_THAT(check_plugin_file(dir + "/half.vizplugin.so"),
             Contains("truncated ELF file: " + std::to_string(n / 2) + " bytes, ") &&
                 (Contains("but segment") || Contains("the section table ends past it")));
  CHECK_THAT(check_plugin_file(dir + "/tail.vizplugin.so"), Contains("the section table ends past it"));

  const std::string whole = vizrun::testing::temp_dir("whole");
  vizrun::host::write_file_atomic(whole + "/layer_means.vizplugin.so", full);
  CHECK(check_plugin_file(whole + "/layer_means.vizplugin.so").empty());
  PluginRegistry registry({whole});
  CHECK(registry.rejected().empty());
  CHECK(registry.find("layer_means", "technique").file == fs::absolute(whole + "/layer_means.vizplugin.so").lexically_normal().string());
}

TEST_CASE("ELF headers of another machine, class or type, or pointing past the end are refused", "[hostile][plugin-file]") {
  if (sizeof(void*) != 8) return;  // the patches below are for 64-bit hosts
  const std::string full = real_plugin();
  Elf64_Ehdr eh;
  std::memcpy(&eh, full.data(), sizeof eh);
  const std::string dir = vizrun::testing::temp_dir("patched");
  auto check = [&](const std::string& name, const std::string& bytes) {
    const std::string file = dir + "/" + name + ".vizplugin.so";
    vizrun::host::write_file_atomic(file, bytes);
    return check_plugin_file(file);
  };
  const std::uint16_t other_machine = eh.e_machine == EM_AARCH64 ? EM_X86_64 : EM_AARCH64;
  CHECK_THAT(check("machine", patched(full, offsetof(Elf64_Ehdr, e_machine), &other_machine, 2)),
             Contains(std::string("built for ") + (other_machine == EM_AARCH64 ? "AArch64" : "x86-64") + ", this machine is"));
  const unsigned char class32 = ELFCLASS32;
  CHECK(check("class", patched(full, EI_CLASS, &class32, 1)) == "a 32-bit ELF file, expected 64-bit");
  const std::uint16_t exec = ET_EXEC;
  CHECK_THAT(check("type", patched(full, offsetof(Elf64_Ehdr, e_type), &exec, 2)), Contains("expected a shared library"));
  const std::uint64_t past = full.size() + 1;
  CHECK_THAT(check("shoff", patched(full, offsetof(Elf64_Ehdr, e_shoff), &past, 8)), Contains("section table ends past it"));
  const std::uint64_t huge_phoff = ~std::uint64_t{0} - 8;  // overflow bait
  CHECK_THAT(check("phoff", patched(full, offsetof(Elf64_Ehdr, e_phoff), &huge_phoff, 8)), Contains("program headers end past it"));
  // A loadable segment whose file range runs past the end although the size is intact.
  std::size_t load = 0;
  for (std::size_t i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    std::memcpy(&ph, full.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
    if (ph.p_type == PT_LOAD) {
      load = eh.e_phoff + i * sizeof ph;
      break;
    }
  }
  REQUIRE(load != 0);
  const std::uint64_t too_long = 2 * full.size();
  CHECK_THAT(check("segment", patched(full, load + offsetof(Elf64_Phdr, p_filesz), &too_long, 8)),
             Contains("but segment") && Contains("needs bytes"));
  const std::uint64_t wrap = ~std::uint64_t{0};
  CHECK_THAT(check("segment-wrap", patched(full, load + offsetof(Elf64_Phdr, p_offset), &wrap, 8)), Contains("but segment"));
}

TEST_CASE("garbage, empty files, FIFOs and folders named like plugins are skipped without blocking", "[hostile][plugin-file]") {
  const std::string dir = vizrun::testing::temp_dir("garbage");
  std::mt19937 rng(13);
  std::string noise(8192, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  vizrun::host::write_file_atomic(dir + "/noise.vizplugin.so", noise);
  vizrun::host::write_file_atomic(dir + "/empty.vizplugin.so", "");
  vizrun::host::write_file_atomic(dir + "/text.vizplugin.so", "#!/bin/sh\necho not a library\n");
  vizrun::host::write_file_atomic(dir + "/magic_only.vizplugin.so", std::string("\x7f" "ELF", 4));
  REQUIRE(::mkfifo((dir + "/fifo.vizplugin.so").c_str(), 0644) == 0);
  fs::create_directories(dir + "/folder.vizplugin.so");
  PluginRegistry registry({dir, good_dir()});
  CHECK(registry.plugins().size() == 2);  // layer_means, tiny_model from the good folder
  const std::map<std::string, std::string> expected = {
      {"noise", "no ELF magic number"}, {"empty", "file is only 0 bytes"}, {"text", "no ELF magic number"},
      {"magic_only", "file is only 4 bytes"}, {"fifo", "not a regular file"}, {"folder", "not a regular file"}};
  for (const auto& [name, why] : expected) {
    INFO(name);
    const auto* r = rejected(registry, dir + "/" + name + ".vizplugin.so");
    REQUIRE(r != nullptr);
    CHECK(r->damaged);
    CHECK_THAT(r->reason, Contains(name + ".vizplugin.so: not a loadable plugin (") && Contains(why));
  }
}

TEST_CASE("a damaged plugin file does not stop plugins, validate or run", "[hostile][plugin-file][cli]") {
  const std::string dir = vizrun::testing::temp_dir("damaged-cli");
  const std::string plugins = dir + "/plugins";
  const std::string full = real_plugin();
  vizrun::host::write_file_atomic(plugins + "/broken.vizplugin.so", full.substr(0, full.size() / 2));
  vizrun::host::write_file_atomic(plugins + "/junk.vizplugin.so", std::string(3000, 'x'));
  const std::string paths = "--plugin-path " + quote(plugins) + " --plugin-path " + quote(good_dir());
  auto expect_two_warnings = [&](const Result& r) {
    const auto warnings = lines_starting(r.err, "vizrun: warning: skipped ");
    REQUIRE(warnings.size() == 2);
    CHECK_THAT(warnings[0], Contains(plugins + "/broken.vizplugin.so: not a loadable plugin (truncated ELF file: " +
                                     std::to_string(full.size() / 2) + " bytes"));
    CHECK_THAT(warnings[1], Contains(plugins + "/junk.vizplugin.so: not a loadable plugin (not an ELF shared library"));
  };

  const Result list = run_vizrun("plugins " + paths);
  INFO(list.err);
  CHECK(list.signal == 0);
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out, Contains("layer_means") && Contains("tiny_model"));
  expect_two_warnings(list);

  const std::string config = write_experiment(dir, "  - plugin: layer_means\n    options: {noise_images: 1, layers: [conv1]}\n");
  const Result valid = run_vizrun("validate " + quote(config) + " " + paths);
  INFO(valid.err);
  CHECK(valid.exit_code == 0);
  CHECK_THAT(valid.out, Contains("valid"));
  expect_two_warnings(valid);

  const Result run = run_vizrun(quote(config) + " " + paths + " --out " + quote(dir + "/run"));
  INFO(run.err);
  CHECK(run.exit_code == 0);
  expect_two_warnings(run);
  CHECK(manifest_of(dir + "/run")["status"] == "complete");
  // -q: errors only.
  const Result quiet = run_vizrun(quote(config) + " " + paths + " --out " + quote(dir + "/quiet") + " -q");
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
}
