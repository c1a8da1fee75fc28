// libFuzzer target for the plugin file check (framework/core/plugin_file.cpp): any
// bytes as a candidate plugin file. The check must return (never crash, hang or read
// out of bounds) and must refuse whatever would make dlopen touch bytes past the end.
//
//   clang++-14 -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -Iframework/core \
//     tests/hostile/fuzz_plugin_file.cpp framework/core/plugin_file.cpp -o fuzz_plugin_file
//   ./fuzz_plugin_file -max_total_time=60 build/tests/plugins/good   # seeds: real plugins
//
// With a path argument instead of libFuzzer flags (built without -fsanitize=fuzzer and
// with -DVIZRUN_FUZZ_MAIN) it checks each file named and prints the verdict.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "vizrun_host/plugin_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = ::memfd_create("candidate", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::ftruncate(fd, 0) != 0) return 0;
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) return 0;
    done += static_cast<std::size_t>(n);
  }
  const std::string verdict = vizrun::host::check_plugin_fd(fd);
  // Too short for an ELF header: must be refused.
  if (size < 64 && verdict.empty()) __builtin_trap();
  return 0;
}

#ifdef VIZRUN_FUZZ_MAIN
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string verdict = vizrun::host::check_plugin_file(argv[i]);
    std::printf("%s: %s\n", argv[i], verdict.empty() ? "ok" : verdict.c_str());
  }
}
#endif
