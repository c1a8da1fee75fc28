#pragma once
/// \file technique_kit.h
/// Code shared by the technique plugins: option reading, layer and filter
/// selection, precision (bf16 autocast) and input-image batches.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vizrun/host.h"
#include "vizrun/model.h"
#include "vizrun/value.h"

namespace vizrun::kit {

/// Reads an option with a fallback (the host fills defaults, tests may not).
std::int64_t opt_int(const Value& options, const std::string& key, std::int64_t fallback);
double opt_double(const Value& options, const std::string& key, double fallback);
bool opt_bool(const Value& options, const std::string& key, bool fallback);
std::string opt_string(const Value& options, const std::string& key, const std::string& fallback);
std::vector<std::string> opt_strings(const Value& options, const std::string& key);

/// True for layer types that produce spatial maps of a convolution.
bool is_conv_type(const std::string& type);

/// Selects layers of `model` from a spec: an integer N (the first N layers with
/// spatial {C, H, W} outputs, as `model.layers[:N]`), or a string / list of strings,
/// each a layer name, a glob (`block*_conv*`), `all_conv` (every convolution) or
/// `all` (every layer with spatial output). Order follows the model; duplicates go.
/// Throws vizrun::Error naming a pattern that matches nothing, with close names.
std::vector<LayerInfo> select_layers(const std::vector<LayerInfo>& layers, const Value& spec);

/// select_layers among the layers that run at height x width; a layer that exists but
/// needs the model's own size (a classifier after a flatten) gets an error saying so.
std::vector<LayerInfo> select_layers_at(const ModelBackend& model, std::int64_t height, std::int64_t width,
                                        const Value& spec);

/// Selects filter indices of a layer with `channels` channels from a spec: an
/// integer N (the first N, capped at `channels`), "all", a list of indices, or
/// {start, stop} (stop exclusive, capped). Throws for indices out of range.
std::vector<std::int64_t> select_filters(const Value& spec, std::int64_t channels, const std::string& layer);

/// Sets up mixed precision for a scope. "bf16" enables CPU (or CUDA) autocast to
/// bfloat16 where the CPU has AVX512-BF16; elsewhere it logs a warning and stays fp32.
class PrecisionScope {
 public:
  PrecisionScope(const std::string& precision, c10::Device device, const Host* host);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;
  bool bf16() const { return m_enabled; }

 private:
  bool m_enabled = false;
  bool m_prev_cpu = false;
  bool m_prev_cuda = false;
  bool m_prev_cache = false;
  c10::ScalarType m_prev_cpu_dtype;
  c10::ScalarType m_prev_cuda_dtype;
};

/// Reuses freed CPU blocks of the same size while alive. Gradient ascent allocates
/// the same activation tensors every step; glibc hands large blocks back to the
/// kernel on free, so each step would page-fault (and zero) them again. Installs a
/// size-keyed caching allocator as LibTorch's CPU allocator for the scope and
/// restores the previous one (returning cached memory) at its end.
class MemoryReuseScope {
 public:
  explicit MemoryReuseScope(bool enabled);
  ~MemoryReuseScope();
  MemoryReuseScope(const MemoryReuseScope&) = delete;
  MemoryReuseScope& operator=(const MemoryReuseScope&) = delete;

 private:
  void* m_previous = nullptr;
};

/// True when the CPU advertises AVX512-BF16 (flag avx512_bf16 in /proc/cpuinfo).
bool cpu_has_bf16();

/// The input size a technique should feed: `spec` is "model" (the backend's
/// default) or an integer side (at least the model's min_size). A fixed-size model
/// runs other sizes up to its classifier: select_layers_at says which layers.
std::pair<std::int64_t, std::int64_t> input_size(const ModelBackend& model, const Value& spec);

/// Loads images through the host, resizes each to {height, width} ("nearest" as
/// Keras's load_img, or "bilinear") and stacks them as NCHW float [0, 255] on `device`.
at::Tensor load_batch(const Host& host, const std::vector<std::string>& paths, std::int64_t height,
                      std::int64_t width, const std::string& mode, c10::Device device);

/// Same, from pictures already decoded ({3, H, W} float in [0, 255]).
at::Tensor stack_resized(const std::vector<at::Tensor>& pictures, std::int64_t height, std::int64_t width,
                         const std::string& mode, c10::Device device);

/// Bytes of the layer outputs a forward pass of `batch` inputs of height x width
/// produces through `last` (every layer when empty), at 4 bytes per element, times
/// `copies` (autograd keeps outputs and gradients: about 3), plus the input itself.
/// An estimate to check against vizrun::available_memory() before allocating.
double activation_bytes(const ModelBackend& model, std::int64_t height, std::int64_t width, std::int64_t batch,
                        const std::string& last, double copies);

/// File stem of a path ("a/b/cat.png" -> "cat"), for output names.
std::string stem(const std::string& path);

/// Layer names joined with ", " for messages.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

// "Did you mean" suggestions: vizrun::did_you_mean (vizrun/suggest.h).

}  // namespace vizrun::kit
