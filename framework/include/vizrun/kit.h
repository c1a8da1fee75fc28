#pragma once
/// \file kit.h
/// The technique kit: what almost every technique needs besides its mathematics.
/// Layer and filter selection as users write them in configs, the input size, batches
/// of photos loaded through the host, a memory estimate to check before allocating,
/// and `TechniqueBase`, the members every technique has. (SDK 1.3)
///
/// A technique built on it is its mathematics plus its schema:
///
///     class Saliency final : public vizrun::TechniqueBase {
///      public:
///       using TechniqueBase::TechniqueBase;
///       void run(vizrun::ModelBackend& model, vizrun::Output& out) override { ... }
///     };

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

// What a technique uses besides: pictures, memory checks, options, the plugin macro.
#include "vizrun/image.h"
#include "vizrun/memory.h"
#include "vizrun/option_check.h"
#include "vizrun/options.h"
#include "vizrun/plugin.h"

namespace vizrun::kit {

/// True for layer types that produce spatial maps of a convolution.
VIZRUN_SDK_API bool is_conv_type(const std::string& type);

/// Selects layers of `model` from a spec: an integer N (the first N layers with
/// spatial {C, H, W} outputs, as `model.layers[:N]`), or a string / list of strings,
/// each a layer name, a glob (`block*_conv*`), `all_conv` (every convolution) or
/// `all` (every layer with spatial output). Order follows the model; duplicates go.
/// Throws vizrun::Error naming a pattern that matches nothing, with close names.
VIZRUN_SDK_API std::vector<LayerInfo> select_layers(const std::vector<LayerInfo>& layers, const Value& spec);

/// select_layers among the layers that run at height x width; a layer that exists but
/// needs the model's own size (a classifier after a flatten) gets an error saying so.
VIZRUN_SDK_API std::vector<LayerInfo> select_layers_at(const ModelBackend& model, std::int64_t height,
                                                       std::int64_t width, const Value& spec);

/// Selects filter indices of a layer with `channels` channels from a spec: an integer
/// N (the first N, capped at `channels`), "all", a list of indices, or
/// {start, stop, step} (stop exclusive and capped; start 0 and step 1 when absent).
/// Throws for indices out of range and for an empty selection.
VIZRUN_SDK_API std::vector<std::int64_t> select_filters(const Value& spec, std::int64_t channels,
                                                        const std::string& layer);

/// The input size to feed: `spec` is "model" (the backend's own) or an integer side
/// (at least the model's min_size). A fixed-size model runs other sizes up to its
/// classifier: select_layers_at says which layers.
VIZRUN_SDK_API std::pair<std::int64_t, std::int64_t> input_size(const ModelBackend& model, const Value& spec);

/// Pictures ({3, H, W} float in [0, 255], as Host::load_image returns them) resized to
/// height x width ("nearest" as Keras's load_img, or "bilinear") and stacked as NCHW
/// on `device`.
VIZRUN_SDK_API at::Tensor stack_resized(const std::vector<at::Tensor>& pictures, std::int64_t height,
                                        std::int64_t width, const std::string& mode, c10::Device device);

/// The same, loading the pictures through the host first.
VIZRUN_SDK_API at::Tensor load_batch(const Host& host, const std::vector<std::string>& paths, std::int64_t height,
                                     std::int64_t width, const std::string& mode, c10::Device device);

/// Bytes of the layer outputs a forward pass of `batch` inputs of height x width
/// produces through `last` (every layer when empty), at 4 bytes per element, times
/// `copies` (autograd keeps outputs and gradients: about 3), plus the input itself.
/// An estimate to check with vizrun::require_memory before allocating.
VIZRUN_SDK_API double activation_bytes(const ModelBackend& model, std::int64_t height, std::int64_t width,
                                       std::int64_t batch, const std::string& last, double copies);

/// The class a technique explains: `requested` when it is >= 0, else the top logit of
/// `logits` {classes}. Throws a one-line Error when the id is past the model's outputs.
VIZRUN_SDK_API std::int64_t target_class(const at::Tensor& logits, std::int64_t requested);

/// How many classes the model's logits layer scores (its last dimension), or 0 when the
/// model has no classifier output.
VIZRUN_SDK_API std::int64_t output_count(const ModelBackend& model);

/// The model's name of class `id`, or "class <id>" when it has none.
VIZRUN_SDK_API std::string class_label(const ModelBackend& model, std::int64_t id);

/// An HWC uint8 picture enlarged by whole pixels until its shorter side is at least
/// `min_side` (small pictures stay visible; larger ones keep their size).
VIZRUN_SDK_API at::Tensor enlarge_to(const at::Tensor& hwc, std::int64_t min_side);

/// Runs `check` and rethrows a vizrun::Error it throws as an OptionError at `pointer`
/// (a JSON pointer into the technique's options, such as "/layers"), so that
/// `vizrun validate` reports it at that key's line. For ModelCheck::check_model.
VIZRUN_SDK_API void check_option(const std::string& pointer, const std::function<void()>& check);

/// True while the host runs the technique under bf16 autocast (the run's precision).
VIZRUN_SDK_API bool autocast_active();

/// File stem of a path ("a/b/cat.png" -> "cat"), for output names.
VIZRUN_SDK_API std::string stem(const std::string& path);

/// Items joined with `sep`, for messages.
VIZRUN_SDK_API std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

/// Reuses freed CPU blocks of the same size while alive. Gradient ascent allocates the
/// same activation tensors every step; glibc hands large blocks back to the kernel on
/// free, so each step would page-fault (and zero) them again. Installs a size-keyed
/// caching allocator as LibTorch's CPU allocator for the scope and restores the
/// previous one (returning cached memory) at its end.
class VIZRUN_SDK_API MemoryReuseScope {
 public:
  explicit MemoryReuseScope(bool enabled);
  ~MemoryReuseScope();
  MemoryReuseScope(const MemoryReuseScope&) = delete;
  MemoryReuseScope& operator=(const MemoryReuseScope&) = delete;

