// libFuzzer target: a declared architecture (small_convnet's `input`, `layers`,
// `preprocessing`, `class_names`, as written inline or in an `architecture` file),
// parsed from JSON and built into a layer graph (small_convnet_builder.cpp, graph.cpp).
// A model small enough is then run forward on a picture of its input size, on every
// layer, to reach the shape rules of the forward pass too.
//
// Invariants: the layer table and the parameters agree with the graph; the model runs
// at its own input size and at its smallest size, and every layer's output has the
// shape the table states.

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "vizrun_models/json_value.h"
#include "vizrun_models/small_convnet.h"
#include "vizrun_models/weights.h"

using namespace vizrun;
using namespace vizrun::models;

namespace {

std::int64_t values_of(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

void run_forward(Graph& graph, std::int64_t height, std::int64_t width) {
  std::vector<std::string> taps;
  for (const auto& l : graph.layers_for(height, width)) taps.push_back(l.name);
  if (taps.empty()) return;
  const at::Tensor input = at::rand({1, graph.input_shape()[0], height, width});
  const Activations out = graph.forward(input, taps);
  for (const auto& l : graph.layers_for(height, width)) {
    std::vector<std::int64_t> expected{1};
    expected.insert(expected.end(), l.shape.begin(), l.shape.end());
    FUZZ_CHECK(out.at(l.name).sizes().vec() == expected);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  vizrun::fuzz::refusals_only([&] {
    Value options = value_from_json(text, "fuzz.json");
    if (!options.is_dict()) return;
    Dict dict = options.as_dict();
    dict.erase("architecture");  // no file reads: the declaration is the input
    SmallConvnetModel model = build_small_convnet(Value(dict), nullptr);
    Graph& graph = *model.graph;
    const auto layers = graph.layers();
    FUZZ_CHECK(layers.size() == graph.nodes().size());
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
    const auto& in = model.description.input;
    FUZZ_CHECK(in.min_size >= 1 && in.min_size <= std::min(in.height, in.width));
    if (params > 200000 || activations > 2000000) return;  // too slow to run at fuzzing speed
    init_random(graph, 1);
    graph.finalize(c10::Device(c10::kCPU));
    run_forward(graph, in.height, in.width);
    if (!in.fixed_size) run_forward(graph, in.min_size, in.min_size);
  });
  return 0;
}
