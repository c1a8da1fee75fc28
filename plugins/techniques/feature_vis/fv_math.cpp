// Parameterisations, transforms and objectives of feature_vis: lucent 0.1.8's
// mathematics (and lucid's where lucent has none), checked against it by
// tests/oracles/techniques/make_feature_vis_fixtures.py.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (ATen.h no longer brings it in LibTorch 2.x)

#include <cmath>

#include "feature_vis.h"

namespace vizrun::techniques::fv {

namespace {

/// numpy's fftfreq(n): [0, 1, ..., (n-1)/2, -(n/2), ..., -1] * (1 / n), float64.
std::vector<double> fftfreq(std::int64_t n) {
  std::vector<double> f(static_cast<std::size_t>(n));
  const double val = 1.0 / static_cast<double>(n);
  const std::int64_t positive = (n - 1) / 2 + 1;
  for (std::int64_t k = 0; k < n; ++k) f[k] = static_cast<double>(k < positive ? k : k - n) * val;
  return f;
}

/// kornia's normal_transform_pixel: pixel coordinates -> [-1, 1] with (size - 1).
at::Tensor normal_transform_pixel(std::int64_t h, std::int64_t w) {
  at::Tensor n = at::eye(3, at::kDouble);
  n[0][0] = 2.0 / (static_cast<double>(w) - 1.0);
  n[1][1] = 2.0 / (static_cast<double>(h) - 1.0);
  n[0][2] = -1.0;
  n[1][2] = -1.0;
  return n;
}

/// kornia 0.4.1's warp_affine of `x` by the pixel-space 3x3 matrix `m` (dst = m src) to
/// the same size: the grid samples the source at the normalised inverse, with
/// align_corners=False although the normalisation used size - 1 (kornia's own mix,
/// kept so that the pictures match).
at::Tensor warp_affine(const at::Tensor& x, const at::Tensor& m) {
  const std::int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  const at::Tensor n = normal_transform_pixel(h, w);
  const at::Tensor src_norm_from_dst_norm = at::linalg_inv(n.matmul(m).matmul(at::linalg_inv(n)));
  const at::Tensor theta = src_norm_from_dst_norm.slice(0, 0, 2).to(x.scalar_type()).to(x.device()).unsqueeze(0).expand({b, 2, 3});
  const at::Tensor grid = at::affine_grid_generator(theta.contiguous(), {b, x.size(1), h, w}, /*align_corners=*/false);
  return at::grid_sampler(x, grid, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners=*/false);
}

std::int64_t roundup(double v) { return static_cast<std::int64_t>(std::ceil(v)); }

/// lucent's _torch_blur: each channel averaged over its 3x3 neighbourhood, the centre
/// weighing 1 and the ring 0.5, normalised by the weights inside the picture.
at::Tensor torch_blur(const at::Tensor& t) {
  const std::int64_t depth = t.size(1);
  at::Tensor weight = at::zeros({depth, depth, 3, 3}, t.options());
  for (std::int64_t c = 0; c < depth; ++c) {
    weight[c][c].fill_(0.5);
    weight[c][c][1][1] = 1.0;
  }
  const auto conv = [&](const at::Tensor& v) { return at::conv2d(v, weight, {}, 1, 1); };
  return conv(t) / conv(at::ones_like(t));
}

at::Tensor batch_slice(const at::Tensor& t, const std::optional<std::int64_t>& batch) {
  if (!batch) return t;
  if (*batch >= t.size(0))
    throw Error("feature_vis: objective batch " + std::to_string(*batch) + " is past the batch of " +
                std::to_string(t.size(0)) + " pictures");
  return t.slice(0, *batch, *batch + 1);
}

void check_channel(const Term& term, const at::Tensor& acts) {
  if (term.channel < 0 || term.channel >= acts.size(1))
    throw Error("feature_vis: " + kind_name(term.kind) + " " + std::to_string(term.channel) + " of layer " + term.layer +
                " is out of range (it has " + std::to_string(acts.size(1)) + ")");
}

}  // namespace

// ---------------------------------------------------------------- parameterisations

at::Tensor rfft2d_freqs(std::int64_t h, std::int64_t w) {
  const std::vector<double> fy = fftfreq(h), fx_all = fftfreq(w);
  const std::int64_t wf = w % 2 == 1 ? std::min(w, w / 2 + 2) : w / 2 + 1;
  at::Tensor freqs = at::empty({h, wf}, at::kDouble);
  auto a = freqs.accessor<double, 2>();
  for (std::int64_t i = 0; i < h; ++i)
    for (std::int64_t j = 0; j < wf; ++j) a[i][j] = std::sqrt(fx_all[j] * fx_all[j] + fy[i] * fy[i]);
  return freqs;
}

at::Tensor spectrum_scale(std::int64_t h, std::int64_t w, double decay_power) {
  const double floor = 1.0 / static_cast<double>(std::max(w, h));
  const at::Tensor scale = 1.0 / at::pow(at::clamp_min(rfft2d_freqs(h, w), floor), decay_power);
  return scale.to(at::kFloat).unsqueeze(0).unsqueeze(0).unsqueeze(-1);
}

at::Tensor fft_image(const at::Tensor& spectrum, const at::Tensor& scale, std::int64_t h, std::int64_t w) {
  const at::Tensor scaled = (scale * spectrum).contiguous();
  const at::Tensor image = at::fft_irfftn(at::view_as_complex(scaled), c10::IntArrayRef{h, w}, c10::nullopt, "ortho");
  return image.slice(2, 0, h).slice(3, 0, w) / 4.0;  // lucid's magic 4: less saturation
}

at::Tensor color_correlation_normalized() {
  const at::Tensor svd_sqrt = at::tensor({0.26f, 0.09f, 0.02f, 0.27f, 0.00f, -0.05f, 0.27f, -0.09f, 0.03f}).view({3, 3});
  const at::Tensor max_norm = svd_sqrt.pow(2).sum(0).sqrt().max();
  return svd_sqrt / max_norm;
}

at::Tensor decorrelate_color(const at::Tensor& image) {
  const at::Tensor m = color_correlation_normalized().t().to(image.device());
  return image.permute({0, 2, 3, 1}).matmul(m).permute({0, 3, 1, 2});
}

at::Tensor to_valid_rgb(const at::Tensor& raw, bool decorrelate, ValidRange range) {
  const at::Tensor image = decorrelate && raw.size(1) == 3 ? decorrelate_color(raw) : raw;
  switch (range) {
    case ValidRange::sigmoid: return at::sigmoid(image);
    case ValidRange::clip: return at::clamp(image + 0.5, 0.0, 1.0);
    case ValidRange::none: break;
  }
  return image + 0.5;
}

ImageParam::ImageParam(const Parameterization& p, std::int64_t batch, std::int64_t channels, std::int64_t h,
                       std::int64_t w, at::Generator gen, c10::Device device)
    : m_p(p), m_h(h), m_w(w) {
  const std::int64_t wf = p.fourier ? rfft2d_freqs(h, w).size(1) : w;
  const std::vector<std::int64_t> shape =
      p.fourier ? std::vector<std::int64_t>{batch, channels, h, wf, 2} : std::vector<std::int64_t>{batch, channels, h, w};
  m_raw = (at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * p.sd).to(device);
  m_raw.requires_grad_(true);
  if (p.fourier) m_scale = spectrum_scale(h, w, p.decay_power).to(device);
}

ImageParam::ImageParam(const Parameterization& p, at::Tensor raw, std::int64_t h, std::int64_t w)
    : m_p(p), m_raw(raw.detach().clone()), m_h(h), m_w(w) {
  m_raw.requires_grad_(true);
  if (p.fourier) m_scale = spectrum_scale(h, w, p.decay_power).to(m_raw.device());
}

at::Tensor ImageParam::picture() const {
  const at::Tensor raw = m_p.fourier ? fft_image(m_raw, m_scale, m_h, m_w) : m_raw;
  return to_valid_rgb(raw, m_p.decorrelate, m_p.range);
}

// ---------------------------------------------------------------- transforms

std::vector<Transform> standard_transforms() {
  Transform pad_t{Transform::Kind::pad, 12, 0.5, false, {}};
  Transform jitter8{Transform::Kind::jitter, 8, 0, false, {}};
  Transform scale_t{Transform::Kind::scale, 0, 0, false, {}};
  for (int i = 0; i < 11; ++i) scale_t.choices.push_back(1.0 + (i - 5) / 50.0);
  Transform rotate_t{Transform::Kind::rotate, 0, 0, false, {}};
  for (int a = -10; a <= 10; ++a) rotate_t.choices.push_back(a);
  for (int i = 0; i < 5; ++i) rotate_t.choices.push_back(0);
  Transform jitter4{Transform::Kind::jitter, 4, 0, false, {}};
  return {pad_t, jitter8, scale_t, rotate_t, jitter4};
}

std::vector<Draw> draw(const std::vector<Transform>& chain, std::mt19937_64& rng) {
  std::vector<Draw> draws;
  for (const auto& t : chain) {
    Draw d;
    if (t.kind == Transform::Kind::jitter) {
      std::uniform_int_distribution<std::int64_t> pick(0, t.amount - 1);
      d.dx = pick(rng);
      d.dy = pick(rng);
    } else if (t.kind == Transform::Kind::scale || t.kind == Transform::Kind::rotate) {
      std::uniform_int_distribution<std::size_t> pick(0, t.choices.size() - 1);
      d.value = t.choices[pick(rng)];
    }
    draws.push_back(d);
  }
  return draws;
}

at::Tensor pad(const at::Tensor& x, std::int64_t w, double value, bool reflect) {
  if (reflect) return at::reflection_pad2d(x, {w, w, w, w});
  return at::constant_pad_nd(x, {w, w, w, w}, value);
}

at::Tensor translate(const at::Tensor& x, double dx, double dy) {
  at::Tensor m = at::eye(3, at::kDouble);
  m[0][2] = dx;
  m[1][2] = dy;
  return warp_affine(x, m);
}

at::Tensor scale(const at::Tensor& x, double factor) {
  const std::int64_t h = x.size(2), w = x.size(3);
  const std::int64_t sh = roundup(factor * static_cast<double>(h)), sw = roundup(factor * static_cast<double>(w));
  const std::int64_t pad_x = std::max<std::int64_t>(0, roundup(static_cast<double>(w - sw) / 2.0));
  const std::int64_t pad_y = std::max<std::int64_t>(0, roundup(static_cast<double>(h - sh) / 2.0));
  const at::Tensor up = at::upsample_bilinear2d(x, {sh, sw}, /*align_corners=*/true);
  // lucent pads [pad_y, pad_x] * 2: left pad_y, right pad_x, top pad_y, bottom pad_x.
  return at::constant_pad_nd(up, {pad_y, pad_x, pad_y, pad_x}, 0.0);
}

at::Tensor rotate(const at::Tensor& x, double degrees) {
  const double cx = (static_cast<double>(x.size(3)) - 1) / 2, cy = (static_cast<double>(x.size(2)) - 1) / 2;
  // kornia computes the angle's cos and sin in float32: do the same.
  const at::Tensor rad = at::tensor({static_cast<float>(degrees)}) * static_cast<float>(M_PI / 180.0);
  const double c = at::cos(rad).item<float>(), s = at::sin(rad).item<float>();
  at::Tensor m = at::eye(3, at::kDouble);  // OpenCV's getRotationMatrix2D, scale 1
  m[0][0] = c;
  m[0][1] = s;
  m[0][2] = (1 - c) * cx - s * cy;
  m[1][0] = -s;
  m[1][1] = c;
  m[1][2] = s * cx + (1 - c) * cy;
  return warp_affine(x, m);
}

at::Tensor apply(const std::vector<Transform>& chain, const std::vector<Draw>& draws, const at::Tensor& x) {
  at::Tensor y = x;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const Transform& t = chain[i];
    const Draw& d = draws.at(i);
    switch (t.kind) {
      case Transform::Kind::pad: y = pad(y, t.amount, t.pad_value, t.pad_reflect); break;
      case Transform::Kind::jitter: y = translate(y, static_cast<double>(d.dx), static_cast<double>(d.dy)); break;
      case Transform::Kind::scale: y = scale(y, d.value); break;
      case Transform::Kind::rotate: y = rotate(y, d.value); break;
    }
  }
  return y;
}

