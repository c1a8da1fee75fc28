// Built-in font for vizrun::image::add_title: DejaVu Sans Mono rendered to anti-aliased
// coverage glyphs at two sizes (font_data.inc, made by scripts/make_font.py). Embedded so
// that no plugin needs FreeType or a font file at run time, and titles look the same
// on every machine (the run's outputs stay bit-identical).
#include "font.h"

namespace vizrun::image::detail {
namespace {
#include "font_data.inc"

constexpr Face kSmall{kFace11Width, kFace11Height, &kFace11Glyphs[0][0]};
constexpr Face kLarge{kFace22Width, kFace22Height, &kFace22Glyphs[0][0]};
}  // namespace

const unsigned char* Face::glyph(char c) const {
  int code = static_cast<unsigned char>(c);
  if (code < 0x20 || code > 0x7E) code = '?';
  return glyphs + static_cast<std::ptrdiff_t>(code - 0x20) * width * height;
}

FaceChoice face_for_scale(std::int64_t scale) {
  if (scale <= 1) return {kSmall, 1};
  return {kLarge, scale / 2};  // scale 2 and 3: the large face; 4 and up: it, repeated
}

}  // namespace vizrun::image::detail
