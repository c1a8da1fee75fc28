// The `imagenet` downloader against a small HTTP server on 127.0.0.1 written here:
// verified download, reuse, wrong hash, a connection that drops mid-file, resume
// of a partial file, and the offline message. Never the internet.

#include <arpa/inet.h>
#include "catch_torch.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "model_test_util.h"
#include "vizrun/error.h"
#include "vizrun_models/download.h"
#include "vizrun_models/hashing.h"

using namespace vizrun;
using namespace vizrun::models;
using namespace vizrun::models::testing;
namespace fs = std::filesystem;

namespace {

std::string payload(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  unsigned v = seed;
  for (auto& c : s) {
    v = v * 1103515245u + 12345u;
    c = static_cast<char>(v >> 16);
  }
  return s;
}

std::string md5_of(const std::string& data) {
  Hasher h("md5");
  h.update(data.data(), data.size());
  return h.hex();
}

/// A one-thread HTTP/1.0 server. Paths: /good/<f> serves `good` (honouring Range),
/// /bad/<f> serves `bad`, /drop/<f> sends half of `good` then closes the first
/// time, and honours Range afterwards.
class LoopbackServer {
 public:
  LoopbackServer(std::string good, std::string bad) : m_good(std::move(good)), m_bad(std::move(bad)) {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(m_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    m_port = ntohs(addr.sin_port);
    REQUIRE(::listen(m_fd, 8) == 0);
    m_thread = std::thread([this] { serve(); });
  }
  ~LoopbackServer() {
    m_stop = true;
    ::shutdown(m_fd, SHUT_RDWR);
    ::close(m_fd);
    m_thread.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  int requests() const { return m_requests; }
  std::vector<std::string> ranges() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_ranges;
  }

 private:
  void serve() {
    while (!m_stop) {
      int c = ::accept(m_fd, nullptr, nullptr);
      if (c < 0) return;
      handle(c);
      ::close(c);
    }
  }
  void handle(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
    ++m_requests;
    std::istringstream lines(req);
    std::string method, path;
    lines >> method >> path;
    std::size_t from = 0;
    auto r = req.find("Range: bytes=");
    if (r != std::string::npos) {
      from = std::stoul(req.substr(r + 13));
      std::lock_guard<std::mutex> lock(m_mutex);
      m_ranges.push_back(std::to_string(from));
    }
    const std::string* body = path.rfind("/bad/", 0) == 0 ? &m_bad : &m_good;
    if (path.rfind("/good/", 0) != 0 && path.rfind("/bad/", 0) != 0 && path.rfind("/drop/", 0) != 0) {
      send_all(c, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    bool drop = path.rfind("/drop/", 0) == 0 && !m_dropped.exchange(true);
    std::string head;
    if (from > 0) {
      if (from >= body->size()) {
        send_all(c, "HTTP/1.0 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      head = "HTTP/1.0 206 Partial Content\r\nContent-Length: " + std::to_string(body->size() - from) +
             "\r\nContent-Range: bytes " + std::to_string(from) + "-" + std::to_string(body->size() - 1) + "/" +
             std::to_string(body->size()) + "\r\n\r\n";
    } else {
      head = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body->size()) + "\r\n\r\n";
    }
    send_all(c, head);
    std::size_t end = drop ? body->size() / 2 : body->size();
    send_all(c, body->substr(from, end - from));
  }
  static void send_all(int c, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }

  std::string m_good, m_bad;
  int m_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false}, m_dropped{false};
  std::atomic<int> m_requests{0};
  std::mutex m_mutex;
  std::vector<std::string> m_ranges;
  std::thread m_thread;
};

}  // namespace

TEST_CASE("downloader: verified download, progress, then reuse of the cache", "[models][download]") {
  const std::string good = payload(3 << 20, 1);
  LoopbackServer server(good, payload(1000, 2));
  SimpleHost host;
  DownloadRequest req{server.base() + "/good/w.h5", host.cache + "/models/w.h5", md5_of(good), "test weights"};
  auto r = download_file(req, &host);
  CHECK_FALSE(r.reused);
  CHECK(fs::file_size(r.path) == good.size());
  CHECK_FALSE(fs::exists(r.path + ".part"));
  CHECK(r.sha256.size() == 64);
  CHECK(host.progress_calls > 0);
  CHECK(host.last_total == good.size());
  int before = server.requests();
  auto again = download_file(req, &host);
  CHECK(again.reused);
  CHECK(again.sha256 == r.sha256);
  CHECK(server.requests() == before);
}

TEST_CASE("downloader: a wrong hash is refused and nothing is left behind", "[models][download]") {
  LoopbackServer server(payload(5000, 1), payload(7000, 9));
  SimpleHost host;
  DownloadRequest req{server.base() + "/bad/w.h5", host.cache + "/models/w.h5", md5_of(payload(5000, 1)), "test weights"};
  CHECK_THROWS_WITH(download_file(req, &host), Catch::Contains("published MD5 is " + req.md5) &&
                                                   Catch::Contains(req.url) && Catch::Contains(req.destination));
  CHECK_FALSE(fs::exists(req.destination));
  CHECK_FALSE(fs::exists(req.destination + ".part"));
  // A corrupt cached file is replaced.
  fs::create_directories(host.cache + "/models");
  std::ofstream(req.destination) << "junk";
  req.url = server.base() + "/good/w.h5";
  auto r = download_file(req, &host);
  CHECK_FALSE(r.reused);
  CHECK(fs::file_size(r.path) == 5000);
}

TEST_CASE("downloader: a dropped connection resumes with a Range request", "[models][download]") {
  const std::string good = payload(2 << 20, 3);
  LoopbackServer server(good, "");
  SimpleHost host;
  DownloadRequest req{server.base() + "/drop/w.h5", host.cache + "/models/w.h5", md5_of(good), "test weights"};
  auto r = download_file(req, &host);
  CHECK(digest_file(r.path).md5 == md5_of(good));
  auto ranges = server.ranges();
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0] == std::to_string(good.size() / 2));
}

TEST_CASE("downloader: a partial file from an earlier run is resumed", "[models][download]") {
  const std::string good = payload(1 << 20, 4);
  LoopbackServer server(good, "");
  SimpleHost host;
  DownloadRequest req{server.base() + "/good/w.h5", host.cache + "/models/w.h5", md5_of(good), "test weights"};
  fs::create_directories(host.cache + "/models");
  std::ofstream(req.destination + ".part", std::ios::binary).write(good.data(), 1000);
  download_file(req, &host);
  CHECK(server.ranges() == std::vector<std::string>{"1000"});
  CHECK(digest_file(req.destination).md5 == req.md5);
}

TEST_CASE("downloader: offline, one message says which URL to fetch and where to put it", "[models][download]") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // a port nobody listens on
  SimpleHost host;
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/vgg16/w.h5";
  DownloadRequest req{url, host.cache + "/models/w.h5", "0123456789abcdef0123456789abcdef", "vgg16 ImageNet weights"};
  CHECK_THROWS_WITH(download_file(req, &host), Catch::Contains("Download " + url + " yourself and save it as " +
                                                               req.destination));
}

