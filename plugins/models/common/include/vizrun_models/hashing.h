#pragma once
/// \file hashing.h
/// MD5 and SHA-256 of files and byte streams (OpenSSL's libcrypto).

#include <cstddef>
#include <memory>
#include <string>

namespace vizrun::models {

class Hasher {
 public:
  /// `algorithm` is "md5" or "sha256".
  explicit Hasher(const std::string& algorithm);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(const void* data, std::size_t size);
  /// Lower-case hex digest; the hasher is finished afterwards.
  std::string hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

struct FileDigests {
  std::string md5;
  std::string sha256;
};

/// Both digests in one pass over the file.
FileDigests digest_file(const std::string& path);
std::string sha256_file(const std::string& path);

}  // namespace vizrun::models
