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

/// The SDK's extension interfaces for techniques. Append only.
using TechniqueExtensions = ExtensionList<PrecisionSupport>;

}  // namespace vizrun
