// Writes the seed files of fuzz_keras_h5 and fuzz_safetensors: the small model of
// tiny_graph.h saved in every layout the readers accept. Run once; the output is
// committed under corpus/ (tests/fuzz/README.md).
//   fuzz_make_h5_seeds tests/fuzz/corpus

#include <cstdio>
#include <string>

#include "tiny_graph.h"
#include "vizrun_models/keras_h5_writer.h"
#include "vizrun_models/safetensors.h"

using namespace vizrun::models;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus folder>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  auto graph = vizrun::fuzz::tiny_graph();
  init_random(*graph, 7);
  struct Variant {
    const char* file;
    KerasH5WriteOptions options;
  };
  KerasH5WriteOptions keras1, keras2, keras3, vlen, nested, chunked, renamed;
  keras1.naming = "keras1";
  keras3.naming = "keras3";
  keras3.write_version_attributes = false;
  vlen.variable_length_strings = true;
  nested.model_weights_group = true;
  chunked.names_per_chunk = 1;
  renamed.rename = {{"fc", "probs"}};
  const Variant variants[] = {{"keras1.h5", keras1}, {"keras2.h5", keras2},   {"keras3.h5", keras3},
                              {"vlen.h5", vlen},     {"model_weights.h5", nested}, {"chunked.h5", chunked},
                              {"renamed.h5", renamed}};
  for (const auto& v : variants) write_keras_h5(*graph, dir + "/fuzz_keras_h5/" + v.file, v.options);

  std::vector<SafeTensorOut> tensors;
  for (const auto& p : graph->params()) {
    const at::Tensor t = p.tensor.contiguous();
    tensors.push_back({p.torch_name, p.shape, std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())});
  }
  write_safetensors(dir + "/fuzz_safetensors/tiny.safetensors", tensors);
  tensors[0].name = "features.0.weight";  // an alias the plan accepts
  write_safetensors(dir + "/fuzz_safetensors/alias.safetensors", tensors);
  return 0;
}
