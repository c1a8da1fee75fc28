#pragma once
// The small model the weight-file targets load into: a convolution, a flatten and a
// dense layer, so that both naming schemes and the H,W,C row reordering are reached.

#include <memory>
#include <string>
#include <unistd.h>

#include "vizrun_models/graph.h"
#include "vizrun_models/weights.h"

namespace vizrun::fuzz {

inline std::unique_ptr<vizrun::models::Graph> tiny_graph() {
  auto g = std::make_unique<vizrun::models::Graph>(vizrun::models::Shape{1, 4, 4});
  int x = g->conv2d("conv", -1, 2, 3, 3, 1, "valid", true, "relu");
  x = g->flatten("flat", x);
  g->dense("fc", x, 3);
  return g;
}

inline vizrun::models::WeightsPlan tiny_plan() {
  vizrun::models::WeightsPlan plan;
  plan.model = "fuzz";
  plan.allow_topological = true;
  plan.optional_layers = {"extra"};
  plan.layer_aliases = {{"probs", "fc"}};
  plan.tensor_aliases = {{"features.0.weight", "conv.weight"}};
  return plan;
}

/// A per-process scratch file on a RAM disk when there is one (the loaders take paths).
inline std::string scratch_file(const char* suffix) {
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/vizrun-fuzz-" + std::to_string(getpid()) + suffix;
}

}  // namespace vizrun::fuzz
