#pragma once
/// \file technique.h
/// The technique interface: a visualisation method (activation grids, filter
/// ascent, Grad-CAM, saliency...). A technique computes; the host does all I/O.

#include <string>
#include <string_view>

#include "vizrun/export.h"
#include "vizrun/extension.h"
#include "vizrun/host.h"
#include "vizrun/model.h"

namespace vizrun {

class VIZRUN_SDK_API Technique {
 public:
  virtual ~Technique();
  /// Runs the technique on `model`, emitting results to `out`. Options were
  /// given, already validated and completed with defaults, at creation.
  virtual void run(ModelBackend& model, Output& out) = 0;

  // --- SDK 1.2: the last virtual Technique gets (see vizrun/extension.h).

  /// The object's implementation of the extension interface with id `id`, or nullptr;
  /// use `vizrun::query<I>(technique)`. The default answers every interface of
  /// `vizrun::TechniqueExtensions` that the object's class derives from. (SDK 1.2)
  virtual void* query_interface(std::string_view id);
};

/// A technique that cannot compute in every precision the host offers says which it
/// cannot, and why. The host sets the precision around each technique (the run's
/// `precision` policy) and runs one that declines in fp32, saying so in the manifest.
/// A technique without this interface runs in whatever the run chose. (SDK 1.2)
class VIZRUN_SDK_API PrecisionSupport {
 public:
  static constexpr char kInterfaceId[] = "vizrun.PrecisionSupport/1";

  /// Empty when the technique can run in `precision` ("bf16"; "fp32" always works);
  /// otherwise a few words saying why not ("needs float32 gradients for ...").
  virtual std::string unsupported_precision(std::string_view precision) const = 0;

 protected:
  virtual ~PrecisionSupport();
};

/// A technique that can check its options against the model before anything runs.
/// `vizrun validate` creates the model (CreateArgs::architecture_only: no weights are
/// read where the backend can avoid it) and the technique, and calls check_model, so
/// that a config that validates does not fail later for a layer name, an image path,
/// a class or a size. (SDK 1.3)
class VIZRUN_SDK_API ModelCheck {
 public:
  static constexpr char kInterfaceId[] = "vizrun.ModelCheck/1";

  /// Throws vizrun::OptionError (vizrun/option_check.h) with a JSON pointer into the
  /// technique's options, or vizrun::Error, when the options cannot work with `model`.
  /// Must not run the model: its weights may not be loaded.
  virtual void check_model(const ModelBackend& model) const = 0;

 protected:
  virtual ~ModelCheck();
};

/// The SDK's extension interfaces for techniques. Append only.
using TechniqueExtensions = ExtensionList<PrecisionSupport, ModelCheck>;

}  // namespace vizrun
