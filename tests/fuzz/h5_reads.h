#pragma once
// Shared by the two HDF5 targets: reads every weight a KerasH5 lists, whole and as a
// row range, checking that each reads with the shape it reports.

#include <cstdint>
#include <vector>

#include "fuzz_common.h"
#include "vizrun_models/keras_h5.h"

namespace vizrun::fuzz {

inline void read_every_weight(const vizrun::models::KerasH5& file) {
  for (std::size_t l = 0; l < file.layers().size(); ++l) {
    for (std::size_t w = 0; w < file.layers()[l].weights.size(); ++w) {
      const auto& shape = file.layers()[l].weights[w].shape;
      std::int64_t elements = 1;
      for (auto d : shape) {
        FUZZ_CHECK(d >= 0);
        elements = d > 0 && elements > (std::int64_t{1} << 20) / d ? -1 : elements * d;
        if (elements < 0) break;
      }
      if (elements < 0) continue;  // larger than these targets read
      std::vector<float> values(static_cast<std::size_t>(elements) + 1);
      refusals_only([&] { file.read(l, w, values.data()); });
      if (!shape.empty() && shape[0] > 1) refusals_only([&] { file.read(l, w, values.data(), 1, shape[0] - 1); });
    }
  }
}

}  // namespace vizrun::fuzz
