#include "vizrun_host/files.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "vizrun/error.h"

namespace fs = std::filesystem;

namespace vizrun::host {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string temp_name_for(const fs::path& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream os;
  os << "." << path.filename().string() << ".tmp-" << ::getpid() << "-" << std::hex << rng();
  return (path.parent_path() / os.str()).string();
}

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

class Sha256 {
 public:
  Sha256() : m_ctx(EVP_MD_CTX_new()) { EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr); }
  void update(const void* data, std::size_t n) { EVP_DigestUpdate(m_ctx.get(), data, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(m_ctx.get(), md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> m_ctx;
};

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw WriteError("cannot create folder " + target.parent_path().string() + ": " + ec.message());
  }
  const std::string tmp = temp_name_for(target);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw WriteError("cannot create " + tmp + ": " + errno_text());
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw WriteError("cannot write " + path + ": " + why);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  // fsync before rename: after a crash the name points at complete data or at the old file.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw WriteError("cannot write " + path + ": " + why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw WriteError("cannot rename " + tmp + " to " + path + ": " + why);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file: " + errno_text());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file for hashing: " + errno_text());
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  return h.hex();
}

std::string safe_relative_path(std::string_view name) {
  std::string out;
  std::string component;
  auto flush = [&] {
    if (component.empty() || component == "." || component == "..") component = "_";
    if (component.size() > 120) component.resize(120);
    if (!out.empty()) out += '/';
    out += component;
    component.clear();
  };
  for (char c : name) {
    if (c == '/') {
      flush();
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-') {
      component += c;
    } else {
      component += '_';
    }
  }
  flush();
  return out;
}

static std::string format_utc(const char* fmt) {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

std::string utc_timestamp_iso() { return format_utc("%Y-%m-%dT%H:%M:%SZ"); }
std::string utc_timestamp_compact() { return format_utc("%Y%m%dT%H%M%SZ"); }

}  // namespace vizrun::host
