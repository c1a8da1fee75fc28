#pragma once
/// \file files.h
/// Small file-system helpers with one promise: a file the host writes is either
/// absent or complete. Everything goes to a temporary name in the same folder
/// and is renamed into place (rename is atomic within a file system).

#include <cstdint>
#include <string>
#include <string_view>

#include "vizrun/error.h"

namespace vizrun::host {

/// A file could not be written (disk full, quota, file size limit, permissions):
/// the run folder is no longer writable, so a run stops instead of failing every
/// later step the same way.
class WriteError : public Error {
 public:
  using Error::Error;
};

/// Writes `bytes` to `path` atomically, creating parent folders. Throws WriteError.
void write_file_atomic(const std::string& path, std::string_view bytes);
/// Reads a whole file. Throws vizrun::Error naming the file when it cannot be read.
std::string read_file(const std::string& path);

/// Hex sha256 of bytes / of a file's content (streamed, constant memory).
std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const std::string& path);

/// Turns an arbitrary name (a layer name may contain '/', '..', ':' or spaces)
/// into a safe relative path: each '/'-separated component keeps [A-Za-z0-9._-],
/// other bytes become '_', and "", "." and ".." become "_". The result can never
/// leave the folder it is joined to.
std::string safe_relative_path(std::string_view name);

/// "2026-11-21T21:36:49Z" and the folder-friendly "20261121T213649Z".
std::string utc_timestamp_iso();
std::string utc_timestamp_compact();

}  // namespace vizrun::host
