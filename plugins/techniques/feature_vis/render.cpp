// The optimisation loops: lucent's render_vis (Adam on the parameterisation, random
// transforms each step) and keras.io's deep_dream (octaves, detail reinjection).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

#include "feature_vis.h"

namespace vizrun::techniques::fv {

namespace {

/// PyTorch's Adam (no weight decay, not amsgrad), step by step as torch.optim.Adam.
class Adam {
 public:
  Adam(const at::Tensor& p, double lr) : m_lr(lr), m_m(at::zeros_like(p)), m_v(at::zeros_like(p)) {}
  void step(at::Tensor& p, const at::Tensor& grad) {
    ++m_t;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    m_m.mul_(b1).add_(grad, 1 - b1);
    m_v.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const double correction1 = 1 - std::pow(b1, static_cast<double>(m_t));
    const double correction2 = 1 - std::pow(b2, static_cast<double>(m_t));
    const at::Tensor denom = (m_v.sqrt() / std::sqrt(correction2)).add_(eps);
    p.addcdiv_(m_m, denom, -m_lr / correction1);
  }

 private:
  double m_lr;
  at::Tensor m_m, m_v;
  std::int64_t m_t = 0;
};

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// tf.image.resize (bilinear, half-pixel centres, no antialiasing) of NCHW.
at::Tensor tf_resize(const at::Tensor& x, std::int64_t h, std::int64_t w) {
  if (x.size(2) == h && x.size(3) == w) return x;
  return at::upsample_bilinear2d(x, {h, w}, /*align_corners=*/false);
}

}  // namespace

at::Tensor to_model_space(ModelBackend& model, const at::Tensor& picture) {
  at::Tensor rgb = picture;
  if (rgb.size(1) == 1) rgb = rgb.expand({-1, 3, -1, -1});
  return model.preprocess(rgb * 255.0).to(at::kFloat);
}

at::Tensor to_uint8(const at::Tensor& picture) {
  at::Tensor hwc = picture.detach().to(at::kCPU).to(at::kFloat).clamp(0, 1).permute({1, 2, 0});
  if (hwc.size(2) == 1) hwc = hwc.expand({-1, -1, 3});
  return (hwc * 255.0).round().to(at::kByte).contiguous();
}

RenderResult render(ModelBackend& model, std::vector<Term> terms, const RenderRecipe& recipe, std::int64_t batch,
                    std::int64_t h, std::int64_t w, std::uint64_t seed, const std::function<void(std::int64_t)>& on_step) {
  if (terms.empty()) throw Error("feature_vis: an objective needs at least one term");
  const std::vector<std::string> taps = tapped_layers(terms, model.logits_layer());
  const std::int64_t channels = model.input_spec().channels == 1 ? 1 : 3;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(splitmix(seed));
  ImageParam param(recipe.param, batch, channels, h, w, gen, model.device());
  std::mt19937_64 rng(splitmix(seed ^ 0x5eedULL));
  Adam adam(param.parameter(), recipe.learning_rate);
  const auto memory_format = recipe.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;

  RenderResult result;
  result.objective = at::empty({recipe.steps}, at::kDouble);
  result.terms = at::empty({recipe.steps, static_cast<std::int64_t>(terms.size())}, at::kDouble);
  for (std::int64_t step = 0; step < recipe.steps; ++step) {
    const std::vector<Draw> draws = draw(recipe.transforms, rng);
    at::Tensor grad;
    {
      torch::autograd::AutoGradMode grad_on(true);
      const at::Tensor picture = param.picture();
      at::Tensor x = apply(recipe.transforms, draws, picture);
      if (recipe.input_height > 0 && (x.size(2) != recipe.input_height || x.size(3) != recipe.input_width))
        x = at::upsample_bilinear2d(x, {recipe.input_height, recipe.input_width}, /*align_corners=*/true);
      x = to_model_space(model, x).contiguous(memory_format);
      const Activations acts = taps.empty() ? Activations{} : model.forward(x, taps);
      at::Tensor total;
      for (std::size_t i = 0; i < terms.size(); ++i) {
        const Term& t = terms[i];
        const at::Tensor v = term_value(t, picture, on_picture(t.kind) ? at::Tensor() : acts.at(t.layer));
        result.terms[step][static_cast<std::int64_t>(i)] = v.item<double>();
        total = total.defined() ? total + t.weight * v : t.weight * v;
      }
      result.objective[step] = total.item<double>();
      grad = torch::autograd::grad({-total}, {param.parameter()})[0];
    }
    {
      torch::autograd::AutoGradMode grad_off(false);
      adam.step(param.parameter(), grad);
    }
    if (on_step) on_step(step);
  }
  {
    torch::autograd::AutoGradMode grad_off(false);
    result.picture = param.picture().detach().to(at::kCPU).contiguous();
  }
  return result;
}

// ---------------------------------------------------------------- DeepDream

std::vector<std::pair<std::int64_t, std::int64_t>> octave_shapes(std::int64_t h, std::int64_t w, std::int64_t octaves,
                                                                 double octave_scale) {
  std::vector<std::pair<std::int64_t, std::int64_t>> shapes{{h, w}};
  for (std::int64_t i = 1; i < octaves; ++i) {
    const double f = std::pow(octave_scale, static_cast<double>(i));
    shapes.emplace_back(static_cast<std::int64_t>(static_cast<double>(h) / f),
                        static_cast<std::int64_t>(static_cast<double>(w) / f));
  }
  std::reverse(shapes.begin(), shapes.end());
  return shapes;
}

at::Tensor dream_loss(ModelBackend& model, const at::Tensor& input, const DreamRecipe& recipe) {
  std::vector<std::string> taps;
  for (const auto& [layer, coeff] : recipe.layers) taps.push_back(layer);
  const Activations acts = model.forward(input, taps);
  at::Tensor loss = at::zeros({}, input.options().dtype(at::kFloat));
  const std::int64_t b = recipe.border;
  for (const auto& [layer, coeff] : recipe.layers) {
    const at::Tensor a = acts.at(layer).to(at::kFloat);
    if (a.dim() != 4) throw Error("deep_dream: layer " + layer + " has no spatial output; choose a convolution");
    if (2 * b >= a.size(2) || 2 * b >= a.size(3))
      throw Error("deep_dream: layer " + layer + "'s " + std::to_string(a.size(2)) + "x" + std::to_string(a.size(3)) +
                  " map leaves nothing inside a border of " + std::to_string(b) + "; use a larger photo or fewer octaves");
    const at::Tensor inner = a.slice(2, b, a.size(2) - b).slice(3, b, a.size(3) - b);
    // keras.io divides by the size of the whole activation, border included.
    loss = loss + coeff * inner.pow(2).sum() / static_cast<double>(a.numel());
  }
  return loss;
}

DreamResult deep_dream(ModelBackend& model, const at::Tensor& photo, const DreamRecipe& recipe,
                       const std::function<void(std::int64_t, std::int64_t)>& on_step) {
  const at::Tensor original = photo.to(at::kFloat).detach();
  const auto shapes = octave_shapes(original.size(2), original.size(3), recipe.octaves, recipe.octave_scale);
  at::Tensor shrunk_original = tf_resize(original, shapes[0].first, shapes[0].second);
  at::Tensor img = original.clone();
  DreamResult result;
  for (std::size_t o = 0; o < shapes.size(); ++o) {
    const auto [h, w] = shapes[o];
    img = tf_resize(img, h, w).detach();
    std::vector<double> losses;
    for (std::int64_t i = 0; i < recipe.iterations; ++i) {
      at::Tensor grad;
      double loss = 0;
      {
        torch::autograd::AutoGradMode grad_on(true);
        img.requires_grad_(true);
        const at::Tensor l = dream_loss(model, img, recipe);
        loss = l.item<double>();
        grad = torch::autograd::grad({l}, {img})[0];
      }
      {
        torch::autograd::AutoGradMode grad_off(false);
        img = img.detach();
        // tf.math.l2_normalize: g / sqrt(max(sum(g^2), 1e-12))
        img.add_(grad / grad.pow(2).sum().clamp_min(1e-12).sqrt(), recipe.step);
      }
      losses.push_back(loss);
      if (on_step) on_step(static_cast<std::int64_t>(o), i);
      if (recipe.max_loss && loss > *recipe.max_loss) break;
    }
    result.losses.push_back(losses);
    {
      torch::autograd::AutoGradMode grad_off(false);
      // Detail reinjection: what shrinking and re-enlarging the photo lost comes back.
      const at::Tensor upscaled_shrunk = tf_resize(shrunk_original, h, w);
      const at::Tensor same_size = tf_resize(original, h, w);
      img = img + (same_size - upscaled_shrunk);
      shrunk_original = tf_resize(original, h, w);
    }
  }
  result.input = img.detach();
  return result;
}

}  // namespace vizrun::techniques::fv
