#include "vizrun_models/hashing.h"

#include <openssl/evp.h>

#include <cstdio>
#include <vector>

#include "vizrun/error.h"

namespace vizrun::models {

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Hasher::Hasher(const std::string& algorithm) : m_impl(std::make_unique<Impl>()) {
  const EVP_MD* md = algorithm == "md5" ? EVP_md5() : algorithm == "sha256" ? EVP_sha256() : nullptr;
  if (!md) throw Error("unknown hash algorithm '" + algorithm + "'; expected md5 or sha256");
  m_impl->ctx = EVP_MD_CTX_new();
  if (!m_impl->ctx || EVP_DigestInit_ex(m_impl->ctx, md, nullptr) != 1) throw Error("cannot initialise " + algorithm);
}

Hasher::~Hasher() {
  if (m_impl->ctx) EVP_MD_CTX_free(m_impl->ctx);
}

void Hasher::update(const void* data, std::size_t size) { EVP_DigestUpdate(m_impl->ctx, data, size); }

std::string Hasher::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(m_impl->ctx, digest, &n);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

FileDigests digest_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error("cannot open '" + path + "' to hash it");
  Hasher md5("md5"), sha("sha256");
  std::vector<unsigned char> buffer(1 << 20);
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) {
    md5.update(buffer.data(), n);
    sha.update(buffer.data(), n);
  }
  std::fclose(f);
  return {md5.hex(), sha.hex()};
}

std::string sha256_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error("cannot open '" + path + "' to hash it");
  Hasher sha("sha256");
  std::vector<unsigned char> buffer(1 << 20);
  std::size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) sha.update(buffer.data(), n);
  std::fclose(f);
  return sha.hex();
}

}  // namespace vizrun::models
