// libFuzzer target: the Keras HDF5 weights reader (plugins/models/common/src/keras_h5.cpp):
// the layer_names / weight_names attributes (fixed or variable length, whole or split
// into numbered chunks, at the root or under model_weights) and the datasets they
// name, then the loader that matches them to a small model by name or by order
// (weights.cpp's load_keras_h5). The input is the whole file; HDF5 itself needs a
// path, so it is written to a scratch file on /dev/shm first.
//
// libhdf5 is not instrumented: its own bugs show as crashes only (see README.md).
// Invariants: every dataset the reader lists can be read with the shape it reports.

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "h5_reads.h"
#include "tiny_graph.h"
#include "vizrun_models/keras_h5.h"

using namespace vizrun::models;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = vizrun::fuzz::scratch_file(".h5");
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  vizrun::fuzz::refusals_only([&] {
    KerasH5 file(path);
    (void)file.attribute("keras_version");
    (void)file.attribute("backend");
    vizrun::fuzz::read_every_weight(file);
  });
  auto graph = vizrun::fuzz::tiny_graph();
  vizrun::fuzz::refusals_only([&] { load_keras_h5(*graph, path, vizrun::fuzz::tiny_plan()); });
  return 0;
}
