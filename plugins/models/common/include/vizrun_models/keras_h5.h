#pragma once
/// \file keras_h5.h
/// Reader for Keras legacy HDF5 weight files, with the HDF5 C library.
/// Handles the root or `model_weights` layout, `layer_names`/`weight_names`
/// attributes split into numbered chunks, fixed- and variable-length strings,
/// and every dataset naming scheme (Keras 1 `<layer>_W_1:0`, Keras 2
/// `<layer>/<var>:0`, Keras 3 `<layer>/<var>`): names are only ever used as paths.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vizrun::models {

struct H5Weight {
  std::string name;                 ///< as listed in weight_names (a path relative to the layer group)
  std::vector<std::int64_t> shape;  ///< as stored (Keras layout)
};

struct H5Layer {
  std::string name;                 ///< the layer's group, relative to the weights group
  /// Keras 3 layout: the Keras names of the nested models and the layer ("inner/conv2d",
  /// from the `name` attributes of the `vars` groups); legacy layout: the same as name.
  std::string keras_name;
  bool named = false;               ///< Keras 3 layout: its vars group carries the layer's name
  std::vector<H5Weight> weights;    ///< empty for layers without weights
};

class KerasH5 {
 public:
  /// Opens read-only; throws vizrun::Error when the file is not a Keras weights file.
  /// With `allow_keras3`, a Keras 3 `.weights.h5` file (layers/<class>/vars/<i>) is
  /// read too: one H5Layer per layer that has a `vars` group, weights "vars/0", ... in
  /// the layer's variable order (its names say nothing about which variable is which).
  explicit KerasH5(const std::string& path, bool allow_keras3 = false);
  ~KerasH5();
  KerasH5(const KerasH5&) = delete;
  KerasH5& operator=(const KerasH5&) = delete;

  /// Every layer listed in `layer_names`, in order.
  const std::vector<H5Layer>& layers() const { return m_layers; }
  /// True for the Keras 3 `.weights.h5` layout.
  bool keras3() const { return m_keras3; }
  /// A string attribute of the weights group ("keras_version", "backend"), "" when absent.
  std::string attribute(const std::string& name) const;
  /// Reads rows [row0, row0 + rows) of dim 0 of a weight as float32 into `dst`
  /// (rows = -1: all). Converts from any stored float type.
  void read(std::size_t layer, std::size_t weight, float* dst, std::int64_t row0 = 0, std::int64_t rows = -1) const;

  const std::string& path() const { return m_path; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  std::string m_path;
  std::vector<H5Layer> m_layers;
  bool m_keras3 = false;
  std::vector<std::uint64_t> m_open_groups;  ///< file addresses of the layers/ groups being read (cycle check)

  void read_keras3_layers(std::int64_t group, const std::string& path, const std::string& keras_prefix, int depth);
};

/// The first string of attribute `name` of the file's root group (Keras' `model_config`),
/// "" when the file has no such attribute; throws vizrun::Error when it is not HDF5.
std::string read_h5_root_string_attribute(const std::string& path, const std::string& name);

/// Reads a string-array attribute, concatenating `name0`, `name1`, ... chunks when
/// `name` itself is absent. Exposed for tests. `object` is an HDF5 hid_t.
std::vector<std::string> read_h5_string_list(std::int64_t object, const std::string& name, bool* found = nullptr);

}  // namespace vizrun::models
