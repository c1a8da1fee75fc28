#pragma once
/// \file backend.h
/// A ModelBackend over a Graph: everything the three model plugins share
/// (preprocessing modes, input checks, taps and truncation, weights).

#include <memory>
#include <string>
#include <vector>

#include "vizrun/plugin.h"
#include "vizrun_models/graph.h"
#include "vizrun_models/weights.h"

namespace vizrun::models {

/// Preprocessing modes: "caffe" (RGB->BGR minus ImageNet means, Keras), "tf"
/// (x/127.5 - 1), "torch" (x/255 then ImageNet mean/std), "divide_255", "none".
std::vector<std::string> preprocessing_modes();
at::Tensor preprocess_rgb255(const at::Tensor& rgb255, const std::string& mode, std::int64_t channels);
at::Tensor deprocess_to_rgb255(const at::Tensor& x, const std::string& mode, std::int64_t channels);

struct BackendDescription {
  std::string preprocessing = "none";
  InputSpec input;
  std::string output_activation = "none";
  std::string logits_layer;
  std::string last_conv_layer;
  std::vector<std::string> class_names;
  bool channels_last = true;  ///< NHWC memory layout for convolutions on CPU
  bool fold_layers = true;  ///< padding+conv and conv+BatchNorm run as one convolution (Graph::finalize)
};

/// Implements the ChannelForward, LayerSummary, LayerReplace and GuidedRelu extensions:
/// techniques find them with vizrun::query<...> (or call vizrun::forward_channels,
/// vizrun::layer_details).
class GraphBackend : public ModelBackend,
                     public ChannelForward,
                     public LayerSummary,
                     public LayerReplace,
                     public GuidedRelu {
 public:
  /// Loads weights per `plan` from `args.weights`, moves the graph to `args.device`.
  GraphBackend(std::unique_ptr<Graph> graph, BackendDescription description, const CreateArgs& args,
               const WeightsPlan& plan);
  /// For a graph whose parameters the backend has filled itself (a model file that
  /// holds its own architecture): `weights` describes where they came from.
  GraphBackend(std::unique_ptr<Graph> graph, BackendDescription description, const CreateArgs& args,
               WeightsInfo weights);

  std::vector<LayerInfo> layers() const override;
  std::vector<LayerInfo> layers_for(std::int64_t height, std::int64_t width) const override;
  InputSpec input_spec() const override { return m_desc.input; }
  at::Tensor preprocess(const at::Tensor& rgb255) const override;
  at::Tensor deprocess(const at::Tensor& model_input) const override;
  Activations forward(const at::Tensor& input, const std::vector<std::string>& taps) override;
  /// ChannelForward (and the SDK 1.1 slot of ModelBackend): for conv2d layers with
  /// element-wise activations only the selected filters run (src/forward_channels.cpp).
  at::Tensor forward_channels(const at::Tensor& input, const std::string& layer, const at::Tensor& channels) override;
  /// GuidedRelu: the plain ReLUs (fused or Activation layers) of later forward calls.
  void set_guided_relu(bool enabled) override { m_guided_relu = enabled; }
  /// LayerSummary: parameter counts and connections from the graph.
  std::vector<LayerDetails> layer_details(std::int64_t height, std::int64_t width) const override;
  /// LayerReplace: the graph run from a replaced layer on (Graph::forward_replaced).
  Activations forward_replaced(const at::Tensor& input, const std::string& layer, const at::Tensor& replacement,
                               const std::vector<std::string>& taps) override;
  std::vector<std::string> class_names() const override { return m_desc.class_names; }
  std::string output_activation() const override { return m_desc.output_activation; }
  std::string logits_layer() const override { return m_desc.logits_layer; }
  std::string last_conv_layer() const override { return m_desc.last_conv_layer; }
  c10::Device device() const override { return m_device; }
  WeightsInfo weights_info() const override { return m_weights; }
  std::int64_t parameter_count() const override { return m_graph->parameter_count(); }

  const Graph& graph() const { return *m_graph; }

 private:
  /// Shape, size and dtype rules; `taps` must be runnable at the input's size.
  void check_input(const at::Tensor& input, const std::vector<std::string>& taps) const;

  std::unique_ptr<Graph> m_graph;
  BackendDescription m_desc;
  c10::Device m_device;
  WeightsInfo m_weights;
  bool m_guided_relu = false;
};

/// The largest input height or width a model plugin accepts (the schemas state it too).
constexpr std::int64_t kMaxModelInputSize = 4096;

/// Reads the input size options shared by the backends, checking the Keras rules.
/// `fixed` = the classifier needs exactly the default size.
InputSpec input_spec_from(std::int64_t height, std::int64_t width, std::int64_t channels, bool fixed,
                          std::int64_t default_size, std::int64_t min_size, const std::string& model);

}  // namespace vizrun::models
