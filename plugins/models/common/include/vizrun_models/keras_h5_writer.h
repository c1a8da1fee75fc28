#pragma once
/// \file keras_h5_writer.h
/// Writes a Graph's parameters as a Keras legacy HDF5 weights file, in the layout
/// and naming of a chosen Keras generation. Used by tests (every name variant the
/// reader must accept) and by the load benchmark (a full-size VGG16 file).

#include <cstddef>
#include <functional>
#include <map>
#include <string>

#include "vizrun_models/graph.h"

namespace vizrun::models {

struct KerasH5WriteOptions {
  /// "keras1": `<layer>_W_1:0`, `<layer>_b_1:0` (the official VGG16 files);
  /// "keras2": `<layer>/<var>:0`; "keras3": `<layer>/<var>`.
  std::string naming = "keras2";
  bool variable_length_strings = false;  ///< vlen instead of fixed-length string attributes
  bool model_weights_group = false;      ///< put everything under /model_weights (model.save layout)
  std::size_t names_per_chunk = 0;       ///< >0: split name lists into `layer_names0`, `layer_names1`, ...
  bool write_version_attributes = true;  ///< `keras_version` and `backend` on the weights group
  /// Layer renames applied when writing (model name -> file name), e.g. {"predictions", "probs"}.
  std::map<std::string, std::string> rename;
  /// Keras 3's `.weights.h5` layout (save_weights to a name ending in .weights.h5) instead of
  /// the legacy one: `layers/<class>[_k]/vars/<i>`, the group named after the layer's class
  /// with Keras's counters (conv2d, conv2d_1, ...), the layer's own name only in the `name`
  /// attribute of `vars`, weights by position. `naming`, `model_weights_group` and
  /// `names_per_chunk` do not apply.
  bool keras3_weights_layout = false;
};

/// Writes the graph's parameters, converted to Keras layout, named per `options.naming`.
void write_keras_h5(const Graph& graph, const std::string& path, const KerasH5WriteOptions& options = {});

/// One dataset to write: its name relative to the layer group, Keras shape, and a
/// callback filling a float buffer of that shape (called once, just before writing).
struct H5OutWeight {
  std::string name;
  Shape shape;
  std::function<void(float*)> fill;
};
struct H5OutLayer {
  std::string name;
  std::vector<H5OutWeight> weights;  ///< empty for layers without weights
};
/// Lower level: writes exactly these layers and names (`options.naming` and `rename` unused).
void write_keras_h5_layers(const std::string& path, const std::vector<H5OutLayer>& layers,
                           const KerasH5WriteOptions& options = {});

}  // namespace vizrun::models
