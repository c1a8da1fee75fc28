// libFuzzer target: a Keras model config (the JSON of model.to_json(), config.json in
// a .keras file, the model_config attribute of a full-model .h5), Keras 2 or 3
// spelling, built into a layer graph (keras_model.cpp, graph.cpp). A model small
// enough is then run forward on every layer at its input size.
//
// Invariants: every refusal is a vizrun::Error; the layer table and the parameters
// agree with the graph; each weighted layer's variables name existing parameters;
// every layer's output has the shape the table states.

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "vizrun_models/keras_model.h"
#include "vizrun_models/weights.h"

using namespace vizrun;
using namespace vizrun::models;

namespace {

std::int64_t values_of(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  vizrun::fuzz::refusals_only([&] {
    KerasModel model = build_keras_model(text, "fuzz.json");
    Graph& graph = *model.graph;
    const auto layers = graph.layers();
    FUZZ_CHECK(!layers.empty() && layers.size() == graph.nodes().size());
    std::int64_t activations = 0;
    for (const auto& l : layers) {
      for (auto d : l.shape) FUZZ_CHECK(d >= 1);
      activations += values_of(l.shape);
    }
    std::int64_t params = 0;
    for (const auto& p : graph.params()) {
      FUZZ_CHECK(p.tensor.numel() == values_of(p.shape));
      params += values_of(p.shape);
    }
    FUZZ_CHECK(params == graph.parameter_count());
    for (const auto& w : model.weights) {
      FUZZ_CHECK(graph.find(w.layer) >= 0);
      FUZZ_CHECK(w.vars.size() == w.params.size() && w.vars.size() == w.aliases.size());
      for (int p : w.params) FUZZ_CHECK(p >= -1 && p < static_cast<int>(graph.params().size()));
    }
    if (!model.logits_layer.empty()) FUZZ_CHECK(graph.find(model.logits_layer) >= 0);
    if (!model.last_conv_layer.empty()) FUZZ_CHECK(graph.find(model.last_conv_layer) >= 0);
    if (params > 200000 || activations > 2000000) return;  // too slow to run at fuzzing speed
    init_random(graph, 1);
    graph.finalize(c10::Device(c10::kCPU));
    std::vector<std::string> taps;
    for (const auto& l : layers) taps.push_back(l.name);
    const Shape& in = graph.input_shape();
    const Activations out = graph.forward(at::rand({1, in[0], in[1], in[2]}), taps);
    for (const auto& l : layers) {
      std::vector<std::int64_t> expected{1};
      expected.insert(expected.end(), l.shape.begin(), l.shape.end());
      FUZZ_CHECK(out.at(l.name).sizes().vec() == expected);
    }
  });
  return 0;
}
