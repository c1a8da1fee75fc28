// The mathematics of the attribution methods (attribution.h), as captum 0.9.0 computes them.
#include "attribution.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "vizrun/model_extensions.h"

namespace vizrun::techniques::attribution {

namespace {
constexpr double kPi = 3.14159265358979323846;

/// Gauss-Legendre nodes and weights on [-1, 1], ascending (numpy's leggauss), by Newton's
/// method on the Legendre polynomial from Chebyshev-like starting points.
void legendre_gauss(std::int64_t n, std::vector<double>& nodes, std::vector<double>& weights) {
  nodes.assign(static_cast<std::size_t>(n), 0.0);
  weights.assign(static_cast<std::size_t>(n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    double z = std::cos(kPi * (static_cast<double>(i) + 0.75) / (static_cast<double>(n) + 0.5));
    double derivative = 1.0;
    for (int iter = 0; iter < 100; ++iter) {
      double p0 = 1.0, p1 = z;  // P_0, P_1; the recurrence ends with p1 = P_n
      for (std::int64_t k = 2; k <= n; ++k) {
        const double p2 = ((2.0 * k - 1.0) * z * p1 - (k - 1.0) * p0) / static_cast<double>(k);
        p0 = p1;
        p1 = p2;
      }
      derivative = static_cast<double>(n) * (z * p1 - p0) / (z * z - 1.0);
      const double step = p1 / derivative;
      z -= step;
      if (std::abs(step) < 1e-16) break;
    }
    // Descending z for ascending i; stored ascending.
    nodes[static_cast<std::size_t>(n - 1 - i)] = z;
    weights[static_cast<std::size_t>(n - 1 - i)] = 2.0 / ((1.0 - z * z) * derivative * derivative);
  }
}

std::vector<double> float_linspace(double start, double end, std::int64_t n) {
  // captum takes torch.linspace (float32) .tolist()
  const at::Tensor t = at::linspace(start, end, n, at::kFloat).to(at::kDouble);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + n);
}

struct GuidedOff {
  GuidedRelu* guided;
  ~GuidedOff() {
    try {
      guided->set_guided_relu(false);
    } catch (...) {  // turning it off never fails in practice; a destructor must not throw
    }
  }
};
}  // namespace

at::Tensor target_scores(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes, const std::string& score) {
  const std::string logits_layer = model.logits_layer();
  if (logits_layer.empty()) throw Error("attribution: the model has no classifier output (logits_layer is empty)");
  at::Tensor out = model.forward(x, {logits_layer}).at(logits_layer).to(at::kFloat);
  if (score == "probability") {
    const std::string act = model.output_activation();
    if (act == "softmax") out = out.softmax(1);
    else if (act == "sigmoid") out = out.sigmoid();
  }
  return out.gather(1, classes.to(out.device(), at::kLong).view({-1, 1})).squeeze(1);
}

at::Tensor input_gradients(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes, const std::string& score,
                           std::int64_t rows) {
  std::vector<at::Tensor> parts;
  for (std::int64_t first = 0; first < x.size(0); first += rows) {
    const std::int64_t count = std::min(rows, x.size(0) - first);
    torch::autograd::AutoGradMode grad_on(true);
    // Rows are independent (eval mode), so the gradient of the sum gives each its own.
    at::Tensor xi = x.narrow(0, first, count).detach().to(at::kFloat).requires_grad_(true);
    const at::Tensor total = target_scores(model, xi, classes.narrow(0, first, count), score).sum();
    parts.push_back(torch::autograd::grad({total}, {xi})[0].detach());
  }
  return parts.size() == 1 ? parts[0] : at::cat(parts, 0);
}

Quadrature quadrature(const std::string& method, std::int64_t n) {
  if (n < 2) throw Error("attribution: integrated_gradients steps must be at least 2, got " + std::to_string(n));
  Quadrature q;
  const double dn = static_cast<double>(n);
  if (method == "gausslegendre") {
    std::vector<double> nodes, weights;
    legendre_gauss(n, nodes, weights);
    for (std::int64_t i = 0; i < n; ++i) {
      q.alphas.push_back(0.5 * (1.0 + nodes[static_cast<std::size_t>(i)]));
      q.step_sizes.push_back(0.5 * weights[static_cast<std::size_t>(i)]);
    }
    return q;
  }
  q.step_sizes.assign(static_cast<std::size_t>(n), 1.0 / dn);
  if (method == "riemann_trapezoid") {
    q.step_sizes.front() /= 2;
    q.step_sizes.back() /= 2;
    q.alphas = float_linspace(0, 1, n);
  } else if (method == "riemann_left") {
    q.alphas = float_linspace(0, 1 - 1 / dn, n);
  } else if (method == "riemann_middle") {
    q.alphas = float_linspace(1 / (2 * dn), 1 - 1 / (2 * dn), n);
  } else if (method == "riemann_right") {
    q.alphas = float_linspace(1 / dn, 1, n);
  } else {
    throw Error("attribution: integrated_gradients method '" + method +
                "' is unknown; expected riemann_trapezoid, riemann_left, riemann_right, riemann_middle or gausslegendre");
  }
  return q;
}

at::Tensor integrated_gradients(ModelBackend& model, const at::Tensor& x, const at::Tensor& baseline,
                                const at::Tensor& classes, const std::string& score, std::int64_t steps,
                                const std::string& method, std::int64_t rows) {
  const Quadrature q = quadrature(method, steps);
  const std::int64_t batch = x.size(0);
  const at::Tensor input = x.to(at::kFloat), base = baseline.to(at::kFloat).expand_as(input);
  const at::Tensor delta = input - base;
  const std::int64_t per_pass = std::max<std::int64_t>(1, rows / std::max<std::int64_t>(1, batch));
  at::Tensor total = at::zeros_like(input);
  for (std::int64_t first = 0; first < steps; first += per_pass) {
    const std::int64_t count = std::min(per_pass, steps - first);
    std::vector<at::Tensor> scaled;  // alpha-major, as captum concatenates them
    for (std::int64_t s = first; s < first + count; ++s) scaled.push_back(base + q.alphas[static_cast<std::size_t>(s)] * delta);
    const at::Tensor grads =
        input_gradients(model, at::cat(scaled, 0), classes.repeat({count}), score, std::max(rows, batch));
    torch::autograd::AutoGradMode grad_off(false);
    const at::Tensor sizes =
        at::tensor(std::vector<double>(q.step_sizes.begin() + first, q.step_sizes.begin() + first + count))
            .to(at::kFloat)
            .to(grads.device());
    std::vector<std::int64_t> shape = {count, batch};
    for (std::int64_t d = 1; d < input.dim(); ++d) shape.push_back(input.size(d));
    std::vector<std::int64_t> weight_shape(shape.size(), 1);
    weight_shape[0] = count;
    total += (grads.view(shape) * sizes.view(weight_shape)).sum(0);
  }
  return total * delta;
}

NoiseSource gaussian_noise(const at::Tensor& x, double stdev, std::uint64_t seed) {
  // One CPU generator per call: sample s is drawn after samples 0..s-1 whatever the chunks.
  auto generator = std::make_shared<at::Generator>(at::detail::createCPUGenerator(seed));
  std::vector<std::int64_t> shape(x.sizes().begin(), x.sizes().end());
  const c10::Device device = x.device();
  return [generator, shape, stdev, device](std::int64_t, std::int64_t count) {
    std::vector<at::Tensor> draws;
    for (std::int64_t s = 0; s < count; ++s)
      draws.push_back(at::normal(0.0, stdev, shape, *generator, at::TensorOptions().dtype(at::kFloat)));
    return at::stack(draws, 1).to(device);  // {B, count, ...}
  };
}

at::Tensor noise_tunnel(const Inner& inner, const at::Tensor& x, const std::string& kind, std::int64_t samples,
                        const NoiseSource& noise, std::int64_t rows) {
  if (kind != "smoothgrad" && kind != "smoothgrad_sq" && kind != "vargrad")
    throw Error("attribution: noise tunnel kind '" + kind + "' is unknown; expected smoothgrad, smoothgrad_sq or vargrad");
  const std::int64_t batch = x.size(0);
  const at::Tensor input = x.to(at::kFloat);
  const std::int64_t per_pass = std::max<std::int64_t>(1, std::min(samples, rows / std::max<std::int64_t>(1, batch)));
  at::Tensor sum = at::zeros_like(input), sum_sq = at::zeros_like(input);
  std::vector<std::int64_t> flat = {-1};
  for (std::int64_t d = 1; d < input.dim(); ++d) flat.push_back(input.size(d));
  for (std::int64_t first = 0; first < samples; first += per_pass) {
    const std::int64_t count = std::min(per_pass, samples - first);
    const at::Tensor noisy = (input.unsqueeze(1) + noise(first, count)).reshape(flat);  // image-major, as captum
    const at::Tensor source = at::arange(batch, at::TensorOptions().dtype(at::kLong)).repeat_interleave(count);
    const at::Tensor a = inner(noisy, source.to(x.device()));
    torch::autograd::AutoGradMode grad_off(false);
    std::vector<std::int64_t> grouped = {batch, count};
    for (std::int64_t d = 1; d < input.dim(); ++d) grouped.push_back(input.size(d));
    const at::Tensor g = a.view(grouped);
    sum += g.sum(1);
    sum_sq += (g * g).sum(1);
  }
  const at::Tensor mean = sum * (1.0 / static_cast<double>(samples));
  if (kind == "smoothgrad") return mean;
  const at::Tensor mean_sq = sum_sq * (1.0 / static_cast<double>(samples));
  if (kind == "smoothgrad_sq") return mean_sq;
  return mean_sq - mean * mean;
}

at::Tensor guided_backprop(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes,
                           const std::string& score, std::int64_t rows) {
  GuidedRelu* guided = query<GuidedRelu>(model);
  if (guided == nullptr)
    throw Error("attribution: guided backpropagation needs a model backend with the vizrun.GuidedRelu/1 extension "
                "(the graph backends vgg16, resnet50v2, small_convnet and keras have it); this backend has none");
  guided->set_guided_relu(true);
  const GuidedOff off{guided};
  return input_gradients(model, x, classes, score, rows);
}

at::Tensor layer_grad_cam(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes,
                          const std::string& score, const std::string& layer) {
  torch::autograd::AutoGradMode grad_on(true);
  at::Tensor xi = x.detach().to(at::kFloat).requires_grad_(true);
  const std::string logits_layer = model.logits_layer();
  const Activations acts = model.forward(xi, {layer, logits_layer});
  const at::Tensor& features = acts.at(layer);
  if (features.dim() != 4) throw Error("attribution: guided_gradcam layer " + layer + " has no spatial output");
  at::Tensor out = acts.at(logits_layer).to(at::kFloat);
  if (score == "probability") {
    const std::string act = model.output_activation();
    if (act == "softmax") out = out.softmax(1);
    else if (act == "sigmoid") out = out.sigmoid();
  }
  const at::Tensor total = out.gather(1, classes.to(out.device(), at::kLong).view({-1, 1})).sum();
  const at::Tensor grads = torch::autograd::grad({total}, {features})[0];
  torch::autograd::AutoGradMode grad_off(false);
  const at::Tensor weights = grads.to(at::kFloat).mean({2, 3}, /*keepdim=*/true);
  return (weights * features.detach().to(at::kFloat)).sum(1, /*keepdim=*/true).relu();
}

at::Tensor guided_grad_cam(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes,
                           const std::string& score, const std::string& layer, std::int64_t rows) {
  std::vector<at::Tensor> cams;
  for (std::int64_t first = 0; first < x.size(0); first += rows) {
    const std::int64_t count = std::min(rows, x.size(0) - first);
    cams.push_back(layer_grad_cam(model, x.narrow(0, first, count), classes.narrow(0, first, count), score, layer));
  }
  const at::Tensor cam = at::cat(cams, 0);
  const at::Tensor gbp = guided_backprop(model, x, classes, score, rows);
  const std::vector<std::int64_t> side = {x.size(2), x.size(3)};
  return gbp * at::upsample_nearest2d(cam, at::IntArrayRef(side));
}

at::Tensor occlusion(ModelBackend& model, const at::Tensor& x, const at::Tensor& classes, const std::string& score,
                     std::int64_t window, std::int64_t stride, double baseline, std::int64_t rows) {
  const std::int64_t height = x.size(2), width = x.size(3);
  if (window < 1 || stride < 1 || window > std::min(height, width) || stride > window)
    throw Error("attribution: occlusion needs 1 <= stride <= window <= the input side (" + std::to_string(height) +
                "), got window " + std::to_string(window) + ", stride " + std::to_string(stride));
  torch::autograd::AutoGradMode grad_off(false);
  const at::Tensor input = x.to(at::kFloat);
  // captum: ceil((side - window) / stride) + 1 offsets; the last window may be cut.
  auto offsets = [&](std::int64_t side) {
    std::vector<std::int64_t> out;
    const std::int64_t count = (side - window + stride - 1) / stride + 1;
    for (std::int64_t k = 0; k < count; ++k) out.push_back(k * stride);
    return out;
  };
  const auto ys = offsets(height), xs = offsets(width);
  std::vector<std::pair<std::int64_t, std::int64_t>> windows;
  for (const auto y : ys)
    for (const auto x0 : xs) windows.emplace_back(y, x0);
  const at::Tensor plain = target_scores(model, input, classes, score);
  at::Tensor result = at::zeros_like(input);
  const auto total = static_cast<std::int64_t>(windows.size());
  for (std::int64_t b = 0; b < input.size(0); ++b) {
    at::Tensor sum = at::zeros({height, width}, input.options());
    at::Tensor count = at::zeros({height, width}, input.options());
    for (std::int64_t first = 0; first < total; first += rows) {
      const std::int64_t n = std::min(rows, total - first);
      at::Tensor mask = at::zeros({n, 1, height, width}, input.options());
      for (std::int64_t i = 0; i < n; ++i) {
        const auto [y, x0] = windows[static_cast<std::size_t>(first + i)];
        mask[i].narrow(1, y, std::min(window, height - y)).narrow(2, x0, std::min(window, width - x0)).fill_(1.0);
      }
      const at::Tensor occluded = input[b].unsqueeze(0) * (1 - mask) + baseline * mask;
      const at::Tensor drop = plain[b] - target_scores(model, occluded, classes[b].expand({n}), score);
      sum += (drop.view({n, 1, 1, 1}) * mask).sum(0).squeeze(0);
      count += mask.sum(0).squeeze(0);
    }
    result[b].copy_((sum / count).unsqueeze(0).expand({input.size(1), height, width}));
  }
  return result;
}

double cumulative_threshold(const at::Tensor& values, double percentile) {
  const at::Tensor sorted = std::get<0>(values.detach().abs().flatten().to(at::kDouble).sort());
  const at::Tensor sums = sorted.cumsum(0);
  const double target = sums[-1].item<double>() * 0.01 * percentile;
  const at::Tensor reached = (sums >= target).nonzero();
  if (reached.numel() == 0) return sorted[-1].item<double>();
  return sorted[reached[0][0].item<std::int64_t>()].item<double>();
}

at::Tensor diverging_colormap(const at::Tensor& v) {
  const at::Tensor t = v.to(at::kFloat).clamp(-1, 1);
  const at::Tensor pos = t.clamp_min(0), neg = (-t).clamp_min(0);
  // Red (+): white fades to (214, 39, 40); blue (-): to (31, 119, 180).
  auto channel = [&](double red_end, double blue_end) {
    return 255.0 - pos * (255.0 - red_end) - neg * (255.0 - blue_end);
  };
  return at::stack({channel(214, 31), channel(39, 119), channel(40, 180)}, -1).round().clamp(0, 255).to(at::kByte);
}

}  // namespace vizrun::techniques::attribution
