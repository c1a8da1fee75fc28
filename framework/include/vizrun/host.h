#pragma once
/// \file host.h
/// Services the runner offers to plugins: file and image access relative to the
/// experiment file, logging, progress, and cooperative interruption. Plugins reach
/// the file system and image codecs only through here, so they never link the
/// host's libraries (yaml-cpp, OpenImageIO, ...).

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "vizrun/export.h"
#include "vizrun/value.h"

namespace vizrun {

enum class LogLevel { debug, info, warning };

class VIZRUN_SDK_API Host {
 public:
  virtual ~Host();

  /// Resolves a path written in the experiment file (relative paths are taken
  /// relative to the directory of that file).
  virtual std::string resolve_path(const std::string& path) const = 0;
  /// Expands a list of paths and globs (`photos/*.jpg`) into sorted, existing files.
  /// Throws vizrun::Error naming a pattern that matches nothing.
  virtual std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) const = 0;
  /// Decodes an image file to RGB float32 pixels in [0, 255], shape {3, H, W}.
  /// The file is recorded (with its sha256) in the run manifest.
  virtual at::Tensor load_image(const std::string& path) const = 0;
  /// Reads a YAML (or JSON) file into a Value, for plugins whose options refer to
  /// a file of their own (a model architecture, say). Relative paths as in
  /// resolve_path. Throws vizrun::Error naming the file, line and column.
  virtual Value read_config(const std::string& path) const = 0;
  /// A writable cache folder for downloads ($VIZRUN_CACHE, $XDG_CACHE_HOME/vizrun, ~/.cache/vizrun).
  virtual std::string cache_dir() const = 0;

  virtual void log(LogLevel level, const std::string& message) const = 0;
  /// Reports progress of long work: `stage` is what is being done (a layer name,
  /// "downloading vgg16 weights"), `done` of `total` items.
  virtual void progress(const std::string& stage, std::size_t done, std::size_t total) const = 0;
  /// Throws vizrun::Interrupted once the user has asked the run to stop.
  /// Call it between units of work (batches, steps).
  virtual void check_stop() const = 0;

  // --- SDK 1.2. New virtuals go below, never above (see plugin_abi.h).

  /// Announces how many stages (distinct `stage` names, each reported until done ==
  /// total) the technique is about to run, e.g. one per layer. Optional: it lets the
  /// host show the whole run's progress and ETA, not only the current stage's.
  virtual void expect_stages(std::size_t count) const;
};

/// Where a technique's results go. The host chooses file names inside the
/// technique's own folder, writes atomically and records every file in the manifest.
class VIZRUN_SDK_API Output {
 public:
  virtual ~Output();

  /// An 8-bit image, shape {H, W, C} with C = 1, 3 or 4, saved as PNG.
  /// `name` is a relative path without extension ("block1_conv1/grid");
  /// every component is sanitised so nothing escapes the technique's folder.
  /// `meta` goes into the manifest beside the file (layer, filter, class, loss...).
  virtual void image(const std::string& name, const at::Tensor& hwc_uint8, const Dict& meta) = 0;
  /// A numeric array saved as NumPy .npy (float32, int64 or uint8), shape preserved.
  virtual void array(const std::string& name, const at::Tensor& values, const Dict& meta) = 0;
  /// A named figure or table for the manifest, e.g. per-filter losses or predictions.
  virtual void record(const std::string& key, const Value& value) = 0;
};

}  // namespace vizrun
