// filter_ascent: against a plain PyTorch implementation of the same recipe
// (tests/oracles/techniques/make_technique_fixtures.py), rising activations on
// trained weights, batching invariance and the technique's outputs.
#include <ATen/ATen.h>

#include "catch.h"

#include <cstdio>

#include "fakes.h"
#include "filter_ascent.h"
#include "npy.h"
#include "vizrun/kit.h"
#include "vizrun_host/precision.h"
#include "oracle_device.h"
#include "tiny_model.h"

using namespace vizrun;
using namespace vizrun::testing;

namespace {
at::Tensor fixture(const std::string& name) { return read_npy(technique_fixtures() + "/ascent/" + name + ".npy"); }
std::vector<std::int64_t> fixture_filters() {
  const at::Tensor f = fixture("filters");
  return {f.data_ptr<std::int64_t>(), f.data_ptr<std::int64_t>() + f.numel()};
}
CreateArgs args_for(const Host& host, Dict options) {
  CreateArgs a;
  a.options = Value(std::move(options));
  fill_defaults(a.options, techniques::kFilterAscentSchema);  // as the host does
  a.host = &host;
  return a;
}
}  // namespace

TEST_CASE("filter ascent matches plain PyTorch: first gradient within 1e-4, loss curve within 1%", "[filter_ascent][oracle]") {
  VIZRUN_ORACLE_DEVICE(on);  // the CPU, or VIZRUN_TEST_DEVICE's GPU (first gradient within 1e-3 there)
  TinyNet model(technique_fixtures() + "/tiny_net", 0, on.device);
  const auto filters = fixture_filters();
  const double grad_tolerance = technique_map_tolerance(on, 1e-4);
  struct Case {
    std::string name, norm;
    double step;
    std::int64_t border;
  };
  for (const auto& c : {Case{"rms", "rms", 0.02, 0}, Case{"l2", "l2", 0.5, 1}}) {
    for (const bool channels_last : {true, false}) {
      INFO(c.name << " channels_last=" << channels_last << " on " << on.device);
      techniques::AscentRecipe recipe;
      recipe.steps = 8;
      recipe.step_size = c.step;
      recipe.normalization = techniques::normalization_named(c.norm);
      recipe.loss_border = c.border;
      recipe.channels_last = channels_last;
      const auto r = techniques::gradient_ascent(model, "conv3", filters, fixture("start").to(on.device), recipe, true);
      const at::Tensor g_ref = fixture(c.name + "_first_grad");
      const double g_err = (r.first_grad.cpu() - g_ref).abs().max().item<double>();
      const double g_scale = g_ref.abs().max().item<double>();
      if (!on.on_gpu()) CHECK(g_err < 1e-4);
      CHECK(g_err / g_scale < grad_tolerance);
      const at::Tensor l_ref = fixture(c.name + "_losses");
      const double l_err = ((r.losses.cpu() - l_ref).abs() / l_ref.abs().clamp_min(1e-3)).max().item<double>();
      CHECK(l_err < 0.01);
      std::printf("filter ascent oracle on %s, %s channels_last=%d: first-gradient max abs error %.3g (scale %.3g), loss max rel error %.3g\n",
                  on.device.str().c_str(), c.name.c_str(), static_cast<int>(channels_last), g_err, g_scale, l_err);
    }
  }
}

TEST_CASE("on trained weights the target activation rises step after step", "[filter_ascent]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  techniques::AscentRecipe recipe;
  recipe.steps = 12;
  recipe.step_size = 0.02;
  for (const std::string layer : {"conv1", "conv2", "conv3"}) {
    INFO(layer);
    const std::vector<std::int64_t> filters{0, 1, 2, 3};
    const at::Tensor start = (at::rand({4, 3, 32, 32}) * 20 + 128) / 255.0;
    const auto r = techniques::gradient_ascent(model, layer, filters, start, recipe, false);
    const at::Tensor first = r.losses[0], last = r.losses[recipe.steps - 1];
    // Filters that are alive at the start rise strongly; none falls.
    CHECK((last >= first).all().item<bool>());
    CHECK((last - first).max().item<double>() > 0.05);
    CHECK(model.deepest_tap == layer);  // nothing past the target layer ran
  }
}

TEST_CASE("a filter's result does not depend on the batch it ran in", "[filter_ascent]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  techniques::FilterAscent tech(args_for(host, {{"layers", "conv3"}, {"size", 32}, {"steps", 5}}));
  const std::vector<std::int64_t> all{0, 1, 2, 3, 4, 5};
  const at::Tensor together = tech.start_images(model, "conv3", all, 32, 32);
  const at::Tensor alone = tech.start_images(model, "conv3", {4}, 32, 32);
  CHECK(together[4].equal(alone[0]));
  techniques::AscentRecipe recipe;
  recipe.steps = 5;
  recipe.step_size = 0.02;
  const auto batched = techniques::gradient_ascent(model, "conv3", all, together, recipe, false);
  const auto single = techniques::gradient_ascent(model, "conv3", {4}, alone, recipe, false);
  CHECK((batched.losses.select(1, 4) - single.losses.select(1, 0)).abs().max().item<double>() < 1e-4);
}

