// Faithfulness metrics (vizrun/faithfulness.h): pytorch-grad-cam's confidence and ROAD
// metrics, RISE's deletion and insertion curves.
#include "vizrun/faithfulness.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (ATen.h no longer brings it in LibTorch 2.x)
#include <Eigen/Sparse>
#include <Eigen/SparseCholesky>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "vizrun/error.h"
#include "vizrun/image.h"
#include "vizrun/kit.h"
#include "vizrun/memory.h"

namespace vizrun::faithfulness {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names{"deletion",          "insertion",        "cam_mult_confidence_change",
                                              "drop_in_confidence", "increase_in_confidence", "road_morf",
                                              "road_lerf",          "road_combined"};
  return names;
}

/// The class scores of a batch of model inputs, without gradients.
std::vector<double> class_scores(ModelBackend& model, const at::Tensor& batch, std::int64_t cls, const std::string& score) {
  at::NoGradGuard no_grad;
  const std::string logits_layer = model.logits_layer();
  at::Tensor s = model.forward(batch, {logits_layer}).at(logits_layer).to(at::kFloat).flatten(1);
  if (cls < 0 || cls >= s.size(1))
    throw Error("metrics: class " + std::to_string(cls) + " is out of range (the model scores " +
                std::to_string(s.size(1)) + " classes)");
  if (score == "probability") {
    const std::string act = model.output_activation();
    if (act == "softmax") s = s.softmax(1);
    else if (act == "sigmoid") s = s.sigmoid();
  }
  const at::Tensor column = s.select(1, cls).to(at::kDouble).cpu().contiguous();
  return std::vector<double>(column.data_ptr<double>(), column.data_ptr<double>() + column.numel());
}

/// A run of perturbed inputs of one image: `count` of them, the k-th written by fill(k, slot).
struct Segment {
  std::int64_t count;
  std::function<void(std::int64_t, at::Tensor)> fill;
};

/// Scores every input of `segments` in batches of `batch`; one buffer, never more inputs at once.
std::vector<std::vector<double>> score_segments(ModelBackend& model, const at::Tensor& like, std::int64_t cls,
                                                const std::string& score, std::int64_t batch,
                                                const std::vector<Segment>& segments) {
  std::int64_t total = 0;
  for (const auto& s : segments) total += s.count;
  at::Tensor buffer = at::empty({std::min(batch, std::max<std::int64_t>(total, 1)), like.size(0), like.size(1), like.size(2)},
                                like.options());
  std::vector<std::vector<double>> out(segments.size());
  std::vector<std::size_t> owner;  // the segment of each slot in the buffer
  std::int64_t used = 0;
  auto flush = [&] {
    if (used == 0) return;
    const auto scores = class_scores(model, buffer.narrow(0, 0, used), cls, score);
    for (std::int64_t i = 0; i < used; ++i) out[owner[static_cast<std::size_t>(i)]].push_back(scores[static_cast<std::size_t>(i)]);
    used = 0;
    owner.clear();
  };
  for (std::size_t s = 0; s < segments.size(); ++s) {
    for (std::int64_t k = 0; k < segments[s].count; ++k) {
      segments[s].fill(k, buffer[used]);
      owner.push_back(s);
      if (++used == buffer.size(0)) flush();
    }
  }
  flush();
  return out;
}

/// Pixel indices (raster order) by decreasing saliency, ties in raster order.
std::vector<std::int64_t> ranking(const at::Tensor& map) {
  const at::Tensor flat = map.to(at::kFloat).cpu().contiguous().flatten();
  const float* v = flat.data_ptr<float>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(flat.numel()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [v](std::int64_t a, std::int64_t b) { return v[a] > v[b]; });
  return order;
}

/// The deletion or insertion curve: `steps` + 1 inputs moving ranked pixels from `start` to `finish`.
Segment curve_segment(const at::Tensor& start, const at::Tensor& finish, const std::vector<std::int64_t>& order,
                      std::int64_t steps) {
  const std::int64_t pixels = static_cast<std::int64_t>(order.size());
  const at::Tensor index = at::tensor(order, at::kLong).to(start.device());
  // The running picture; each fill moves only the pixels of its step (fills come in order).
  auto current = std::make_shared<at::Tensor>(start.reshape({start.size(0), pixels}).clone());
  auto moved = std::make_shared<std::int64_t>(0);
  const at::Tensor target = finish.reshape({finish.size(0), pixels});
  return Segment{steps + 1, [=](std::int64_t k, at::Tensor slot) {
                   const std::int64_t upto = k * pixels / steps;
                   if (upto > *moved) {
                     const at::Tensor idx = index.narrow(0, *moved, upto - *moved);
                     current->index_copy_(1, idx, target.index_select(1, idx));
                     *moved = upto;
                   }
                   slot.copy_(current->view(slot.sizes()));
                 }};
}

