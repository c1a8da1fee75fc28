// activations: grids keep every channel, constant channels stay finite, layer selection.
#include <ATen/ATen.h>

#include "catch.h"

#include "activations.h"
#include "fakes.h"
#include "vizrun/kit.h"
#include "tiny_model.h"
#include "vizrun/image.h"
#include "vizrun/plugin.h"

using namespace vizrun;
using namespace vizrun::testing;

namespace {
CreateArgs args_for(const Host& host, Dict options) {
  CreateArgs a;
  a.options = Value(std::move(options));
  fill_defaults(a.options, techniques::kActivationsSchema);  // as the host does
  a.host = &host;
  return a;
}
at::Tensor photo() { return at::rand({3, 40, 50}) * 255; }
}  // namespace

TEST_CASE("activation grid keeps channels that do not fill the last row", "[activations]") {
  const at::Tensor acts = at::rand({12, 6, 6});
  const at::Tensor grid = techniques::activation_grid(acts, 5, "viridis", 64, 128, 2, 1, "");
  // 12 channels, 5 per row -> 3 rows; cell 12 px, margin 1.
  CHECK(grid.size(0) == 3 * 12 + 2);
  CHECK(grid.size(1) == 5 * 12 + 4);
  // the 12th channel (row 2, column 1) is drawn, the empty 13th cell is background
  CHECK_FALSE(grid.slice(0, 26, 38).slice(1, 13, 25).eq(255).all().item<bool>());
  CHECK(grid.slice(0, 26, 38).slice(1, 26, 38).eq(255).all().item<bool>());
}

TEST_CASE("activations technique renders every chosen layer of the tiny net", "[activations]") {
  FakeHost host;
  host.pictures["cat"] = photo();
  TinyNet model(technique_fixtures() + "/tiny_net");
  KeepOutput out;
  techniques::ActivationGrids tech(args_for(host, {{"images", List{"cat"}}, {"layers", 3}, {"images_per_row", 5},
                                                   {"save_arrays", true}, {"size", 32}}));
  tech.run(model, out);
  REQUIRE(out.images.size() == 3);  // conv1, conv2, pool1 (the first three spatial layers)
  CHECK(out.find_image("conv1") != nullptr);
  CHECK(out.find_image("pool1") != nullptr);
  CHECK(out.find_array("conv2")->data.sizes() == at::IntArrayRef({12, 32, 32}));
  CHECK(model.deepest_tap == "pool1");  // nothing past the deepest chosen layer ran
  CHECK(host.progress_calls > 0);
}

TEST_CASE("activations: globs, channel images and constant channels", "[activations]") {
  FakeHost host;
  host.pictures["a"] = photo();
  host.pictures["b"] = photo();
  TinyNet model;
  model.make_constant("conv1", 0.5);  // every conv1 channel is constant
  KeepOutput out;
  techniques::ActivationGrids tech(
      args_for(host, {{"images", List{"a", "b"}}, {"layers", List{"conv*"}}, {"channel_images", true}, {"size", 16}}));
  tech.run(model, out);
  const auto* grid = out.find_image("a/conv1");
  REQUIRE(grid != nullptr);
  const auto* channel = out.find_image("b/conv1/channel_0007");
  REQUIRE(channel != nullptr);
  // Constant maps show the offset level (128 -> viridis index 128) everywhere.
  const at::Tensor mid = image::colormap(at::full({1}, 128.0 / 255.0), "viridis")[0];
  // 16 px maps shown at 48 px, centred below a title band that is wider than them.
  const std::int64_t left = (channel->data.size(1) - 48) / 2;
  const at::Tensor pixels = channel->data.slice(0, channel->data.size(0) - 48).slice(1, left, left + 48);
  CHECK(pixels.reshape({-1, 3}).eq(mid.view({1, 3})).all().item<bool>());
  CHECK(out.find_image("a/conv3") != nullptr);
  CHECK(out.find_image("a/pool1") == nullptr);
}

TEST_CASE("layer and filter selection", "[activations][kit]") {
  TinyNet model;
  const auto layers = model.layers();
  CHECK(kit::select_layers(layers, Value("all_conv")).size() == 3);
  CHECK(kit::select_layers(layers, Value(2)).back().name == "conv2");
  CHECK_THROWS_WITH(kit::select_layers(layers, Value("conv4")), Catch::Contains("conv1"));
  CHECK(kit::select_filters(Value(64), 16, "conv3").size() == 16);
  CHECK(kit::select_filters(Value("all"), 5, "x").size() == 5);
  CHECK(kit::select_filters(Value(Dict{{"start", 2}, {"stop", 6}}), 16, "x") == std::vector<std::int64_t>{2, 3, 4, 5});
  CHECK_THROWS_AS(kit::select_filters(Value(List{3, 40}), 16, "conv3"), Error);
}
