#pragma once
// Test doubles for driving technique classes directly: a Host that serves .npy
// pictures ({3, H, W} float in [0, 255]) and an Output that keeps everything.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "vizrun/host.h"

namespace vizrun::testing {

class FakeHost : public Host {
 public:
  explicit FakeHost(std::string base = ".") : m_base(std::move(base)) {}
  std::string resolve_path(const std::string& path) const override;
  std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) const override;
  at::Tensor load_image(const std::string& path) const override;
  Value read_config(const std::string& path) const override;
  std::string cache_dir() const override { return "/tmp"; }
  void log(LogLevel, const std::string& message) const override { logs.push_back(message); }
  void progress(const std::string&, std::size_t, std::size_t) const override { ++progress_calls; }
  void check_stop() const override;

  std::map<std::string, at::Tensor> pictures;  ///< served by name before any file
  mutable std::vector<std::string> logs;
  mutable std::size_t progress_calls = 0;
  mutable std::size_t stop_checks = 0;
  std::size_t stop_after = 0;  ///< throw Interrupted at this check (0: never)

 private:
  std::string m_base;
};

class KeepOutput : public Output {
 public:
  struct Item {
    std::string name;
    at::Tensor data;
    Dict meta;
  };
  void image(const std::string& name, const at::Tensor& t, const Dict& meta) override { images.push_back({name, t, meta}); }
  void array(const std::string& name, const at::Tensor& t, const Dict& meta) override { arrays.push_back({name, t, meta}); }
  void record(const std::string& key, const Value& v) override { records[key] = v; }
  const Item* find_image(const std::string& name) const;
  const Item* find_array(const std::string& name) const;
  /// The first array whose meta names this image and method (nullptr: none).
  const Item* find_array_of(const std::string& image, const std::string& method) const;
  std::vector<Item> images, arrays;
  Dict records;
};

/// Counts what it is given and keeps nothing (for memory tests).
class CountingOutput : public Output {
 public:
  void image(const std::string&, const at::Tensor&, const Dict&) override { ++images; }
  void array(const std::string&, const at::Tensor&, const Dict&) override { ++arrays; }
  void record(const std::string&, const Value&) override { ++records; }
  std::size_t images = 0, arrays = 0, records = 0;
};

/// tests/fixtures/techniques in the source tree.
std::string technique_fixtures();

}  // namespace vizrun::testing
