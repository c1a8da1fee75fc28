#pragma once
/// \file build_info.h
/// Facts about this build for `--version` and the run manifest.

namespace vizrun::host::build {

extern const char* const version;        ///< "0.1.0"
extern const char* const git_revision;   ///< `git describe --always --dirty` at build time
extern const char* const compiler;
extern const char* const build_type;
extern const char* const fingerprint;    ///< LibTorch version and C++ ABI (see fingerprint.h)
extern const char* const source_dir;     ///< for locating configs when run from the build tree

}  // namespace vizrun::host::build
