#include "vizrun_models/download.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>

#include "vizrun/error.h"
#include "vizrun_models/hashing.h"

namespace fs = std::filesystem;

namespace vizrun::models {

namespace {

constexpr const char* kOfficialBase = "https://storage.googleapis.com/tensorflow/keras-applications";

struct Transfer {
  std::FILE* file = nullptr;
  CURL* curl = nullptr;
  const Host* host = nullptr;
  std::string what;
  curl_off_t resumed_from = 0;
  curl_off_t written = 0;
  bool checked_status = false;
  std::exception_ptr error;
  std::chrono::steady_clock::time_point last_report{};
};

std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->checked_status) {
    t->checked_status = true;
    long code = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
    if (t->resumed_from > 0 && code == 200) {
      // The server ignored the Range request and sends the whole file: start over.
      if (std::fflush(t->file) != 0 || ::ftruncate(fileno(t->file), 0) != 0) return 0;
      std::fseek(t->file, 0, SEEK_SET);
      t->resumed_from = 0;
    }
  }
  std::size_t n = std::fwrite(data, size, count, t->file);
  t->written += static_cast<curl_off_t>(n * size);
  return n * size;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->host) return 0;
  try {
    t->host->check_stop();
    auto clock = std::chrono::steady_clock::now();
    if (clock - t->last_report > std::chrono::milliseconds(250) || (total > 0 && now == total)) {
      t->last_report = clock;
      t->host->progress("downloading " + t->what, static_cast<std::size_t>(t->resumed_from + now),
                        static_cast<std::size_t>(total > 0 ? t->resumed_from + total : 0));
    }
  } catch (...) {
    t->error = std::current_exception();
    return 1;  // aborts the transfer; the partial file stays for a later resume
  }
  return 0;
}

std::uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

/// "<size> <mtime> <md5> <sha256>" beside a verified file, so reuse needs no rehash.
std::string stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

bool read_sidecar(const std::string& path, std::string& md5, std::string& sha256) {
  std::ifstream in(path + ".digests");
  std::string size_mtime_a, size_mtime_b;
  if (!(in >> size_mtime_a >> size_mtime_b >> md5 >> sha256)) return false;
  return size_mtime_a + " " + size_mtime_b == stamp_of(path);
}

void write_sidecar(const std::string& path, const FileDigests& d) {
  std::ofstream out(path + ".digests");
  out << stamp_of(path) << " " << d.md5 << " " << d.sha256 << "\n";
}

}  // namespace

std::string weights_base_url() {
  if (const char* v = std::getenv("VIZRUN_WEIGHTS_BASE_URL"); v && *v) {
    std::string base(v);
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
  }
  return kOfficialBase;
}

DownloadResult download_file(const DownloadRequest& req, const Host* host) {
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  const std::string& dest = req.destination;
  auto manual = [&](const std::string& why) {
    return Error("cannot get " + req.what + ": " + why + ". Download " + req.url + " yourself and save it as " + dest +
                 (req.md5.empty() ? "" : " (MD5 " + req.md5 + ")"));
  };
  std::error_code ec;
  fs::create_directories(fs::path(dest).parent_path(), ec);
  if (ec) throw manual("cannot create the cache folder '" + fs::path(dest).parent_path().string() + "' (" + ec.message() + ")");

  DownloadResult result;
  result.path = dest;
  if (fs::is_regular_file(dest, ec)) {
    std::string md5, sha;
    if (!read_sidecar(dest, md5, sha)) {
      FileDigests d = digest_file(dest);
      md5 = d.md5;
      sha = d.sha256;
      if (req.md5.empty() || md5 == req.md5) write_sidecar(dest, d);
    }
    if (req.md5.empty() || md5 == req.md5) {
      result.sha256 = sha;
      result.reused = true;
      return result;
    }
    if (host)
      host->log(LogLevel::warning, "cached " + dest + " has MD5 " + md5 + ", expected " + req.md5 +
                                       "; downloading it again");
    fs::remove(dest, ec);
    fs::remove(dest + ".digests", ec);
  }
  if (!curl_ready) throw manual("libcurl could not be initialised");

  const std::string part = dest + ".part";
  std::string last_error;
  for (int attempt = 0; attempt < 4; ++attempt) {
    Transfer t;
    t.host = host;
    t.what = req.what;
    t.resumed_from = static_cast<curl_off_t>(file_size_or_zero(part));
    t.file = std::fopen(part.c_str(), t.resumed_from > 0 ? "ab" : "wb");
    if (!t.file) throw manual("cannot write '" + part + "'");
    t.curl = curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(t.curl, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(t.curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(t.curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(t.curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(t.curl, CURLOPT_USERAGENT, "vizrun");
    curl_easy_setopt(t.curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, &on_data);
    curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(t.curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(t.curl, CURLOPT_NOPROGRESS, 0L);
    if (t.resumed_from > 0) curl_easy_setopt(t.curl, CURLOPT_RESUME_FROM_LARGE, t.resumed_from);
    CURLcode rc = curl_easy_perform(t.curl);
    long status = 0;
    curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(t.curl);
    std::fclose(t.file);
    if (t.error) std::rethrow_exception(t.error);
    if (rc == CURLE_OK) {
      last_error.clear();
      break;
    }
    last_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (status == 416) {
      // Range not satisfiable: the partial file is complete (or junk); the hash decides below.
      last_error.clear();
      break;
    }
    if (t.written == 0) break;  // no progress: retrying will not help
    if (host) host->log(LogLevel::info, "download of " + req.url + " interrupted (" + last_error + "); resuming");
  }
  if (!last_error.empty()) throw manual("download from " + req.url + " failed: " + last_error);

  FileDigests d = digest_file(part);
  if (!req.md5.empty() && d.md5 != req.md5) {
    fs::remove(part, ec);
    throw manual("the file from " + req.url + " has MD5 " + d.md5 + " but the published MD5 is " + req.md5 +
                 " (the corrupt download was deleted)");
  }
  fs::rename(part, dest, ec);
  if (ec) throw manual("cannot move the download into place (" + ec.message() + ")");
  write_sidecar(dest, d);
  if (host) host->log(LogLevel::info, "downloaded " + req.url + " to " + dest);
  result.sha256 = d.sha256;
  return result;
}

}  // namespace vizrun::models
