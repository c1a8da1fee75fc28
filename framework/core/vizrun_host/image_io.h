#pragma once
/// \file image_io.h
/// Decoding input photos and encoding output images and arrays. The only place
/// OpenImageIO is used.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace vizrun::host {

/// Decodes any format OpenImageIO reads to RGB float32 {3, H, W} in [0, 255].
/// Grey images are repeated to 3 channels; alpha is dropped. A picture of more than
/// `max_pixels` pixels (0: no limit) is refused from its header, before decoding, and
/// so is one whose decoding would not fit in the memory available.
at::Tensor read_image(const std::string& path, std::int64_t max_pixels = 100'000'000);

/// Encodes a uint8 {H, W, C} tensor (C = 1, 3 or 4) as PNG bytes, atomically at `path`.
void write_png(const std::string& path, const at::Tensor& hwc_uint8);

/// The bytes of a NumPy .npy (format 1.0) file holding `values` (float32, float64,
/// int64, int32 or uint8; C order).
std::string encode_npy(const at::Tensor& values);

}  // namespace vizrun::host
