#pragma once
/// \file safetensors.h
/// A strict reader for the safetensors format: 8-byte little-endian header length,
/// a JSON header, then raw little-endian tensor data. The file is memory-mapped;
/// nothing in it is ever executed. Every malformed header is a vizrun::Error.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vizrun::models {

struct SafeTensor {
  std::string name;
  std::string dtype;                 ///< "F32", "F16", "BF16", "F64", "I64", ...
  std::vector<std::int64_t> shape;
  std::size_t begin = 0, end = 0;    ///< byte offsets into the data section
  const std::uint8_t* data = nullptr;///< start of this tensor's bytes
};

/// Largest accepted JSON header (the format's reference implementation uses 100 MB).
constexpr std::uint64_t kMaxSafetensorsHeader = 100u * 1024u * 1024u;

/// Parses a whole safetensors image in memory; `data` pointers point into it.
/// `metadata` receives the `__metadata__` strings when given.
std::vector<SafeTensor> parse_safetensors(const std::uint8_t* bytes, std::size_t size,
                                          std::map<std::string, std::string>* metadata = nullptr);

/// Bytes per element of a dtype name; throws for an unknown dtype.
std::size_t safetensors_dtype_size(const std::string& dtype);

/// A memory-mapped safetensors file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::vector<SafeTensor>& tensors() const { return m_tensors; }
  const std::map<std::string, std::string>& metadata() const { return m_metadata; }

 private:
  std::string m_path;
  void* m_map = nullptr;
  std::size_t m_size = 0;
  std::vector<SafeTensor> m_tensors;
  std::map<std::string, std::string> m_metadata;
};

/// Writes tensors (float32 CPU data, row-major) as a safetensors file. For tests and tools.
struct SafeTensorOut {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};
void write_safetensors(const std::string& path, const std::vector<SafeTensorOut>& tensors);

}  // namespace vizrun::models