at::Tensor map_at(const at::Tensor& map, std::int64_t height, std::int64_t width) {
  at::Tensor m = map.to(at::kFloat).cpu();
  if (m.size(0) == height && m.size(1) == width) return m.contiguous();
  return image::resize(m.unsqueeze(2).contiguous(), height, width, "bilinear").squeeze(2).contiguous();
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

std::vector<double> minus(const std::vector<double>& v, double base) {
  std::vector<double> out;
  for (double x : v) out.push_back(x - base);
  return out;
}

Value number_or_null(double v) { return std::isfinite(v) ? Value(v) : Value(); }

List numbers(const std::vector<double>& v) {
  List out;
  for (double x : v) out.push_back(number_or_null(x));
  return out;
}

/// One map's metrics, its perturbed inputs streamed through the model.
MapMetrics evaluate_one(ModelBackend& model, const at::Tensor& x, const at::Tensor& map, std::int64_t cls,
                        const MetricsOptions& o, std::int64_t batch, std::uint64_t seed) {
  const bool road = o.wants("road_morf") || o.wants("road_lerf") || o.wants("road_combined");
  const bool cam_mult = o.wants("cam_mult_confidence_change") || o.wants("drop_in_confidence") || o.wants("increase_in_confidence");
  std::vector<Segment> segments;
  segments.push_back({1, [&](std::int64_t, at::Tensor slot) { slot.copy_(x); }});
  const at::Tensor map_device = map.to(x.device());
  if (cam_mult) segments.push_back({1, [&](std::int64_t, at::Tensor slot) { slot.copy_(x * map_device.unsqueeze(0)); }});
  const at::Tensor x_cpu = x.to(at::kFloat).cpu().contiguous();
  const auto percentiles = static_cast<std::int64_t>(o.percentiles.size());
  for (const bool morf : {true, false}) {
    if (!road) break;
    segments.push_back({percentiles, [&, morf](std::int64_t k, at::Tensor slot) {
                          const double p = o.percentiles[static_cast<std::size_t>(k)];
                          const at::Tensor keep = road_keep_mask(map, p, morf);
                          const std::uint64_t s = seed * 1000003ULL + static_cast<std::uint64_t>(2 * k + (morf ? 0 : 1));
                          slot.copy_(noisy_linear_impute(x_cpu, keep, o.road_noise, s));
                        }});
  }
  std::vector<std::int64_t> order;
  at::Tensor blurred;
  if (o.wants("deletion") || o.wants("insertion")) {
    order = ranking(map);
    if (o.deletion_substrate == "blur" || o.insertion_substrate == "blur")
      blurred = gaussian_blur(x.unsqueeze(0), o.blur_kernel, o.blur_sigma).squeeze(0);
  }
  auto substrate = [&](const std::string& name) { return name == "blur" ? blurred : at::zeros_like(x); };
  if (o.wants("deletion")) segments.push_back(curve_segment(x, substrate(o.deletion_substrate), order, o.steps));
  if (o.wants("insertion")) segments.push_back(curve_segment(substrate(o.insertion_substrate), x, order, o.steps));

  const auto scores = score_segments(model, x, cls, o.score, batch, segments);
  MapMetrics m;
  std::size_t next = 0;
  m.score = scores[next++].at(0);
  if (cam_mult) {
    const double change = scores[next++].at(0) - m.score;
    if (o.wants("cam_mult_confidence_change")) m.values["cam_mult_confidence_change"] = change;
    if (o.wants("drop_in_confidence")) m.values["drop_in_confidence"] = std::max(-change, 0.0);
    if (o.wants("increase_in_confidence")) m.values["increase_in_confidence"] = change > 0 ? 1.0 : 0.0;
  }
  if (road) {
    m.road_morf = minus(scores[next++], m.score);
    m.road_lerf = minus(scores[next++], m.score);
    if (o.wants("road_morf")) m.values["road_morf"] = mean(m.road_morf);
    if (o.wants("road_lerf")) m.values["road_lerf"] = mean(m.road_lerf);
    if (o.wants("road_combined")) m.values["road_combined"] = (mean(m.road_lerf) - mean(m.road_morf)) / 2;
  }
  if (o.wants("deletion")) {
    m.deletion = scores[next++];
    m.values["deletion"] = auc(m.deletion);
  }
  if (o.wants("insertion")) {
    m.insertion = scores[next++];
    m.values["insertion"] = auc(m.insertion);
  }
  return m;
}

}  // namespace

