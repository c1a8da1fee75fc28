#pragma once
/// \file report.h
/// index.html beside manifest.json: a static gallery of a run (no scripts, no
/// network), grouped by technique, then by layer or image, with the manifest's key
/// facts, predictions and losses. It opens straight from the file system.

#include <string>

#include "vizrun_host/run_record.h"

namespace vizrun::host {

/// The page for one run, from its manifest. Image links are relative to the run folder.
std::string render_run_report(const RunRecord& manifest);

/// Escapes text for HTML element content and attribute values.
std::string html_escape(const std::string& text);

}  // namespace vizrun::host
