#pragma once
/// \file feature_vis.h
/// Feature visualisation as lucid / lucent (torch-lucent 0.1.8) do it: an image
/// parameterised in Fourier space with decorrelated colour, squashed by a sigmoid,
/// transformed at random every step (pad, jitter, scale, rotate), and optimised by
/// Adam for a weighted sum of objectives (channel, neuron, direction, layer, class,
/// diversity) and regularisers (total variation, L1, L2, blur).
///
/// Conventions. Every objective term is a value to *maximise*, with lucid's
/// definitions and signs (lucent's channel/neuron/direction return the negation, a
/// loss): channel = mean activation, diversity = -(mean pairwise Gram similarity),
/// L1/L2/total variation are positive penalties (give them negative weights), blur is
/// lucid's -0.5 * sum((x - blur(x))^2) (a positive weight blurs). Pictures are RGB in
/// [0, 1] NCHW; the model sees `model.preprocess(255 * picture)`.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "vizrun/kit.h"

namespace vizrun::techniques::fv {

// ---------------------------------------------------------------- parameterisations

/// lucid's rfft2d_freqs: |frequency| of each rfft coefficient, {h, w/2+1} (w/2+2 when
/// w is odd, as lucid keeps one more and irfft drops it), float64.
at::Tensor rfft2d_freqs(std::int64_t h, std::int64_t w);

/// The 1/f spectrum scale of fft_image: 1 / max(freqs, 1/max(w, h))^decay_power,
/// float32 {1, 1, h, wf, 1}.
at::Tensor spectrum_scale(std::int64_t h, std::int64_t w, double decay_power = 1.0);

/// lucent's fft_image: spectrum {B, C, h, wf, 2} (real, imaginary) -> image {B, C, h, w}:
/// irfftn(scale * spectrum, s=(h, w), norm="ortho") / 4.
at::Tensor fft_image(const at::Tensor& spectrum, const at::Tensor& scale, std::int64_t h, std::int64_t w);

/// lucid's ImageNet colour-correlation square root, normalised by its largest column
/// norm, {3, 3} float32 (lucent's color_correlation_normalized).
at::Tensor color_correlation_normalized();

/// lucent's _linear_decorrelate_color: every pixel's colour multiplied by the matrix.
at::Tensor decorrelate_color(const at::Tensor& image);

/// How raw values become a picture in [0, 1].
enum class ValidRange { sigmoid, clip, none };

/// lucent's to_valid_rgb: optional decorrelation, then sigmoid (clip: clamp to [0, 1];
/// none: raw + 0.5, for class models whose regulariser keeps the values near 0).
at::Tensor to_valid_rgb(const at::Tensor& raw, bool decorrelate, ValidRange range);

/// An image parameterisation: the leaf tensor Adam updates and how to make the picture.
struct Parameterization {
  bool fourier = true;
  bool decorrelate = true;
  ValidRange range = ValidRange::sigmoid;
  double sd = 0.01;           ///< std of the initial random values (lucent: 0.01)
  double decay_power = 1.0;   ///< spectrum decay (lucent: 1)
};

class ImageParam {
 public:
  /// Random start {batch, channels, h, w} (or its spectrum) from `gen`.
  ImageParam(const Parameterization& p, std::int64_t batch, std::int64_t channels, std::int64_t h, std::int64_t w,
             at::Generator gen, c10::Device device);
  /// Starts from given raw values: the spectrum (fourier) or the pixels.
  ImageParam(const Parameterization& p, at::Tensor raw, std::int64_t h, std::int64_t w);
  at::Tensor& parameter() { return m_raw; }
  /// The picture {B, C, h, w} in [0, 1], differentiable with respect to parameter().
  at::Tensor picture() const;

