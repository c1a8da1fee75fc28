// SDK image helpers against values computed independently with numpy, matplotlib,
// OpenCV and Pillow (tests/oracles/techniques/make_image_fixtures.py).
#include <ATen/ATen.h>

#include "catch.h"

#include "fakes.h"
#include "npy.h"
#include "vizrun/error.h"
#include "vizrun/image.h"

using namespace vizrun;
using vizrun::testing::read_npy;

namespace {
at::Tensor fixture(const std::string& name) { return read_npy(vizrun::testing::technique_fixtures() + "/image/" + name + ".npy"); }
double max_abs(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}
}  // namespace

TEST_CASE("standardize matches the book's per-channel recipe, constant channels give the offset", "[image]") {
  const at::Tensor out = image::standardize(fixture("standardize_in"));
  const at::Tensor expected = fixture("standardize_out");
  REQUIRE(out.sizes() == expected.sizes());
  CHECK_FALSE(out.isnan().any().item<bool>());
  CHECK(max_abs(out, expected) < 1e-3);
  CHECK(out[2].eq(128.0).all().item<bool>());
  CHECK(image::standardize(at::zeros({1, 4, 4}), 64, 100).eq(100).all().item<bool>());
}

TEST_CASE("deprocess_pattern matches the book and keras.io recipes", "[image]") {
  const at::Tensor in = fixture("deprocess_in");
  const at::Tensor book = image::deprocess_pattern(in, 0.1, 0);
  const at::Tensor kerasio = image::deprocess_pattern(in, 0.15, 3);
  REQUIRE(book.sizes() == fixture("deprocess_book").sizes());
  REQUIRE(kerasio.sizes() == fixture("deprocess_kerasio").sizes());
  // Equal except where a value sits on a truncation boundary (float reordering).
  CHECK(max_abs(book, fixture("deprocess_book")) <= 1);
  CHECK(max_abs(kerasio, fixture("deprocess_kerasio")) <= 1);
  CHECK(book.ne(fixture("deprocess_book")).sum().item<std::int64_t>() <= 2);
  CHECK(image::deprocess_pattern(at::full({3, 5, 5}, 7.0)).eq(127).all().item<bool>());
  CHECK_THROWS_AS(image::deprocess_pattern(in, 0.1, 10), Error);
}

TEST_CASE("colormaps equal matplotlib's viridis/magma/inferno and OpenCV's COLORMAP_JET", "[image]") {
  const at::Tensor unit = fixture("colormap_in");
  for (const std::string name : {"viridis", "magma", "inferno", "jet"}) {
    INFO(name);
    const at::Tensor out = image::colormap(unit, name);
    REQUIRE(out.sizes() == fixture("colormap_" + name).sizes());
    CHECK(out.equal(fixture("colormap_" + name)));
  }
  CHECK(image::colormap(at::zeros({2, 3}), "viridis").sizes() == at::IntArrayRef({2, 3, 3}));
  CHECK_THROWS_WITH(image::colormap(unit, "rainbow"), Catch::Contains("viridis"));
  CHECK(image::colormap_names().size() >= 4);
}

TEST_CASE("tile keeps every image, margins only between cells", "[image]") {
  const at::Tensor out = image::tile(fixture("tile_in"), 4, 2, 7);
  CHECK(out.equal(fixture("tile_out")));
  // Fewer images than columns: the grid narrows instead of padding.
  CHECK(image::tile(at::zeros({3, 2, 2, 1}, at::kByte), 8, 1).sizes() == at::IntArrayRef({2, 8, 1}));
}

TEST_CASE("resize matches cv2 INTER_LINEAR and Pillow NEAREST", "[image]") {
  CHECK(max_abs(image::resize(fixture("resize_in"), 16, 20, "bilinear"), fixture("resize_up")) < 1e-5);
  CHECK(max_abs(image::resize(fixture("resize_in"), 3, 4, "bilinear"), fixture("resize_down")) < 1e-5);
  const at::Tensor heat = fixture("resize_heat_in").unsqueeze(2);
  CHECK(max_abs(image::resize(heat, 40, 61).squeeze(2), fixture("resize_heat_out")) < 1e-5);
  CHECK(image::resize(fixture("nearest_in"), 32, 32, "nearest").equal(fixture("nearest_out")));
  CHECK(image::resize(fixture("nearest_in"), 11, 17, "nearest").equal(fixture("nearest_down")));
  CHECK_THROWS_AS(image::resize(fixture("resize_in"), 3, 4, "cubic"), Error);
}

TEST_CASE("overlay follows the book's blend with OpenCV's JET", "[image]") {
  const at::Tensor heat = image::colormap(fixture("overlay_heat"), "jet");
  CHECK(image::overlay(fixture("overlay_photo"), heat, 0.4).equal(fixture("overlay_out")));
}

TEST_CASE("upscale repeats pixels, add_title adds a band wide enough for the text", "[image]") {
  const at::Tensor img = at::arange(6, at::kByte).view({2, 3, 1});
  const at::Tensor up = image::upscale(img, 3);
  CHECK(up.sizes() == at::IntArrayRef({6, 9, 1}));
  CHECK(up[5][8][0].item<int>() == 5);
  const at::Tensor titled = image::add_title(at::zeros({10, 10, 3}, at::kByte), "block1_conv1", 2, 32);
  CHECK(titled.size(1) >= 12 * 12);
  CHECK(titled.size(0) > 10);
  CHECK(titled.eq(255).any().item<bool>());  // glyph pixels
  CHECK(titled.slice(0, titled.size(0) - 10).eq(0).all().item<bool>() == false);  // band + image
}

TEST_CASE("add_title wraps a title wider than the picture at spaces instead of widening it", "[image]") {
  const at::Tensor img = at::zeros({100, 100, 3}, at::kByte);
  const at::Tensor one_line = image::add_title(img, "short", 1, 32);
  const at::Tensor wrapped = image::add_title(img, "gradcam++: T-shirt/top (0) p=0.981", 1, 32);
  CHECK(one_line.size(1) == 100);
  CHECK(wrapped.size(1) == 100);                       // 7 px cells: at most 13 characters a line
  CHECK(wrapped.size(0) - 100 > 2 * (one_line.size(0) - 100));  // three lines, not one
  // Every line has glyphs: the band's rows of text are not blank.
  const std::int64_t band = wrapped.size(0) - 100, line_h = 14 + 2;
  for (std::int64_t y = 2; y + 14 <= band; y += line_h)
    CHECK(wrapped.slice(0, y, y + 14).gt(128).any().item<bool>());
  // A single word wider than the picture still widens the band to fit it.
  CHECK(image::add_title(img, "block1_conv1_and_more_characters", 1, 32).size(1) > 100);
}

TEST_CASE("add_title draws anti-aliased glyphs that tell g from 9", "[image]") {
  // The old 5x7 font drew "max_pooling2d" as "max_poolin92d".
  const at::Tensor blank = at::zeros({4, 4, 3}, at::kByte);
  for (std::int64_t scale : {1, 2}) {
    const at::Tensor g = image::add_title(blank, "g", scale, 32);
    const at::Tensor nine = image::add_title(blank, "9", scale, 32);
    REQUIRE(g.sizes() == nine.sizes());
    CHECK_FALSE(g.equal(nine));
    const at::Tensor band = g.slice(0, 0, g.size(0) - 4);
    CHECK(band.eq(255).any().item<bool>());                                    // full coverage
    CHECK((band.gt(32) & band.lt(255)).any().item<bool>());                    // and edges in between
  }
}