MetricsOptions MetricsOptions::from_value(const Value& option, const std::string& where) {
  if (!option.is_dict()) throw Error(where + ": expected a mapping of metric options, got " + option.type_name());
  MetricsOptions o;
  o.which.clear();
  const Value which = option.get("which", List{});
  for (const auto& item : which.as_list()) {
    const std::string& name = item.as_string();
    if (std::find(metric_names().begin(), metric_names().end(), name) == metric_names().end())
      throw Error(where + ".which: unknown metric '" + name + "'; expected one of " + kit::join(metric_names()));
    o.which.push_back(name);
  }
  if (option.contains("percentiles")) {
    o.percentiles.clear();
    for (const auto& p : option.at("percentiles").as_list()) {
      const double v = p.as_double();
      if (!(v > 0 && v < 100)) throw Error(where + ".percentiles: " + p.to_json() + " is not in (0, 100)");
      o.percentiles.push_back(v);
    }
    if (o.percentiles.empty()) throw Error(where + ".percentiles: expected at least one percentile");
  }
  o.road_noise = option.get("road_noise", o.road_noise).as_double();
  o.steps = option.get("steps", o.steps).as_int();
  if (o.steps < 1) throw Error(where + ".steps: expected at least 1, got " + std::to_string(o.steps));
  o.deletion_substrate = option.get("deletion_substrate", o.deletion_substrate).as_string();
  o.insertion_substrate = option.get("insertion_substrate", o.insertion_substrate).as_string();
  for (const auto* s : {&o.deletion_substrate, &o.insertion_substrate})
    if (*s != "zero" && *s != "blur") throw Error(where + ": substrate '" + *s + "' is not zero or blur");
  o.blur_sigma = option.get("blur_sigma", o.blur_sigma).as_double();
  o.blur_kernel = option.get("blur_kernel", o.blur_kernel).as_int();
  if (o.blur_kernel < 1 || o.blur_kernel % 2 == 0 || !(o.blur_sigma > 0))
    throw Error(where + ": blur_kernel must be odd and positive and blur_sigma positive");
  o.score = option.get("score", o.score).as_string();
  if (o.score != "probability" && o.score != "logit") throw Error(where + ".score: expected probability or logit, got '" + o.score + "'");
  o.memory_mb = option.get("memory_mb", o.memory_mb).as_int();
  if (o.memory_mb < 1) throw Error(where + ".memory_mb: expected at least 1");
  return o;
}

bool MetricsOptions::wants(const std::string& metric) const {
  return std::find(which.begin(), which.end(), metric) != which.end();
}

double percentile(const at::Tensor& values, double p) {
  const at::Tensor sorted = std::get<0>(values.to(at::kFloat).cpu().contiguous().flatten().sort());
  const std::int64_t n = sorted.numel();
  if (n == 0) throw Error("metrics: percentile of an empty map");
  const float* a = sorted.data_ptr<float>();
  const double position = p / 100.0 * static_cast<double>(n - 1);
  const auto lo = static_cast<std::int64_t>(std::floor(position));
  const std::int64_t hi = std::min(lo + 1, n - 1);
  const double t = position - static_cast<double>(lo);
  // numpy's _lerp in the array's float32 (a Python float weight stays weak): from below
  // for t < 0.5, from above otherwise. Bit-equal to np.percentile on float32 maps.
  const float diff = a[hi] - a[lo];
  return t >= 0.5 ? a[hi] - diff * static_cast<float>(1.0 - t) : a[lo] + diff * static_cast<float>(t);
}

at::Tensor road_keep_mask(const at::Tensor& map, double p, bool most_relevant_first) {
  // pytorch-grad-cam thresholds in the map's own float32, and so does this.
  const at::Tensor m = most_relevant_first ? map.to(at::kFloat).cpu() : 1 - map.to(at::kFloat).cpu();
  const auto threshold = static_cast<float>(percentile(m, p));
  return (m < threshold).to(at::kFloat);
}

