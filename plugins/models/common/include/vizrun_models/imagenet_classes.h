#pragma once
/// \file imagenet_classes.h
/// The 1000 ImageNet-1k classes in the order of Keras' imagenet_class_index.json,
/// shipped with vizrun so that predictions decode offline.

#include <string>
#include <vector>

namespace vizrun::models {

struct ImagenetClass {
  const char* wnid;   ///< WordNet id, e.g. "n02504458"
  const char* name;   ///< Keras label, e.g. "African_elephant"
};

/// All 1000 classes, index = class id.
const std::vector<ImagenetClass>& imagenet_classes();
/// Just the Keras labels, index = class id.
std::vector<std::string> imagenet_class_names();

}  // namespace vizrun::models