// ---------------------------------------------------------------- objectives

namespace {
const std::vector<std::pair<Term::Kind, std::string>>& kind_names() {
  static const std::vector<std::pair<Term::Kind, std::string>> names{
      {Term::Kind::channel, "channel"},
      {Term::Kind::neuron, "neuron"},
      {Term::Kind::direction, "direction"},
      {Term::Kind::layer, "layer"},
      {Term::Kind::class_logit, "class_logit"},
      {Term::Kind::class_probability, "class_probability"},
      {Term::Kind::diversity, "diversity"},
      {Term::Kind::total_variation, "total_variation"},
      {Term::Kind::l1, "l1"},
      {Term::Kind::l2, "l2"},
      {Term::Kind::squared_l2, "squared_l2"},
      {Term::Kind::blur, "blur"}};
  return names;
}
}  // namespace

std::string kind_name(Term::Kind kind) {
  for (const auto& [k, n] : kind_names())
    if (k == kind) return n;
  return "?";
}

Term::Kind kind_named(const std::string& name) {
  std::vector<std::string> all;
  for (const auto& [k, n] : kind_names()) {
    if (n == name) return k;
    all.push_back(n);
  }
  throw Error("feature_vis: unknown objective type '" + name + "' (expected one of " + kit::join(all) + ")");
}

