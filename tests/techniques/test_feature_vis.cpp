// feature_vis and deep_dream: the parameterisations, transforms and objectives
// against torch-lucent 0.1.8 (tests/oracles/techniques/make_feature_vis_fixtures.py),
// then on the trained Fashion-MNIST demo model: objectives rise, class models are
// classified as their class, diversity lowers similarity, runs are reproducible.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "catch.h"

#include <cstdio>

#include "feature_vis.h"
#include "npy.h"
#include "technique.h"
#include "test_support.h"

using namespace vizrun;
using namespace vizrun::techniques;
using vizrun::testing::read_npy;

namespace {

at::Tensor fixture(const std::string& name) {
  return read_npy(std::string(VIZRUN_TECHNIQUE_FIXTURES) + "/feature_vis/" + name + ".npy");
}

double rel_error(const at::Tensor& got, const at::Tensor& want) {
  REQUIRE(got.sizes() == want.sizes());
  const double scale = std::max(want.abs().max().item<double>(), 1e-12);
  return (got.to(at::kFloat) - want).abs().max().item<double>() / scale;
}

void check_close(const std::string& what, const at::Tensor& got, const at::Tensor& want, double tol = 1e-4) {
  const double e = rel_error(got, want);
  std::printf("feature_vis vs lucent: %-28s max error / max |value| = %.3g\n", what.c_str(), e);
  INFO(what);
  CHECK(e < tol);
}

std::shared_ptr<ModelBackend> demo_model(const testing::TestHost& host) {
  CreateArgs args;
  args.options = testing::with_defaults("small_convnet", Dict{{"architecture", "models/fashion_mnist.yaml"}});
  args.host = &host;
  args.weights = std::string(VIZRUN_SOURCE_DIR) + "/examples/fashion_mnist/fashion_mnist.safetensors";
  args.seed = 1;
  return testing::registry().create_model("small_convnet", args);
}

testing::TestHost& configs_host() {
  static testing::TestHost host(std::string(VIZRUN_SOURCE_DIR) + "/configs");
  return host;
}

std::string conv_layer(const ModelBackend& m, std::size_t k) {
  std::vector<std::string> convs;
  for (const auto& l : m.layers())
    if (kit::is_conv_type(l.type)) convs.push_back(l.name);
  return convs.at(k);
}

/// Light transforms for 28 x 28 pictures (lucent's are sized for 224).
fv::RenderRecipe small_recipe(std::int64_t steps) {
  fv::RenderRecipe r;
  r.transforms = {fv::Transform{fv::Transform::Kind::pad, 2, 0.5, false, {}},
                  fv::Transform{fv::Transform::Kind::jitter, 3, 0, false, {}},
                  fv::Transform{fv::Transform::Kind::scale, 0, 0, false, {0.95, 1.0, 1.05}},
                  fv::Transform{fv::Transform::Kind::rotate, 0, 0, false, {-5, 0, 5}}};
  r.steps = steps;
  r.input_height = r.input_width = 28;
  return r;
}

fv::Term term(fv::Term::Kind k, const std::string& layer, std::int64_t channel = 0, double weight = 1.0) {
  fv::Term t{k};
  t.layer = layer;
  t.channel = channel;
  t.weight = weight;
  return t;
}

}  // namespace

TEST_CASE("Fourier parameterisation and colour decorrelation match lucent", "[feature_vis][oracle]") {
  for (const auto& [h, w] : {std::pair<std::int64_t, std::int64_t>{8, 8}, {9, 7}}) {
    const std::string size = std::to_string(h) + "x" + std::to_string(w);
    const at::Tensor spectrum = fixture("fft_spectrum_" + size);
    CHECK(spectrum.size(3) == fv::rfft2d_freqs(h, w).size(1));
    check_close("fft_image " + size, fv::fft_image(spectrum, fv::spectrum_scale(h, w), h, w), fixture("fft_image_" + size));
  }
  const at::Tensor raw = fixture("color_raw");
  check_close("decorrelate colour", fv::decorrelate_color(raw), fixture("color_decorrelated"));
  check_close("to_valid_rgb (sigmoid)", fv::to_valid_rgb(raw, true, fv::ValidRange::sigmoid), fixture("color_valid_rgb"));
}

