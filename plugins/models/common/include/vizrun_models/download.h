#pragma once
/// \file download.h
/// Downloads a file once into the cache, with libcurl: progress through the Host,
/// resume of a partial download (HTTP Range), verification of the published MD5,
/// atomic placement (temporary file + rename) and reuse of a verified cached copy.

#include <string>

#include "vizrun/host.h"

namespace vizrun::models {

struct DownloadRequest {
  std::string url;
  std::string destination;  ///< final path of the file
  std::string md5;          ///< expected MD5 (hex); empty: not checked
  std::string what;         ///< for progress and messages, e.g. "vgg16 weights"
};

struct DownloadResult {
  std::string path;
  std::string sha256;       ///< of the verified file
  bool reused = false;      ///< true when the cached file was used without network
};

/// Returns the verified file, downloading it when needed. Throws vizrun::Error with
/// one message naming the URL and the destination when the file cannot be had.
DownloadResult download_file(const DownloadRequest& request, const Host* host);

/// Base URL of the official Keras application weights, or $VIZRUN_WEIGHTS_BASE_URL.
std::string weights_base_url();

}  // namespace vizrun::models
