#pragma once
/// \file model_summary.h
/// `vizrun layers`: the experiment's model, created as a run creates it (without a
/// run folder), summarised layer by layer as Keras's `summary()` prints a model:
/// name, type, output shape at an input size, parameters, and what each reads.
/// It answers "which layer do I pick?" before a run.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "vizrun/model_extensions.h"
#include "vizrun_host/experiment.h"
#include "vizrun_host/plugin_registry.h"

namespace vizrun::host {

struct ModelSummary {
  std::string plugin;
  WeightsInfo weights;
  InputSpec input;
  std::int64_t height = 0, width = 0;  ///< the size the shapes are for
  std::vector<LayerDetails> layers;
  std::int64_t parameters = 0;         ///< the whole model's
  std::string last_conv_layer;         ///< what `layer: auto` picks in gradcam
  std::string logits_layer;
  std::string output_activation;
  std::size_t classes = 0;
};

/// Creates `experiment`'s model and lists the layers that run at `size` x `size`
/// (0: the model's own input size). Throws vizrun::Error for a model that cannot be
/// created or a size it cannot take.
ModelSummary summarize_model(const Experiment& experiment, const PluginRegistry& registry, std::int64_t size);

/// The table people read.
std::string format_summary(const ModelSummary& summary);
/// The same for scripts.
nlohmann::json summary_json(const ModelSummary& summary);

}  // namespace vizrun::host
