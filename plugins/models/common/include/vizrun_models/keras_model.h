#pragma once
/// \file keras_model.h
/// A whole Keras model from its saved file: the architecture (the JSON that
/// `model.to_json()` writes, Keras 2 / tf.keras or Keras 3, Sequential or functional,
/// nested models) becomes a Graph whose layers carry the Keras names, and the
/// weights come from the same file: a full-model `.h5` (`model_config` attribute +
/// `model_weights` group) or a Keras 3 `.keras` zip (`config.json` +
/// `model.weights.h5`).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vizrun/model.h"
#include "vizrun_models/graph.h"

namespace vizrun::models {

/// The Keras layer classes build_keras_model understands, for messages.
std::vector<std::string> keras_supported_layers();

/// Where one Keras layer's variables live in the weights file and which graph
/// parameters they fill.
struct KerasLayerWeights {
  std::string top;      ///< the top-level layer holding it (a nested model's name, or the layer itself)
  std::string leaf;     ///< the layer's own Keras name
  std::string keras_class;
  std::string layer;    ///< its graph node
  std::vector<std::string> vars;  ///< Keras variable names, in the layer's variable order
  std::vector<int> params;        ///< per var: the graph parameter it fills, -1: read and unused (Normalization's count)
  std::vector<std::string> aliases;  ///< per var: another name older Keras versions gave it ("" if none)
  /// Its group in a .keras weights file that does not record layer names (tf_keras's):
  /// "layers/conv2d_1", "layers/sequential/layers/dense".
  std::string saved_path;
};

struct KerasModel {
  std::unique_ptr<Graph> graph;
  std::vector<KerasLayerWeights> weights;
  std::string name;
  std::int64_t channels = 3;
  std::int64_t file_height = 0, file_width = 0;  ///< the input size the file fixes; 0: any
  bool fixed_size = false;        ///< a flatten feeds a dense layer: only the built size runs to the end
  std::string output_activation = "none";  ///< a final softmax/sigmoid, taken off the logits layer
  std::string logits_layer;
  std::string last_conv_layer;
};

/// Builds the graph of a Keras model config at `height` x `width` where the file leaves
/// the input size open (0: use the file's size, or 224 when it has none). Throws
/// vizrun::Error naming `origin` and the layer for anything it cannot represent:
/// an unknown layer class (with the supported list), a cycle, a missing input, a
/// shape that does not fit.
/// `keras_version` is the version that wrote the file ("" for Keras 3): names whose
/// meaning changed in Keras 3 (hard_sigmoid) are read as that version meant them.
KerasModel build_keras_model(const std::string& config_json, const std::string& origin, std::int64_t height = 0,
                             std::int64_t width = 0, const std::string& keras_version = "");

/// An opened Keras model file: its architecture and the HDF5 file holding the weights
/// (for `.keras`, extracted into a temporary file removed with this object).
class KerasModelFile {
 public:
  explicit KerasModelFile(const std::string& path);
  ~KerasModelFile();
  KerasModelFile(const KerasModelFile&) = delete;
  KerasModelFile& operator=(const KerasModelFile&) = delete;

  const std::string& config_json() const { return m_config; }
  const std::string& weights_path() const { return m_weights; }
  const std::string& format() const { return m_format; }  ///< "h5" or "keras"
  const std::string& path() const { return m_path; }
  /// The Keras that wrote the file (the .h5's keras_version attribute, the .keras's
  /// metadata.json), "" when the file does not say.
  const std::string& keras_version() const { return m_keras_version; }

 private:
  void open_zip();
  std::string m_path, m_config, m_weights, m_format, m_keras_version;
  bool m_temporary = false;
};

/// Fills every parameter of `model.graph` from the weights file of `file`. Each Keras
/// layer with variables must find exactly its variables with the shapes its config
/// implies; every problem is listed in one vizrun::Error.
void load_keras_model_weights(KerasModel& model, const KerasModelFile& file);

}  // namespace vizrun::models
