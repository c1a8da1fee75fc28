#include "fashion_mnist.h"

#include <torch/torch.h>
#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace fashion_mnist {
namespace {

std::vector<std::uint8_t> read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error(path + ": cannot open (install Debian's dataset-fashion-mnist)");
  std::vector<std::uint8_t> bytes;
  std::uint8_t buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) bytes.insert(bytes.end(), buffer, buffer + n);
  const bool failed = n < 0;
  gzclose(file);
  if (failed) throw std::runtime_error(path + ": not a readable gzip file");
  return bytes;
}

std::uint32_t big_endian(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t(b[at]) << 24) | (std::uint32_t(b[at + 1]) << 16) | (std::uint32_t(b[at + 2]) << 8) | b[at + 3];
}

/// An IDX file: magic 0x00000800 | dims, then each dimension as a big-endian u32.
at::Tensor read_idx(const std::string& path, std::uint32_t expected_dims) {
  const auto b = read_gzip(path);
  if (b.size() < 4 + 4 * expected_dims || big_endian(b, 0) != (0x0800u | expected_dims)) {
    throw std::runtime_error(path + ": not an IDX file of unsigned bytes with " + std::to_string(expected_dims) + " dimensions");
  }
  std::vector<std::int64_t> shape;
  std::size_t count = 1;
  for (std::uint32_t d = 0; d < expected_dims; ++d) {
    shape.push_back(big_endian(b, 4 + 4 * d));
    count *= static_cast<std::size_t>(shape.back());
  }
  const std::size_t offset = 4 + 4 * expected_dims;
  if (b.size() != offset + count) throw std::runtime_error(path + ": truncated IDX file");
  return torch::from_blob(const_cast<std::uint8_t*>(b.data() + offset), shape, torch::kUInt8).clone();
}

}  // namespace

Split load(const std::string& directory, const std::string& split) {
  Split s;
  s.images = read_idx(directory + "/" + split + "-images-idx3-ubyte.gz", 3);
  s.labels = read_idx(directory + "/" + split + "-labels-idx1-ubyte.gz", 1).to(torch::kInt64);
  if (s.images.size(0) != s.labels.size(0)) throw std::runtime_error(split + ": image and label counts differ");
  return s;
}

at::Tensor to_rgb255(const at::Tensor& images) {
  return images.to(torch::kFloat32).unsqueeze(1).expand({images.size(0), 3, images.size(1), images.size(2)}).contiguous();
}

}  // namespace fashion_mnist
