#pragma once
/// \file small_convnet.h
/// The small_convnet architecture (a Keras-Sequential-like list of layers) built as a
/// Graph. The plugin wraps it in a GraphBackend; the demo model's training program
/// uses it directly, so trained weights fit the plugin exactly.

#include <memory>

#include "vizrun/host.h"
#include "vizrun/value.h"
#include "vizrun_models/backend.h"
#include "vizrun_models/graph.h"
#include "vizrun_models/weights.h"

namespace vizrun::models {

struct SmallConvnetModel {
  std::unique_ptr<Graph> graph;  ///< parameters allocated, not yet filled
  BackendDescription description;
};

/// Builds the model that small_convnet `options` describe: inline `layers`/`input`/
/// `preprocessing`/`class_names`, or an `architecture` file (read through
/// `host->read_config`; without a host, only JSON files can be read).
/// Throws vizrun::Error naming the layer at fault.
SmallConvnetModel build_small_convnet(const Value& options, const Host* host);

/// What build_small_convnet checks, without keeping the model (vizrun validate).
/// Throws vizrun::OptionError pointing at the key at fault: in the architecture file
/// when it came from there, else in the options.
void check_small_convnet(const Value& options, const Host* host);
/// How small_convnet weights are matched (layer names, or by order for user models).
WeightsPlan small_convnet_weights_plan();

}  // namespace vizrun::models