TEST_CASE("filter_ascent technique emits per-filter images, titled grids and final losses", "[filter_ascent]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  KeepOutput out;
  techniques::FilterAscent tech(args_for(host, {{"layers", List{"conv1", "conv3"}},
                                                {"filters", 10},
                                                {"size", 40},
                                                {"steps", 4},
                                                {"step_size", 0.02},
                                                {"crop", 2},
                                                {"batch_size", 3},
                                                {"loss_curves", true},
                                                {"save_arrays", true}}));
  tech.run(model, out);
  // conv1 has 8 filters (10 capped), conv3 10 of 16.
  CHECK(out.find_image("conv1/filter_0007") != nullptr);
  CHECK(out.find_image("conv1/filter_0008") == nullptr);
  const auto* cell = out.find_image("conv3/filter_0009");
  REQUIRE(cell != nullptr);
  CHECK(cell->data.sizes() == at::IntArrayRef({36, 36, 3}));
  CHECK(cell->meta.at("layer").as_string() == "conv3");
  const auto* grid = out.find_image("conv3/grid");
  REQUIRE(grid != nullptr);
  // 10 cells of 36 px in 8 columns with 5 px margins: 2 rows, plus the title band.
  CHECK(grid->data.size(1) == 8 * 36 + 7 * 5);
  CHECK(grid->data.size(0) > 2 * 36 + 5);
  const auto& losses = out.records.at("final_losses").at("conv3").as_list();
  CHECK(losses.size() == 10);
  CHECK(out.records.at("loss_curves").at("conv1").as_list()[0].at("loss").as_list().size() == 4);
  CHECK(out.find_array("conv1/filter_0000")->data.sizes() == at::IntArrayRef({3, 40, 40}));
  CHECK(host.progress_calls >= 8);
}

TEST_CASE("filter_ascent inits: uniform (model space), normal, a photo, interruption", "[filter_ascent]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  host.pictures["cat"] = at::rand({3, 50, 60}) * 255;
  {
    techniques::FilterAscent tech(args_for(host, {{"layers", "conv2"}, {"init", "uniform"}}));
    const at::Tensor s = tech.start_images(model, "conv2", {0, 1}, 20, 20);
    CHECK(s.min().item<double>() >= -0.125);
    CHECK(s.max().item<double>() < 0.125);
  }
  {
    techniques::FilterAscent tech(args_for(host, {{"layers", "conv2"}, {"init", "normal"}}));
    const at::Tensor s = tech.start_images(model, "conv2", {0}, 64, 64) * 255.0;  // back to pixels
    CHECK(s.mean().item<double>() == Approx(127).margin(0.5));
    CHECK(s.std().item<double>() == Approx(10).margin(0.5));
  }
  {
    techniques::FilterAscent tech(args_for(host, {{"layers", "conv2"}, {"init", Dict{{"image", "cat"}}}}));
    const at::Tensor s = tech.start_images(model, "conv2", {0, 3}, 25, 30);
    CHECK(s.sizes() == at::IntArrayRef({2, 3, 25, 30}));
    CHECK(s[0].equal(s[1]));
  }
  {
    host.stop_after = 3;
    KeepOutput out;
    techniques::FilterAscent tech(args_for(host, {{"layers", "conv2"}, {"size", 16}, {"steps", 10}}));
    CHECK_THROWS_AS(tech.run(model, out), Interrupted);
  }
}

TEST_CASE("under the host's bf16 autocast filter ascent stays close to fp32 and says so", "[filter_ascent][bf16]") {
  TinyNet model(technique_fixtures() + "/tiny_net");
  FakeHost host;
  KeepOutput fp32_out, bf16_out;
  Dict options{{"layers", "conv3"}, {"filters", 4}, {"size", 32}, {"steps", 6}, {"step_size", 0.02}};
  techniques::FilterAscent(args_for(host, options)).run(model, fp32_out);
  {
    // The host sets the precision around a technique (the run's policy); bf16 autocast
    // also works, slowly, where the CPU has no native bf16.
    host::PrecisionScope scope("bf16", c10::Device(c10::kCPU));
    techniques::FilterAscent(args_for(host, options)).run(model, bf16_out);
  }
  bool said = false;
  for (const auto& l : host.logs) said |= l.find("bf16 autocast") != std::string::npos;
  CHECK(said);
  const auto& a = fp32_out.records.at("final_losses").at("conv3").as_list();
  const auto& b = bf16_out.records.at("final_losses").at("conv3").as_list();
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(b[i].at("loss").as_double() == Approx(a[i].at("loss").as_double()).epsilon(0.1).margin(0.05));
  const at::Tensor ia = fp32_out.find_image("conv3/filter_0000")->data.to(at::kFloat);
  const at::Tensor ib = bf16_out.find_image("conv3/filter_0000")->data.to(at::kFloat);
  CHECK((ia - ib).abs().mean().item<double>() < 16.0);
}