at::Tensor noisy_linear_impute(const at::Tensor& image, const at::Tensor& keep, double noise, std::uint64_t seed) {
  if (image.dim() != 3 || keep.dim() != 2 || keep.size(0) != image.size(1) || keep.size(1) != image.size(2))
    throw Error("metrics: the imputer takes an image {C, H, W} and a mask {H, W} of its size");
  const at::Tensor img = image.to(at::kFloat).cpu().contiguous();
  const at::Tensor kept = keep.to(at::kFloat).cpu().contiguous();
  const std::int64_t channels = img.size(0), height = img.size(1), width = img.size(2), pixels = height * width;
  const float* known = kept.data_ptr<float>();
  const float* v = img.data_ptr<float>();
  std::vector<std::int64_t> unknown_of(static_cast<std::size_t>(pixels), -1), unknown;
  for (std::int64_t i = 0; i < pixels; ++i)
    if (known[i] == 0.0f) {
      unknown_of[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(unknown.size());
      unknown.push_back(i);
    }
  at::Tensor out = img.clone().reshape({channels, pixels});
  const auto n = static_cast<std::int64_t>(unknown.size());
  if (n == 0) return out.reshape_as(img);
  // Each imputed pixel: (sum of its neighbours' weights) x_i - sum_j w_j x_j (unknown j)
  // = sum_j w_j v_j (known j). Edge neighbours weigh 1/6, corners 1/12; neighbours
  // outside the image drop out of both sides. The matrix is symmetric positive definite
  // as soon as one pixel is known (every unknown region then touches a known pixel).
  struct Neighbour { int dy, dx; double w; };
  static const Neighbour kNeighbours[] = {{1, 1, 1.0 / 12}, {0, 1, 1.0 / 6},  {-1, 1, 1.0 / 12}, {1, -1, 1.0 / 12},
                                          {0, -1, 1.0 / 6}, {-1, -1, 1.0 / 12}, {1, 0, 1.0 / 6},  {-1, 0, 1.0 / 6}};
  std::vector<Eigen::Triplet<double>> entries;
  Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(n, channels);
  for (std::int64_t row = 0; row < n; ++row) {
    const std::int64_t i = unknown[static_cast<std::size_t>(row)], y = i / width, x = i % width;
    double diagonal = 0;
    for (const auto& nb : kNeighbours) {
      const std::int64_t ny = y + nb.dy, nx = x + nb.dx;
      if (ny < 0 || nx < 0 || ny >= height || nx >= width) continue;
      diagonal += nb.w;
      const std::int64_t j = ny * width + nx;
      const std::int64_t col = unknown_of[static_cast<std::size_t>(j)];
      if (col >= 0) entries.emplace_back(row, col, -nb.w);
      else
        for (std::int64_t c = 0; c < channels; ++c) rhs(row, c) += nb.w * static_cast<double>(v[c * pixels + j]);
    }
    entries.emplace_back(row, row, diagonal);
  }
  at::Tensor infill = at::full({channels, n}, static_cast<float>(kNaN), at::kFloat);  // scipy's answer to a singular system
  if (n < pixels) {
    Eigen::SparseMatrix<double> system(n, n);
    system.setFromTriplets(entries.begin(), entries.end());
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(system);
    if (solver.info() != Eigen::Success) throw Error("metrics: the ROAD imputation's linear system could not be factorised");
    const Eigen::MatrixXd solution = solver.solve(rhs);
    auto acc = infill.accessor<float, 2>();
    for (std::int64_t row = 0; row < n; ++row)
      for (std::int64_t c = 0; c < channels; ++c) acc[c][row] = static_cast<float>(solution(row, c));
  }
  if (noise > 0) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    infill = infill + static_cast<float>(noise) * at::randn({channels, n}, gen, at::TensorOptions(at::kFloat));
  }
  out.index_copy_(1, at::tensor(unknown, at::kLong), infill);
  return out.reshape_as(img).to(image.device());
}

at::Tensor gaussian_blur(const at::Tensor& images, std::int64_t kernel, double sigma) {
  const std::int64_t radius = kernel / 2;
  at::Tensor g = at::arange(-radius, radius + 1, at::TensorOptions(at::kDouble));
  g = (-(g * g) / (2 * sigma * sigma)).exp();
  g = g / g.sum();
  const std::int64_t channels = images.size(1);
  const at::Tensor k2 = at::outer(g, g).to(images.scalar_type()).to(images.device());
  const at::Tensor weight = k2.expand({channels, 1, kernel, kernel}).contiguous();
  at::NoGradGuard no_grad;
  return at::conv2d(images, weight, {}, 1, radius, 1, channels);
}

