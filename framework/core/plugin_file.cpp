// Checking a candidate plugin file before the dynamic loader sees it (see plugin_file.h).
// dlopen maps the file's loadable segments and reads them; a segment that lies past
// the end of a truncated file is a SIGBUS inside the loader that no handshake can
// catch. So the ELF header, the program headers (every loadable segment within the
// file) and the section table are checked against the file's real size first.
#include "vizrun_host/plugin_file.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace vizrun::host {
namespace {

#if defined(__x86_64__)
constexpr std::uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr std::uint16_t kHostMachine = EM_AARCH64;
#elif defined(__i386__)
constexpr std::uint16_t kHostMachine = EM_386;
#elif defined(__arm__)
constexpr std::uint16_t kHostMachine = EM_ARM;
#elif defined(__powerpc64__)
constexpr std::uint16_t kHostMachine = EM_PPC64;
#elif defined(__riscv)
constexpr std::uint16_t kHostMachine = EM_RISCV;
#elif defined(__s390x__)
constexpr std::uint16_t kHostMachine = EM_S390;
#else
constexpr std::uint16_t kHostMachine = EM_NONE;  // unknown host: the machine is not checked
#endif

constexpr unsigned char kHostClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kHostData = ELFDATA2LSB;
#else
constexpr unsigned char kHostData = ELFDATA2MSB;
#endif

using Ehdr = std::conditional_t<sizeof(void*) == 8, Elf64_Ehdr, Elf32_Ehdr>;
using Phdr = std::conditional_t<sizeof(void*) == 8, Elf64_Phdr, Elf32_Phdr>;
using Shdr = std::conditional_t<sizeof(void*) == 8, Elf64_Shdr, Elf32_Shdr>;

std::string machine_name(std::uint16_t m) {
  switch (m) {
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "AArch64";
    case EM_386: return "i386";
    case EM_ARM: return "ARM";
    case EM_PPC64: return "PowerPC64";
    case EM_RISCV: return "RISC-V";
    case EM_S390: return "s390";
    default: return "machine " + std::to_string(m);
  }
}

/// True when [offset, offset + count * size) lies within a file of `file_size` bytes
/// (no overflow for any inputs).
bool range_within(std::uint64_t offset, std::uint64_t count, std::uint64_t size, std::uint64_t file_size) {
  if (offset > file_size) return false;
  if (size != 0 && count > (file_size - offset) / size) return false;
  return true;
}

/// Reads exactly `n` bytes at `offset`; false on a short read.
bool read_at(int fd, void* buffer, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(buffer);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string check_plugin_file(const std::string& file) {
  // O_NONBLOCK: a FIFO named like a plugin must not block the scan.
  Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (f.fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  return check_plugin_fd(f.fd);
}

std::string check_plugin_fd(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  const std::string size_text = std::to_string(size) + " bytes";

  unsigned char ident[EI_NIDENT] = {0};
  if (size < EI_NIDENT || !read_at(fd, ident, EI_NIDENT, 0)) {
    return "not an ELF shared library (file is only " + size_text + ")";
  }
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) return "not an ELF shared library (no ELF magic number)";
  if (ident[EI_CLASS] != kHostClass) {
    return std::string("a ") + (ident[EI_CLASS] == ELFCLASS64 ? "64" : ident[EI_CLASS] == ELFCLASS32 ? "32" : "?") +
           "-bit ELF file, expected " + (kHostClass == ELFCLASS64 ? "64" : "32") + "-bit";
  }
  if (ident[EI_DATA] != kHostData) return "ELF file of the other byte order than this machine";
  if (ident[EI_VERSION] != EV_CURRENT) return "unknown ELF version " + std::to_string(ident[EI_VERSION]);

  Ehdr eh{};
  if (size < sizeof eh || !read_at(fd, &eh, sizeof eh, 0)) {
    return "truncated ELF file: " + size_text + ", shorter than its " + std::to_string(sizeof eh) + "-byte header";
  }
  if (eh.e_type != ET_DYN) return "ELF file of type " + std::to_string(eh.e_type) + ", expected a shared library (ET_DYN)";
  if (kHostMachine != EM_NONE && eh.e_machine != kHostMachine) {
    return "built for " + machine_name(eh.e_machine) + ", this machine is " + machine_name(kHostMachine);
  }
  if (eh.e_phnum == 0 || eh.e_phentsize != sizeof(Phdr)) {
    return "damaged ELF header: " + std::to_string(eh.e_phnum) + " program headers of " +
           std::to_string(eh.e_phentsize) + " bytes, expected " + std::to_string(sizeof(Phdr)) + "-byte entries";
  }
  if (!range_within(eh.e_phoff, eh.e_phnum, sizeof(Phdr), size)) {
    return "truncated ELF file: " + size_text + ", the program headers end past it";
  }
  std::vector<Phdr> ph(eh.e_phnum);
  if (!read_at(fd, ph.data(), ph.size() * sizeof(Phdr), eh.e_phoff)) return "cannot read the program headers";
  bool any_load = false;
  for (std::size_t i = 0; i < ph.size(); ++i) {
    const Phdr& p = ph[i];
    if (p.p_type != PT_LOAD && p.p_type != PT_DYNAMIC && p.p_type != PT_INTERP) continue;
    any_load = any_load || p.p_type == PT_LOAD;
    if (!range_within(p.p_offset, 1, p.p_filesz, size)) {
      return "truncated ELF file: " + size_text + ", but segment " + std::to_string(i) + " needs bytes " +
             std::to_string(p.p_offset) + ".." + std::to_string(static_cast<std::uint64_t>(p.p_offset) + p.p_filesz);
    }
  }
  if (!any_load) return "damaged ELF file: no loadable segment";

  // The section table sits at the end of a library, so it is the first thing a
  // truncation loses. Stripped files may have none (e_shoff == 0).
  if (eh.e_shoff != 0) {
    if (eh.e_shentsize != sizeof(Shdr)) {
      return "damaged ELF header: section entries of " + std::to_string(eh.e_shentsize) + " bytes, expected " +
             std::to_string(sizeof(Shdr));
    }
    std::uint64_t count = eh.e_shnum;
    if (!range_within(eh.e_shoff, count == 0 ? 1 : count, sizeof(Shdr), size)) {
      return "truncated ELF file: " + size_text + ", the section table ends past it";
    }
    Shdr first{};
    if (!read_at(fd, &first, sizeof first, eh.e_shoff)) return "cannot read the section table";
    if (count == 0) count = first.sh_size;  // extended numbering: the count is in section 0
    if (!range_within(eh.e_shoff, count, sizeof(Shdr), size)) {
      return "truncated ELF file: " + size_text + ", the section table ends past it";
    }
    std::vector<Shdr> sh(count);
    if (!read_at(fd, sh.data(), sh.size() * sizeof(Shdr), eh.e_shoff)) return "cannot read the section table";
    for (std::size_t i = 0; i < sh.size(); ++i) {
      if (sh[i].sh_type == SHT_NOBITS || sh[i].sh_type == SHT_NULL) continue;
      if (!range_within(sh[i].sh_offset, 1, sh[i].sh_size, size)) {
        return "truncated ELF file: " + size_text + ", but section " + std::to_string(i) + " ends at byte " +
               std::to_string(static_cast<std::uint64_t>(sh[i].sh_offset) + sh[i].sh_size);
      }
    }
  }
  return "";
}

}  // namespace vizrun::host
