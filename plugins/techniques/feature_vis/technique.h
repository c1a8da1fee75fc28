#pragma once
/// \file technique.h
/// The feature_vis and deep_dream techniques: options read once, renders expanded
/// from the config (one per channel or class when asked), and what they emit.

#include <string>
#include <vector>

#include "feature_vis.h"

namespace vizrun::techniques {

/// One render: a batch of pictures optimised together for one objective.
struct RenderSpec {
  std::string name;
  std::int64_t batch = 1;
  std::vector<fv::Term> terms;
  std::int64_t class_id = -1;   ///< the class of its class terms, -1 without
};

/// Reads the `transforms` option ("standard", "none" or a list).
std::vector<fv::Transform> transforms_from(const Value& spec);
/// Reads one objective term ({type, weight, layer, channel, ...}).
fv::Term term_from(const Value& spec);
/// A words-and-weights description of an objective ("channel(conv3:2) - 0.1*l1").
std::string describe(const std::vector<fv::Term>& terms);

class FeatureVis : public TechniqueBase, public ModelCheck {
 public:
  explicit FeatureVis(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;
  /// Layers, channels, classes and sizes against the model (without running it).
  void check_model(const ModelBackend& model) const override;
  /// The renders the options ask for, `channels` and `classes` expanded.
  std::vector<RenderSpec> renders(const ModelBackend& model) const;
  /// The recipe the options say, sized for `model`.
  fv::RenderRecipe recipe(const ModelBackend& model) const;
};

class DeepDream : public TechniqueBase, public ModelCheck {
 public:
  explicit DeepDream(const CreateArgs& args);
  void run(ModelBackend& model, Output& out) override;
  void check_model(const ModelBackend& model) const override;
  fv::DreamRecipe recipe() const;
};

extern const char* const kFeatureVisSchema;
extern const char* const kDeepDreamSchema;

}  // namespace vizrun::techniques
