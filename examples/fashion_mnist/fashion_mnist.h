#pragma once
/// Reading Fashion-MNIST's IDX files (gzip-compressed, as Debian's
/// dataset-fashion-mnist ships them in /usr/share/datasets/fashion-mnist).

#include <ATen/core/Tensor.h>

#include <string>

namespace fashion_mnist {

constexpr const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";

struct Split {
  at::Tensor images;  ///< uint8 {N, 28, 28}
  at::Tensor labels;  ///< int64 {N}
};

/// "train" or "t10k". Throws std::runtime_error naming the file on any problem.
Split load(const std::string& directory, const std::string& split);

/// Uint8 images {N, 28, 28} -> the RGB [0, 255] float {N, 3, 28, 28} batches every
/// vizrun backend takes (a grey picture is the same value in R, G and B).
at::Tensor to_rgb255(const at::Tensor& images);

}  // namespace fashion_mnist
