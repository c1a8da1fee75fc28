#pragma once
/// \file image.h
/// Image helpers for techniques: normalisation, colormaps, tiling into grids,
/// overlays, resizing and titles. All work on CPU tensors and return new tensors.
///
/// Layout conventions: an *image* is uint8 {H, W, C} (C = 1 or 3); a *map* is a
/// float {H, W}; a *stack* of images is uint8 {N, H, W, C}.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vizrun/export.h"

namespace vizrun::image {

/// Standardises each map of a float {N, H, W} stack on its own, as the book does
/// for activation channels: (x - mean) / std * scale + offset, clipped to [0, 255].
/// A constant map (std == 0) becomes `offset` everywhere instead of NaN.
/// Returns float {N, H, W} in [0, 255] (not rounded, so a colormap can follow).
VIZRUN_SDK_API at::Tensor standardize(const at::Tensor& maps, double scale = 64.0, double offset = 128.0);

/// Turns an optimised input picture (float {C, H, W}, any range) into a displayable
/// uint8 {H', W', C} image as the filter-visualisation recipes do: centre on 0,
/// divide by (std + 1e-5), multiply by `target_std`, add 0.5, clip to [0, 1],
/// scale to [0, 255], then crop `crop` pixels from every border.
VIZRUN_SDK_API at::Tensor deprocess_pattern(const at::Tensor& chw, double target_std = 0.1, std::int64_t crop = 0);

/// Maps float values in [0, 1] (any shape {…}) through a colormap to uint8 RGB {…, 3}.
/// Names: "viridis" (matplotlib), "jet" (OpenCV's COLORMAP_JET, not matplotlib's),
/// "magma", "inferno", "gray". Throws vizrun::Error listing the names otherwise.
/// Values are quantised as their origin does: matplotlib's maps take entry
/// floor(x * 256) (x = 1 -> 255); "jet" and "gray" take uint8(255 * x), as the book
/// feeds OpenCV. Out-of-range values clamp, NaN maps to 0.
VIZRUN_SDK_API at::Tensor colormap(const at::Tensor& unit, const std::string& name);
VIZRUN_SDK_API std::vector<std::string> colormap_names();

/// Tiles a uint8 stack {N, H, W, C} into a grid with `cols` columns, `margin`
/// pixels between cells (none around the outside) on a `background` fill.
/// The last row may be partly empty: no image is dropped.
VIZRUN_SDK_API at::Tensor tile(const at::Tensor& stack, std::int64_t cols, std::int64_t margin = 0,
                               std::uint8_t background = 0);

/// Resizes a float or uint8 image {H, W, C} to {height, width, C}.
/// "nearest" matches PIL/Keras `load_img` (pixel-centre rule), "bilinear" matches
/// OpenCV's cv2.resize INTER_LINEAR (half-pixel centres, no antialiasing).
VIZRUN_SDK_API at::Tensor resize(const at::Tensor& hwc, std::int64_t height, std::int64_t width,
                                 const std::string& mode = "bilinear");

/// Repeats every pixel `factor` times along both axes (for small feature maps).
VIZRUN_SDK_API at::Tensor upscale(const at::Tensor& hwc, std::int64_t factor);

/// The book's Grad-CAM blend: clip(photo + intensity * heat, 0, 255), both uint8 {H, W, 3},
/// rounded to nearest (ties to even) as OpenCV writes the float sum.
VIZRUN_SDK_API at::Tensor overlay(const at::Tensor& photo, const at::Tensor& heat, double intensity = 0.4);

/// Adds a band above the image with `text` drawn in the built-in font (DejaVu Sans
/// Mono, anti-aliased, printable ASCII), white on the band colour. A text wider than
/// the image wraps at spaces onto more lines; the band widens only for a word that is
/// wider than the image. `scale` 1 draws 7 x 14 px cells, 2 draws 13 x 27 px
/// cells, larger scales repeat those pixels (scale / 2 times).
VIZRUN_SDK_API at::Tensor add_title(const at::Tensor& hwc, const std::string& text, std::int64_t scale = 2,
                                    std::uint8_t band = 32);

}  // namespace vizrun::image
