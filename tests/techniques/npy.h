#pragma once
// Minimal .npy reader for test fixtures (little-endian, C order; f4, f8, u1, i8).
#include <ATen/core/Tensor.h>

#include <string>

namespace vizrun::testing {
at::Tensor read_npy(const std::string& path);
}

namespace vizrun::testing {
/// Writes a CPU tensor (float32, float64, uint8, int64) as .npy.
void write_npy(const std::string& path, const at::Tensor& t);
}