double auc(const std::vector<double>& curve) {
  if (curve.size() < 2) return curve.empty() ? kNaN : curve[0];
  double sum = 0;
  for (std::size_t i = 0; i + 1 < curve.size(); ++i) sum += (curve[i] + curve[i + 1]) / 2;
  return sum / static_cast<double>(curve.size() - 1);
}

std::int64_t perturbation_batch(const ModelBackend& model, std::int64_t height, std::int64_t width, std::int64_t memory_mb) {
  // No autograd: about the layer outputs once, plus the temporaries of the largest layer.
  const double one = kit::activation_bytes(model, height, width, 1, model.logits_layer(), 1.5);
  vizrun::require_memory("metrics: one perturbed input of " + std::to_string(height) + "x" + std::to_string(width), one);
  double budget = static_cast<double>(memory_mb) * 1024.0 * 1024.0;
  const auto available = static_cast<double>(available_memory());
  if (available > 0) budget = std::min(budget, available / 2);
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(budget / std::max(one, 1.0)), 1, 4096);
}

std::vector<MapMetrics> evaluate(ModelBackend& model, const at::Tensor& input, const at::Tensor& maps,
                                 const std::vector<std::int64_t>& classes, const MetricsOptions& options) {
  if (model.logits_layer().empty()) throw Error("metrics: the model has no classifier output to score");
  if (input.dim() != 4 || maps.dim() != 3 || maps.size(0) != input.size(0) ||
      static_cast<std::int64_t>(classes.size()) != input.size(0))
    throw Error("metrics: expected inputs {N, C, H, W}, maps {N, h, w} and N classes");
  const std::int64_t height = input.size(2), width = input.size(3);
  const std::int64_t batch = perturbation_batch(model, height, width, options.memory_mb);
  std::vector<MapMetrics> out;
  at::NoGradGuard no_grad;
  for (std::int64_t i = 0; i < input.size(0); ++i) {
    const at::Tensor x = input[i].to(at::kFloat).detach().contiguous();
    out.push_back(evaluate_one(model, x, map_at(maps[i], height, width), classes[static_cast<std::size_t>(i)], options,
                               batch, options.seed + static_cast<std::uint64_t>(i)));
  }
  return out;
}

MetricsLog::MetricsLog(const Value& option, const std::string& where, std::uint64_t seed) {
  if (option.is_null()) return;
  m_options = MetricsOptions::from_value(option, where);
  m_options.seed = seed;
  m_enabled = !m_options.which.empty();
}

std::vector<MapMetrics> MetricsLog::evaluate(ModelBackend& model, Output& out, const at::Tensor& input,
                                             const at::Tensor& maps, const std::vector<std::int64_t>& classes,
                                             const std::vector<MapLabel>& labels) {
  if (!m_enabled) return {};
  if (labels.size() != classes.size()) throw Error("metrics: expected one label per map");
  MetricsOptions o = m_options;
  o.seed = m_options.seed + m_entries.size() * 7919ULL;  // fresh noise for every map of the run
  const auto results = faithfulness::evaluate(model, input, maps, classes, o);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const MapMetrics& m = results[i];
    Dict values, curves;
    for (const auto& [name, v] : m.values) values[name] = number_or_null(v);
    if (!m.deletion.empty()) curves["deletion"] = numbers(m.deletion);
    if (!m.insertion.empty()) curves["insertion"] = numbers(m.insertion);
    Dict entry{{"image", labels[i].image}, {"method", labels[i].method}, {"layer", labels[i].layer},
               {"class", classes[i]},      {"score", number_or_null(m.score)}, {"score_kind", o.score},
               {"values", values}};
    if (!curves.empty()) entry["curves"] = curves;
    if (!m.road_morf.empty())
      entry["road"] = Dict{{"percentiles", numbers(o.percentiles)}, {"morf", numbers(m.road_morf)}, {"lerf", numbers(m.road_lerf)}};
    m_entries.push_back(std::move(entry));
  }
  out.record("metrics", m_entries);
  return results;
}

}  // namespace vizrun::faithfulness