 private:
  void* m_previous = nullptr;
};

/// One batch of photos, as TechniqueBase::for_each_batch hands it out.
struct PhotoBatch {
  std::vector<std::string> paths;     ///< the files, as the host expanded them
  std::vector<at::Tensor> originals;  ///< each photo as decoded: {3, H, W} float [0, 255], CPU
  at::Tensor pixels;                  ///< {N, 3, height, width} float [0, 255] on the device
  std::size_t first = 0;              ///< index of paths[0] among all the photos
  std::string stem(std::size_t i) const { return kit::stem(paths.at(i)); }
};

/// How TechniqueBase::for_each_batch loads photos.
struct BatchPlan {
  std::int64_t height = 0, width = 0;  ///< the network input (kit::input_size)
  std::int64_t batch_size = 1;
  std::string resize = "nearest";      ///< "nearest" (Keras's load_img) or "bilinear"
  std::string stage = "images";        ///< the progress line's name
};

}  // namespace vizrun::kit

namespace vizrun {

/// The members every technique has (host, options, device, seed) and the loop over
/// photos most of them need. Derive from it, inherit its constructor, write `run`.
/// Its data sit behind a pointer, so the class's layout never changes. (SDK 1.3)
class VIZRUN_SDK_API TechniqueBase : public Technique {
 public:
  explicit TechniqueBase(const CreateArgs& args);
  ~TechniqueBase() override;
  TechniqueBase(const TechniqueBase&) = delete;
  TechniqueBase& operator=(const TechniqueBase&) = delete;

 protected:
  const Host& host() const;
  /// The validated options, defaults filled in from the schema.
  const Options& options() const;
  c10::Device device() const;
  std::uint64_t seed() const;

  /// The files an option names (`images` by default): paths, globs and folders,
  /// relative to the experiment file, expanded by the host. Throws when none matches.
  std::vector<std::string> input_paths(const std::string& key = "images") const;

  /// Loads `paths` in batches as `plan` says and calls `each` for every batch, checking
  /// for a stop request before each and reporting progress after it. Only one batch
  /// is in memory at a time, however many photos there are.
  void for_each_batch(const std::vector<std::string>& paths, const kit::BatchPlan& plan,
                      const std::function<void(const kit::PhotoBatch&)>& each) const;

 private:
  struct State;
  std::unique_ptr<State> m_state;
};

}  // namespace vizrun