TEST_CASE("weights: imagenet goes through the cache folder and checks the published hash", "[models][download]") {
  const std::string fake = payload(4096, 5);
  LoopbackServer server(fake, fake);
  SimpleHost host;
  {  // the base URL points at the loopback server only inside this block
    const ScopedEnv base_url("VIZRUN_WEIGHTS_BASE_URL", server.base() + "/good");
    try {
      create_model("vgg16", Value(Dict{{"include_top", false}}), "imagenet", &host);
      FAIL("expected a hash error");
    } catch (const Error& e) {
      std::string m = e.what();
      CHECK_THAT(m, Catch::Contains(server.base() + "/good/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"));
      CHECK_THAT(m, Catch::Contains("6d6bbae143d832006294945121d1f1fc"));
      CHECK_THAT(m, Catch::Contains(host.cache + "/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"));
    }
    try {
      create_model("resnet50v2", Value(Dict{}), "imagenet", &host);
      FAIL("expected a hash error");
    } catch (const Error& e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains("/resnet/resnet50v2_weights_tf_dim_ordering_tf_kernels.h5") &&
                                            Catch::Contains("3ef43a0b657b3be2300d5770ece849e0"));
    }
  }
  CHECK_THROWS_WITH(create_model("small_convnet",
                                 Value(Dict{{"layers", List{Value(Dict{{"type", "flatten"}})}},
                                            {"input", Value(Dict{{"height", 4}, {"width", 4}, {"channels", 3}})}}),
                                 "imagenet", &host),
                    Catch::Contains("no published ImageNet weights"));
}
