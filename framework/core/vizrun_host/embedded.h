#pragma once
/// \file embedded.h
/// Files compiled into the executable so that it works from any folder:
/// the experiment schema and the default experiment run by a bare `vizrun`.

namespace vizrun::host::embedded {

extern const char* const experiment_schema;
/// The default experiment's YAML, and the folder its relative paths refer to
/// (the installed share/vizrun/configs, or the source tree's configs/ when run
/// from the build tree).
extern const char* const default_config;
extern const char* const default_config_name;

}  // namespace vizrun::host::embedded
