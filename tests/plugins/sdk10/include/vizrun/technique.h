#pragma once
/// \file technique.h
/// The technique interface: a visualisation method (activation grids, filter
/// ascent, Grad-CAM, saliency...). A technique computes; the host does all I/O.

#include "vizrun/export.h"
#include "vizrun/host.h"
#include "vizrun/model.h"

namespace vizrun {

class VIZRUN_SDK_API Technique {
 public:
  virtual ~Technique();
  /// Runs the technique on `model`, emitting results to `out`. Options were
  /// given, already validated and completed with defaults, at creation.
  virtual void run(ModelBackend& model, Output& out) = 0;
};

}  // namespace vizrun
