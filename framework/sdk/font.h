#pragma once
// The embedded title font (font.cpp): fixed-width cells of 8-bit coverage.
#include <cstddef>
#include <cstdint>

namespace vizrun::image::detail {

struct Face {
  int width;   ///< advance and cell width, pixels
  int height;  ///< cell height (ascent + descent), pixels
  const unsigned char* glyphs;
  /// width * height coverage bytes of `c`, row-major; outside printable ASCII: '?'.
  const unsigned char* glyph(char c) const;
};

struct FaceChoice {
  Face face;
  std::int64_t repeat;  ///< each glyph pixel drawn as repeat x repeat
};

/// The face that draws text at add_title's `scale` (1: small, 2 and more: large).
FaceChoice face_for_scale(std::int64_t scale);

}  // namespace vizrun::image::detail