 private:
  Parameterization m_p;
  at::Tensor m_raw, m_scale;
  std::int64_t m_h, m_w;
};

// ---------------------------------------------------------------- transforms

/// One transform of the chain, in lucent's semantics.
struct Transform {
  enum class Kind { pad, jitter, scale, rotate } kind;
  std::int64_t amount = 0;        ///< pad: width; jitter: d (offsets 0..d-1)
  double pad_value = 0.5;         ///< pad: the constant (lucent's standard: 0.5)
  bool pad_reflect = false;       ///< pad: reflect instead of constant
  std::vector<double> choices;    ///< scale: factors; rotate: angles in degrees
};

/// lucent's standard_transforms: pad(12, constant 0.5), jitter(8), random_scale(1 +
/// (i - 5) / 50 for i in 0..10), random_rotate(-10..10 and five more 0s), jitter(4).
std::vector<Transform> standard_transforms();

/// The random numbers one application of a transform draws: jitter (dx, dy), scale or
/// angle (the chosen value). Pad draws nothing.
struct Draw {
  std::int64_t dx = 0, dy = 0;
  double value = 0;
};

/// Draws for every transform of `chain`, as np.random.choice would pick them (uniform
/// over the choices), from `rng`.
std::vector<Draw> draw(const std::vector<Transform>& chain, std::mt19937_64& rng);

/// The transforms one by one, each given its draw:
at::Tensor pad(const at::Tensor& x, std::int64_t w, double value, bool reflect);
/// kornia 0.4.1's translate (warp_affine: bilinear, zeros, align_corners=False grid
/// with its (size - 1) pixel normalisation) by (dx, dy) pixels.
at::Tensor translate(const at::Tensor& x, double dx, double dy);
/// lucent's random_scale with factor `scale`: bilinear (align_corners=True) resize to
/// ceil(scale * size), then zero padding [pad_y, pad_x, pad_y, pad_x] (lucent's order).
at::Tensor scale(const at::Tensor& x, double scale);
/// lucent's random_rotate: kornia's get_rotation_matrix2d about ((w-1)/2, (h-1)/2) and
/// warp_affine to the same size; positive degrees turn counter-clockwise.
at::Tensor rotate(const at::Tensor& x, double degrees);
/// The whole chain with its draws (draws.size() == chain.size()).
at::Tensor apply(const std::vector<Transform>& chain, const std::vector<Draw>& draws, const at::Tensor& x);

// ---------------------------------------------------------------- objectives

struct Term {
  enum class Kind {
    channel, neuron, direction, layer, class_logit, class_probability, diversity,
    total_variation, l1, l2, squared_l2, blur
  } kind;
  double weight = 1.0;
  std::string layer;                      ///< empty for the picture terms and class terms' default
  std::int64_t channel = 0;               ///< channel, neuron; the class of the class terms
  std::optional<std::int64_t> x, y;       ///< neuron (lucent's default: the centre)
  std::vector<double> direction;          ///< direction: a vector in the layer's channels
  std::optional<std::int64_t> batch;      ///< only this image of the batch (lucent's batch=)
  double constant = 0.0;                  ///< l1, l2, squared_l2: the value the picture is pulled to
};

/// The name of a kind as configs write it, and back (throws for an unknown name).
std::string kind_name(Term::Kind kind);
Term::Kind kind_named(const std::string& name);
/// True for the terms that look at the picture rather than at a layer.
bool on_picture(Term::Kind kind);

/// The value of one term (to maximise) given the picture {B, C, H, W} in [0, 1] and the
/// activations of `term.layer` (`acts`; undefined for picture terms).
at::Tensor term_value(const Term& term, const at::Tensor& picture, const at::Tensor& acts);

/// The layers the terms tap (class terms' empty layer becomes `logits_layer`).
std::vector<std::string> tapped_layers(std::vector<Term>& terms, const std::string& logits_layer);

// ---------------------------------------------------------------- rendering

struct RenderRecipe {
  Parameterization param;
  std::vector<Transform> transforms = standard_transforms();
  std::int64_t steps = 512;
  double learning_rate = 0.05;        ///< Adam's (lucent's default)
  /// The picture size the network sees after the transforms: 0 keeps whatever the
  /// transforms made (lucent for pictures >= 224), > 0 resizes bilinearly
  /// (align_corners=True, as lucent's upsample to 224).
  std::int64_t input_height = 0, input_width = 0;
  bool channels_last = true;
};

struct RenderResult {
  at::Tensor picture;     ///< {B, C, H, W} in [0, 1], CPU
  at::Tensor objective;   ///< {steps}: the total objective before each step's update
  at::Tensor terms;       ///< {steps, terms}: each term's value (unweighted)
};

/// Optimises a batch of `batch` pictures of side h x w for the weighted sum of `terms`
/// with Adam. Random start and transform draws come from `seed` only: a run is
/// reproducible bit for bit.
RenderResult render(ModelBackend& model, std::vector<Term> terms, const RenderRecipe& recipe, std::int64_t batch,
                    std::int64_t h, std::int64_t w, std::uint64_t seed,
                    const std::function<void(std::int64_t)>& on_step = {});

/// The picture as the model sees it: grey models get the mean of the three colours
/// when the parameterisation has three channels, then preprocess(255 * x).
at::Tensor to_model_space(ModelBackend& model, const at::Tensor& picture);

/// A picture {C, H, W} in [0, 1] as a uint8 {H, W, 3} image.
at::Tensor to_uint8(const at::Tensor& picture);

// ---------------------------------------------------------------- DeepDream

/// keras.io's deep_dream recipe.
struct DreamRecipe {
  std::vector<std::pair<std::string, double>> layers;  ///< layer and its coefficient
  std::int64_t octaves = 3;
  double octave_scale = 1.4;
  std::int64_t iterations = 20;
  double step = 0.01;
  std::optional<double> max_loss = 15.0;
  std::int64_t border = 2;   ///< activation pixels left out at every border (keras.io: 2)
};

/// keras.io's successive_shapes: the photo's size divided by octave_scale^i (int()),
/// smallest first.
std::vector<std::pair<std::int64_t, std::int64_t>> octave_shapes(std::int64_t h, std::int64_t w, std::int64_t octaves,
                                                                 double octave_scale);

/// keras.io's compute_loss: sum of coeff * sum(act[border:-border]^2) / numel(act).
at::Tensor dream_loss(ModelBackend& model, const at::Tensor& input, const DreamRecipe& recipe);

struct DreamResult {
  at::Tensor input;                ///< the dreamt photo in model space {1, C, H, W}
  std::vector<std::vector<double>> losses;  ///< per octave, the loss of each iteration
};

/// Dreams `photo` (model space {1, C, H, W}) through the octaves with detail reinjection.
DreamResult deep_dream(ModelBackend& model, const at::Tensor& photo, const DreamRecipe& recipe,
                       const std::function<void(std::int64_t, std::int64_t)>& on_step = {});

}  // namespace vizrun::techniques::fv