TEST_CASE("each transform matches lucent given the same draws", "[feature_vis][oracle]") {
  const at::Tensor x = fixture("transform_input");
  check_close("pad 12 constant 0.5", fv::pad(x, 12, 0.5, false), fixture("pad_12"));
  check_close("pad 3 reflect", fv::pad(x, 3, 0, true), fixture("pad_reflect_3"));
  check_close("jitter (3, 5)", fv::translate(x, 3, 5), fixture("jitter_3_5"));
  check_close("jitter (0, 7)", fv::translate(x, 0, 7), fixture("jitter_0_7"));
  check_close("scale 0.9", fv::scale(x, 1 + (-5) / 50.0), fixture("scale_0.9"));
  check_close("scale 1.1", fv::scale(x, 1 + 5 / 50.0), fixture("scale_1.1"));
  check_close("scale 1.04", fv::scale(x, 1 + 2 / 50.0), fixture("scale_1.04"));
  check_close("rotate -10", fv::rotate(x, -10), fixture("rotate_-10"));
  check_close("rotate 7", fv::rotate(x, 7), fixture("rotate_7"));
  check_close("rotate 0", fv::rotate(x, 0), fixture("rotate_0"));
  const auto chain = fv::standard_transforms();
  std::vector<fv::Draw> draws(chain.size());
  draws[1].dx = 5, draws[1].dy = 2, draws[2].value = 1 + 4 / 50.0, draws[3].value = -6, draws[4].dx = 1, draws[4].dy = 3;
  check_close("standard_transforms chain", fv::apply(chain, draws, x), fixture("standard_chain"));
}

TEST_CASE("each objective's value and gradient match lucent (lucid where lucent has none)", "[feature_vis][oracle]") {
  const at::Tensor acts0 = fixture("obj_acts"), logits0 = fixture("obj_logits"), picture0 = fixture("obj_picture");
  struct Case {
    std::string name;
    fv::Term term;
    double sign;  // lucent's channel/neuron/direction are losses: vizrun's terms are their negation
  };
  using K = fv::Term::Kind;
  std::vector<Case> cases;
  cases.push_back({"channel", term(K::channel, "layer", 4), -1});
  fv::Term batch1 = term(K::channel, "layer", 2);
  batch1.batch = 1;
  cases.push_back({"channel_batch1", batch1, -1});
  cases.push_back({"neuron", term(K::neuron, "layer", 3), -1});
  fv::Term xy = term(K::neuron, "layer", 1);
  xy.x = 2, xy.y = 4;
  cases.push_back({"neuron_xy", xy, -1});
  fv::Term dir = term(K::direction, "layer");
  const at::Tensor d = fixture("obj_direction");
  for (std::int64_t i = 0; i < d.numel(); ++i) dir.direction.push_back(d[i].item<double>());
  cases.push_back({"direction", dir, -1});
  cases.push_back({"class_logit", term(K::class_logit, "logits", 7), -1});
  cases.push_back({"class_probability", term(K::class_probability, "logits", 7), 1});
  cases.push_back({"diversity", term(K::diversity, "layer"), 1});
  cases.push_back({"layer", term(K::layer, "layer"), 1});
  cases.push_back({"blur", term(K::blur, ""), 1});
  cases.push_back({"total_variation", term(K::total_variation, ""), 1});
  for (const std::string n : {"l1", "l2", "squared_l2"}) {
    fv::Term t = term(fv::kind_named(n), "");
    t.constant = 0.5;
    cases.push_back({n, t, 1});
  }
  for (const auto& c : cases) {
    torch::autograd::AutoGradMode grad_on(true);
    const bool on_logits = c.term.layer == "logits";
    const bool picture_term = fv::on_picture(c.term.kind);
    at::Tensor wrt = (picture_term ? picture0 : on_logits ? logits0 : acts0).clone().requires_grad_(true);
    const at::Tensor v = fv::term_value(c.term, picture_term ? wrt : at::Tensor(), picture_term ? at::Tensor() : wrt);
    const at::Tensor g = torch::autograd::grad({v}, {wrt})[0];
    check_close(c.name + " value", (c.sign * v).reshape({1}).detach(), fixture("obj_" + c.name + "_value"));
    check_close(c.name + " gradient", c.sign * g, fixture("obj_" + c.name + "_grad"));
  }
}

