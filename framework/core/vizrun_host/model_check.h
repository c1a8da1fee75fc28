#pragma once
/// \file model_check.h
/// `vizrun validate`'s last step: the options checked against the model itself.

#include <vector>

#include "vizrun_host/experiment.h"
#include "vizrun_host/plugin_registry.h"

namespace vizrun::host {

/// Creates the model of each experiment (CreateArgs::architecture_only: a backend that
/// can reads no weights; models shared by sweep jobs are created once) and every
/// technique, and asks the techniques with the ModelCheck extension to check their
/// options against it: layer names, image paths, classes, sizes. A problem is a
/// ConfigError at the option's file:line:column. It all happens in a child process, so
/// that a model file that crashes its loader (a corrupt .pt or .h5) ends validate with
/// one line naming the plugin instead of taking it down.
void check_against_models(const std::vector<const Experiment*>& experiments, const PluginRegistry& registry);

}  // namespace vizrun::host
