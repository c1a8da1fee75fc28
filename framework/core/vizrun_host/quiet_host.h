#pragma once
/// \file quiet_host.h
/// A host like a run's that writes nothing: paths, globs, images and configs resolve
/// as in a run of `experiment`, logs and progress go nowhere, the manifest stays in
/// memory. For the commands that open plugins without running (validate, layers).

#include "vizrun_host/experiment.h"
#include "vizrun_host/logger.h"
#include "vizrun_host/manifest.h"
#include "vizrun_host/progress.h"
#include "vizrun_host/run_host.h"

namespace vizrun::host {

struct QuietHost {
  explicit QuietHost(const Experiment& experiment)
      : progress(ProgressReporter::Mode::off), logger(progress, false, false), manifest("", RunRecord{}),
        host(experiment.tree.base_dir, logger, progress, manifest) {
    host.set_max_image_pixels(experiment.max_image_pixels);
  }
  QuietHost(const QuietHost&) = delete;
  QuietHost& operator=(const QuietHost&) = delete;

  ProgressReporter progress;
  Logger logger;
  Manifest manifest;
  RunHost host;
};

}  // namespace vizrun::host
