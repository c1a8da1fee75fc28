#pragma once
/// \file weights.h
/// Filling a Graph's parameters: from a Keras legacy HDF5 file, a safetensors file,
/// the official Keras ImageNet files (downloaded and cached), or seeded random values.
/// Every loader checks that each parameter is filled exactly once with the right
/// shape and that every tensor in the file is used or explicitly skippable, and
/// throws one vizrun::Error that lists all problems.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vizrun/host.h"
#include "vizrun/model.h"
#include "vizrun_models/graph.h"

namespace vizrun::models {

/// One official Keras ImageNet weights file.
struct ImagenetFile {
  std::string subdir;  ///< folder under the base URL: "vgg16", "resnet"
  std::string file;    ///< "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
  std::string md5;     ///< published hash (32 hex digits)
};

/// How a backend's weights are found and matched.
struct WeightsPlan {
  std::string model;                         ///< plugin name, for messages
  std::string default_source = "random";     ///< used when `model.weights` is empty
  /// Layers that other variants of the model have (e.g. the top of VGG16): their
  /// tensors in a file are skipped and listed instead of being an error.
  std::set<std::string> optional_layers;
  /// File layer name -> model layer name (e.g. "probs" -> "predictions").
  std::map<std::string, std::string> layer_aliases;
  /// Extra tensor names accepted in safetensors files -> model PyTorch-style name
  /// (e.g. torchvision's "features.0.weight" -> "block1_conv1.weight").
  std::map<std::string, std::string> tensor_aliases;
  /// When the file's layer names do not match, match weighted layers by order as
  /// Keras' default loader does (for user models whose auto names vary).
  bool allow_topological = false;
  std::optional<ImagenetFile> imagenet;      ///< what `weights: imagenet` downloads
};

/// Resolves `source` ("random", "imagenet", "" or a path) and fills the graph.
/// Relative paths go through `host->resolve_path`.
WeightsInfo load_weights(Graph& graph, const std::string& source, const Host* host, std::uint64_t seed,
                         const WeightsPlan& plan);

/// Deterministic values from `seed`: He-normal kernels, zero biases, BatchNorm
/// gamma 1, beta 0, mean 0, variance 1. The same seed gives the same values everywhere.
void init_random(Graph& graph, std::uint64_t seed);

/// Loads a Keras legacy HDF5 weights file (save_weights / model.save / official files).
WeightsInfo load_keras_h5(Graph& graph, const std::string& path, const WeightsPlan& plan, const Host* host = nullptr);

/// Loads a safetensors file with LibTorch-layout tensors under PyTorch-style names.
WeightsInfo load_safetensors(Graph& graph, const std::string& path, const WeightsPlan& plan,
                             const Host* host = nullptr);

/// Throws vizrun::Error naming the first parameter of `graph` that holds NaN or an
/// infinity (and how many), with `origin` (the weights file) first: such weights make
/// every map NaN, so a damaged file is refused at load rather than drawn as noise.
void require_finite_weights(const Graph& graph, const std::string& origin);

/// "hdf5", "safetensors" or "" from the first bytes of a file.
std::string sniff_weights_format(const std::string& path);

}  // namespace vizrun::models