TEST_CASE("on the demo model every objective rises over the steps", "[feature_vis][demo]") {
  auto model = demo_model(configs_host());
  const std::string c1 = conv_layer(*model, 0), c3 = conv_layer(*model, 2);
  using K = fv::Term::Kind;
  fv::Term dir = term(K::direction, c3);
  for (int i = 0; i < 64; ++i) dir.direction.push_back(i % 3 == 0 ? 1.0 : -0.2);
  // A ReLU neuron that is 0 at the start has no gradient (in lucent too): watch the
  // channel whose centre a grey picture excites most.
  std::int64_t live = 0;
  {
    torch::autograd::AutoGradMode off(false);
    const at::Tensor grey = fv::to_model_space(*model, at::full({1, 1, 28, 28}, 0.5));
    const at::Tensor a = model->forward(grey, {c3}).at(c3);
    live = a.select(2, a.size(2) / 2).select(2, a.size(3) / 2)[0].argmax().item<std::int64_t>();
  }
  const std::vector<fv::Term> objectives{term(K::channel, c1, 3), term(K::channel, c3, 10), term(K::neuron, c3, live), dir,
                                         term(K::layer, c3), term(K::class_logit, "", 1), term(K::class_probability, "", 8)};
  for (const auto& t : objectives) {
    const auto r = fv::render(*model, {t}, small_recipe(48), 2, 28, 28, 7);
    const double first = r.objective.slice(0, 0, 4).mean().item<double>();
    const double last = r.objective.slice(0, 44, 48).mean().item<double>();
    std::printf("feature_vis demo: %-18s %-10s objective %.4g -> %.4g (48 steps)\n", fv::kind_name(t.kind).c_str(),
                t.layer.c_str(), first, last);
    INFO(fv::kind_name(t.kind) << " " << t.layer);
    CHECK(last > first);
  }
}

TEST_CASE("class models of the demo model are classified as their class", "[feature_vis][demo][class_model]") {
  auto model = demo_model(configs_host());
  fv::RenderRecipe recipe = small_recipe(128);
  recipe.param.fourier = false;  // Simonyan et al.: pixels, class logit, squared L2
  recipe.param.decorrelate = false;
  recipe.param.range = fv::ValidRange::none;
  recipe.learning_rate = 0.05;
  for (std::int64_t k = 0; k < 10; ++k) {
    fv::Term l2 = term(fv::Term::Kind::squared_l2, "", 0, -0.01);
    l2.constant = 0.5;
    const auto r = fv::render(*model, {term(fv::Term::Kind::class_logit, "", k), l2}, recipe, 1, 28, 28, 100 + k);
    at::Tensor probs;
    {
      torch::autograd::AutoGradMode off(false);
      const at::Tensor x = fv::to_model_space(*model, r.picture.clamp(0, 1));
      probs = at::softmax(model->forward(x, {model->logits_layer()}).at(model->logits_layer()), 1)[0];
    }
    const std::int64_t top = probs.argmax().item<std::int64_t>();
    std::printf("class model %lld (%s): p(class) = %.4f, top class %lld\n", static_cast<long long>(k),
                kit::class_label(*model, k).c_str(), probs[k].item<double>(), static_cast<long long>(top));
    CHECK(top == k);
  }
}

TEST_CASE("the diversity term lowers the pairwise similarity of a batch", "[feature_vis][demo][diversity]") {
  auto model = demo_model(configs_host());
  const std::string c2 = conv_layer(*model, 1), c3 = conv_layer(*model, 2);
  const auto similarity = [&](const at::Tensor& pictures) {
    torch::autograd::AutoGradMode off(false);
    const at::Tensor acts = model->forward(fv::to_model_space(*model, pictures), {c2}).at(c2);
    return -fv::term_value(term(fv::Term::Kind::diversity, c2), {}, acts).item<double>();  // mean pairwise similarity
  };
  const auto plain = fv::render(*model, {term(fv::Term::Kind::channel, c3, 4)}, small_recipe(64), 4, 28, 28, 3);
  const auto diverse = fv::render(
      *model, {term(fv::Term::Kind::channel, c3, 4), term(fv::Term::Kind::diversity, c2, 0, 20.0)}, small_recipe(64), 4, 28, 28, 3);
  const double s_plain = similarity(plain.picture), s_diverse = similarity(diverse.picture);
  std::printf("diversity: pairwise Gram similarity summed per image %.4f without, %.4f with the diversity term\n", s_plain,
              s_diverse);
  CHECK(s_diverse < s_plain);
}