bool on_picture(Term::Kind kind) {
  return kind == Term::Kind::total_variation || kind == Term::Kind::l1 || kind == Term::Kind::l2 ||
         kind == Term::Kind::squared_l2 || kind == Term::Kind::blur;
}

at::Tensor term_value(const Term& term, const at::Tensor& picture, const at::Tensor& layer_acts) {
  using K = Term::Kind;
  if (on_picture(term.kind)) {
    const at::Tensor x = batch_slice(picture, term.batch);
    switch (term.kind) {
      case K::total_variation:  // tf.image.total_variation, summed over the batch (lucid)
        return (x.slice(2, 1) - x.slice(2, 0, -1)).abs().sum() + (x.slice(3, 1) - x.slice(3, 0, -1)).abs().sum();
      case K::l1: return (x - term.constant).abs().sum();
      case K::l2: return (1e-6 + (x - term.constant).pow(2).sum()).sqrt();
      case K::squared_l2: return (x - term.constant).pow(2).sum();
      default: {  // blur: lucent's blur_input_each_step, the blurred picture held fixed
        at::Tensor blurred;
        {
          at::NoGradGuard no_grad;
          blurred = torch_blur(x.detach());
        }
        return -0.5 * (x - blurred).pow(2).sum();
      }
    }
  }
  const at::Tensor acts = batch_slice(layer_acts, term.batch).to(at::kFloat);
  switch (term.kind) {
    case K::channel:
    case K::class_logit:
      check_channel(term, acts);
      return acts.select(1, term.channel).mean();
    case K::class_probability:
      check_channel(term, acts);
      return at::softmax(acts, 1).select(1, term.channel).mean();
    case K::neuron: {
      check_channel(term, acts);
      if (acts.dim() != 4) throw Error("feature_vis: neuron needs a spatial layer; " + term.layer + " is not");
      // lucent's _extract_act_pos: x defaults to shape[2] // 2 and y to shape[3] // 2.
      const std::int64_t x = term.x.value_or(acts.size(2) / 2), y = term.y.value_or(acts.size(3) / 2);
      if (y < 0 || y >= acts.size(2) || x < 0 || x >= acts.size(3))
        throw Error("feature_vis: neuron position (" + std::to_string(x) + ", " + std::to_string(y) +
                    ") is outside the " + std::to_string(acts.size(3)) + "x" + std::to_string(acts.size(2)) +
                    " map of " + term.layer);
      return acts.select(1, term.channel).slice(1, y, y + 1).slice(2, x, x + 1).mean();
    }
    case K::direction: {
      if (static_cast<std::int64_t>(term.direction.size()) != acts.size(1))
        throw Error("feature_vis: direction has " + std::to_string(term.direction.size()) + " values; layer " +
                    term.layer + " has " + std::to_string(acts.size(1)) + " channels");
      std::vector<std::int64_t> shape(static_cast<std::size_t>(acts.dim()), 1);
      shape[1] = -1;
      const at::Tensor d = at::tensor(term.direction, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat).to(acts.device()).view(shape);
      return at::cosine_similarity(d, acts, 1).mean();
    }
    case K::layer: return acts.pow(2).mean();  // lucid's deepdream
    case K::diversity: {
      if (acts.dim() != 4) throw Error("feature_vis: diversity needs a spatial layer; " + term.layer + " is not");
      const std::int64_t b = acts.size(0), c = acts.size(1);
      const at::Tensor flat = acts.reshape({b, c, -1});
      at::Tensor grams = flat.matmul(flat.transpose(1, 2));
      grams = grams / grams.pow(2).sum({1, 2}, true).sqrt().clamp_min(1e-12);  // F.normalize over (1, 2)
      // sum over i != j of <g_i, g_j> = |sum g|^2 - sum |g_i|^2
      const at::Tensor g = grams.reshape({b, -1});
      const at::Tensor all_pairs = g.sum(0).pow(2).sum() - g.pow(2).sum();
      return -all_pairs / static_cast<double>(b);
    }
    default: break;
  }
  throw Error("feature_vis: objective " + kind_name(term.kind) + " has no value");
}

std::vector<std::string> tapped_layers(std::vector<Term>& terms, const std::string& logits_layer) {
  std::vector<std::string> taps;
  for (auto& t : terms) {
    if (on_picture(t.kind)) continue;
    if (t.layer.empty()) {
      if (t.kind != Term::Kind::class_logit && t.kind != Term::Kind::class_probability)
        throw Error("feature_vis: objective " + kind_name(t.kind) + " needs a layer");
      if (logits_layer.empty()) throw Error("feature_vis: the model has no classifier for " + kind_name(t.kind));
      t.layer = logits_layer;
    }
    if (std::find(taps.begin(), taps.end(), t.layer) == taps.end()) taps.push_back(t.layer);
  }
  return taps;
}

}  // namespace vizrun::techniques::fv
