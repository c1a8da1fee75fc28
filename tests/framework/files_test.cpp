// Atomic writes, safe output names, hashes and .npy encoding.
#include "catch.h"

#include <torch/torch.h>

#include <filesystem>
#include <random>

#include "test_support.h"
#include "vizrun_host/files.h"
#include "vizrun_host/image_io.h"

namespace fs = std::filesystem;
using namespace vizrun::host;

TEST_CASE("sha256 matches the FIPS 180-2 test vectors", "[files]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("atomic writes replace whole files and leave no temporaries", "[files]") {
  const std::string dir = vizrun::testing::temp_dir("atomic");
  const std::string path = dir + "/sub/out.txt";
  write_file_atomic(path, "first version");
  write_file_atomic(path, "second");
  CHECK(read_file(path) == "second");
  CHECK(sha256_file(path) == sha256_hex("second"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir + "/sub")) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
  // A write that cannot happen leaves the old file intact.
  fs::create_directories(dir + "/blocked");
  fs::permissions(dir + "/blocked", fs::perms::owner_read | fs::perms::owner_exec);
  if (::geteuid() != 0) {
    CHECK_THROWS_AS(write_file_atomic(dir + "/blocked/x.txt", "data"), vizrun::Error);
  }
  fs::permissions(dir + "/blocked", fs::perms::owner_all);
}

TEST_CASE("output names can never leave their folder", "[files]") {
  CHECK(safe_relative_path("block1_conv1/grid") == "block1_conv1/grid");
  CHECK(safe_relative_path("../../etc/passwd") == "_/_/etc/passwd");
  CHECK(safe_relative_path("/abs/path") == "_/abs/path");
  CHECK(safe_relative_path("model/conv 1:0") == "model/conv_1_0");
  CHECK(safe_relative_path("") == "_");
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string name;
    for (int k = static_cast<int>(rng() % 20); k > 0; --k) name += static_cast<char>(rng() % 256);
    const std::string safe = safe_relative_path(name);
    const fs::path joined = (fs::path("/root/run") / safe).lexically_normal();
    REQUIRE(joined.string().rfind("/root/run/", 0) == 0);
    REQUIRE(safe.find("..") != 0);
  }
}

TEST_CASE("npy files carry dtype, shape and data in NumPy's format", "[files]") {
  auto t = torch::arange(6, torch::kFloat32).reshape({2, 3});
  std::string npy = encode_npy(t);
  REQUIRE(npy.substr(0, 6) == "\x93NUMPY");
  const std::size_t header_len = static_cast<unsigned char>(npy[8]) | (static_cast<unsigned char>(npy[9]) << 8);
  CHECK((10 + header_len) % 64 == 0);
  const std::string header = npy.substr(10, header_len);
  CHECK(header.find("'descr': '<f4'") != std::string::npos);
  CHECK(header.find("'shape': (2, 3)") != std::string::npos);
  CHECK(npy.size() == 10 + header_len + 6 * 4);
  float last;
  std::memcpy(&last, npy.data() + npy.size() - 4, 4);
  CHECK(last == 5.0f);
  CHECK(encode_npy(torch::zeros({4}, torch::kInt64)).find("'shape': (4,)") != std::string::npos);
}

TEST_CASE("PNG images round-trip through the writer and the reader", "[files]") {
  const std::string dir = vizrun::testing::temp_dir("png");
  auto img = torch::arange(0, 4 * 5 * 3, torch::kInt64).remainder(256).to(torch::kUInt8).reshape({4, 5, 3});
  write_png(dir + "/a.png", img);
  auto back = read_image(dir + "/a.png");  // {3, H, W} float
  CHECK(back.sizes() == torch::IntArrayRef({3, 4, 5}));
  CHECK(torch::equal(back.permute({1, 2, 0}).to(torch::kUInt8), img));
  CHECK_THROWS_WITH(read_image(dir + "/missing.png"), Catch::Matchers::Contains("missing.png"));
}