TEST_CASE("the same seed renders bit-identical pictures, another seed does not", "[feature_vis][demo][seed]") {
  auto model = demo_model(configs_host());
  const std::vector<fv::Term> obj{term(fv::Term::Kind::channel, conv_layer(*model, 1), 2)};
  fv::RenderRecipe recipe = small_recipe(10);
  const auto a = fv::render(*model, obj, recipe, 2, 28, 28, 42);
  const auto b = fv::render(*model, obj, recipe, 2, 28, 28, 42);
  const auto c = fv::render(*model, obj, recipe, 2, 28, 28, 43);
  CHECK(at::equal(a.picture, b.picture));
  CHECK_FALSE(at::equal(a.picture, c.picture));
}

TEST_CASE("the feature_vis technique emits tagged pictures and deep_dream dreams a photo", "[feature_vis][technique]") {
  auto model = demo_model(configs_host());
  const std::string c3 = conv_layer(*model, 2);
  {
    CreateArgs args;
    args.host = &configs_host();
    args.seed = 5;
    args.options = testing::with_defaults(
        "feature_vis",
        Dict{{"size", 28}, {"steps", 8}, {"transforms", List{Dict{{"type", "jitter"}, {"amount", 3}}}},
             {"renders", List{Dict{{"name", "conv"}, {"channels", List{0, 1}}, {"batch", 2},
                                   {"objective", List{Dict{{"type", "channel"}, {"layer", c3}},
                                                      Dict{{"type", "diversity"}, {"layer", c3}, {"weight", 5.0}}}}},
                              Dict{{"name", "classes"}, {"classes", List{3}},
                                   {"objective", List{Dict{{"type", "class_logit"}}}}}}}});
    FeatureVis fvis(args);
    fvis.check_model(*model);
    testing::MemoryOutput out;
    fvis.run(*model, out);
    const auto* img = out.find_image("conv/channel_0001/0");
    REQUIRE(img != nullptr);
    CHECK(img->meta.at("view").as_string() == "picture");
    CHECK(img->meta.at("layer").as_string() == c3);
    CHECK(img->data.size(2) == 3);
    const auto* cls = out.find_image("classes/class_3");
    REQUIRE(cls != nullptr);
    CHECK(cls->meta.at("class").as_int() == 3);
    CHECK(cls->meta.at("name").as_string() == "Dress");
    // A channel past the layer is refused before anything runs.
    args.options = testing::with_defaults(
        "feature_vis", Dict{{"renders", List{Dict{{"objective", List{Dict{{"type", "channel"}, {"layer", c3}, {"channel", 64}}}}}}}});
    CHECK_THROWS(FeatureVis(args).check_model(*model));
  }
  {
    CreateArgs args;
    args.host = &configs_host();
    args.options = testing::with_defaults(
        "deep_dream", Dict{{"images", "../data/fashion_mnist/9_ankle_boot.png"}, {"layers", Dict{{c3, 1.0}}},
                           {"size", 0}, {"octaves", 1}, {"iterations", 10}, {"step", 0.05}, {"border", 0}, {"max_loss", nullptr}});
    DeepDream dream(args);
    testing::MemoryOutput out;
    dream.run(*model, out);
    REQUIRE(out.images.size() == 1);
    const double first = out.images[0].meta.at("loss_first").as_double(), last = out.images[0].meta.at("loss_last").as_double();
    std::printf("deep_dream demo: loss %.4g -> %.4g in 10 iterations\n", first, last);
    CHECK(last > first);
  }
  const auto shapes = fv::octave_shapes(224, 300, 3, 1.4);
  CHECK(shapes.front() == std::make_pair<std::int64_t, std::int64_t>(114, 153));  // int(224 / 1.96), int(300 / 1.96)
  CHECK(shapes.back() == std::make_pair<std::int64_t, std::int64_t>(224, 300));
}
