#pragma once
/// \file technique.h
/// The technique interface: a visualisation method (activation grids, filter
/// ascent, Grad-CAM, saliency...). A technique computes; the host does all I/O.

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

/// The SDK's extension interfaces for techniques (none yet).
using TechniqueExtensions = ExtensionList<>;

}  // namespace vizrun
