// libFuzzer target: the safetensors parser (plugins/models/common/src/safetensors.cpp)
// on the input as a whole file image, then, for an image it accepts, the loader that
// copies its tensors into a small model (weights.cpp's load_safetensors).
//
// Invariants: every accepted tensor lies inside the data section, its byte count is
// its element count times its dtype size, and no two tensors overlap.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <string>

#include "fuzz_common.h"
#include "tiny_graph.h"
#include "vizrun_models/safetensors.h"

using namespace vizrun::models;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<SafeTensor> tensors;
  std::map<std::string, std::string> metadata;
  bool accepted = false;
  vizrun::fuzz::refusals_only([&] {
    tensors = parse_safetensors(data, size, &metadata);
    accepted = true;
  });
  if (!accepted) return 0;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const auto& t : tensors) {
    FUZZ_CHECK(t.begin <= t.end && t.end <= size);
    FUZZ_CHECK(t.data >= data + 8 && t.data + (t.end - t.begin) <= data + size);
    std::uint64_t elements = 1;
    for (auto d : t.shape) {
      FUZZ_CHECK(d >= 0);
      elements *= static_cast<std::uint64_t>(d);
    }
    FUZZ_CHECK(elements * safetensors_dtype_size(t.dtype) == t.end - t.begin);
    if (t.end > t.begin) ranges.emplace_back(t.begin, t.end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) FUZZ_CHECK(ranges[i].first >= ranges[i - 1].second);

  static const std::string path = vizrun::fuzz::scratch_file(".safetensors");
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  auto graph = vizrun::fuzz::tiny_graph();
  vizrun::fuzz::refusals_only([&] { load_safetensors(*graph, path, vizrun::fuzz::tiny_plan()); });
  return 0;
}
