// The safetensors reader: good files, every kind of bad header, and a randomized
// mutation fuzz that accepts only success or a vizrun::Error.

#include "catch_torch.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "model_test_util.h"
#include "vizrun/error.h"
#include "vizrun_models/keras_h5_writer.h"
#include "vizrun_models/safetensors.h"
#include "vizrun_models/weights.h"

using namespace vizrun;
using namespace vizrun::models;
using namespace vizrun::models::testing;

namespace {

std::vector<std::uint8_t> image(const std::string& header, std::size_t data_bytes, std::uint64_t length = ~0ull) {
  std::uint64_t n = length == ~0ull ? header.size() : length;
  std::vector<std::uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0);
  return out;
}

std::string parse_error(const std::vector<std::uint8_t>& bytes) {
  try {
    parse_safetensors(bytes.data(), bytes.size());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("safetensors: a good file parses and loads", "[models][safetensors]") {
  auto bytes = image(R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
                     R"("b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},"c":{"dtype":"I64","shape":[],"data_offsets":[32,40]}})",
                     40);
  std::map<std::string, std::string> meta;
  auto tensors = parse_safetensors(bytes.data(), bytes.size(), &meta);
  REQUIRE(tensors.size() == 3);
  CHECK(meta.at("format") == "pt");
  CHECK(tensors[0].name == "a");
  CHECK((tensors[0].shape == std::vector<std::int64_t>{2, 3}));
  CHECK(tensors[2].shape.empty());

  Graph g({3, 8, 8});
  int x = g.conv2d("conv", -1, 2, 3, 3, 1, "same", true, "relu");
  x = g.batch_norm("bn", x, 1e-3);
  x = g.global_avg_pool("gap", x);
  g.dense("fc", x, 2, true);
  std::vector<SafeTensorOut> out;
  for (const auto& p : g.params()) {
    SafeTensorOut t{p.torch_name, p.shape, {}};
    std::int64_t n = 1;
    for (auto d : p.shape) n *= d;
    for (std::int64_t i = 0; i < n; ++i) t.values.push_back(static_cast<float>(i) * 0.5f + 1.0f);
    out.push_back(t);
  }
  out.push_back({"bn.num_batches_tracked", {}, {0.0f}});
  std::string path = temp_dir("st") + "/good.safetensors";
  write_safetensors(path, out);
  CHECK(sniff_weights_format(path) == "safetensors");
  WeightsPlan plan;
  plan.model = "test";
  auto info = load_safetensors(g, path, plan);
  CHECK(info.skipped == std::vector<std::string>{"bn.num_batches_tracked"});
  CHECK(g.params()[0].tensor.flatten()[5].item<float>() == 3.5f);
  CHECK(g.params()[5].tensor.flatten()[1].item<float>() == 1.5f);  // bn.running_var

  // A file missing one tensor, with a wrong shape and an unknown tensor: one error listing all.
  out.erase(out.begin() + 1);            // conv.bias
  out[0].shape = {2, 3, 9};              // conv.weight, same count, wrong shape
  out.push_back({"mystery", {1}, {1.0f}});
  std::string bad = temp_dir("st") + "/bad.safetensors";
  write_safetensors(bad, out);
  try {
    load_safetensors(g, bad, plan);
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK_THAT(m, Catch::Contains("'conv.bias' is not in the file"));
    CHECK_THAT(m, Catch::Contains("'mystery' has no counterpart"));
    CHECK_THAT(m, Catch::Contains("tensor 'conv.weight': the file has shape (2, 3, 9)"));
  }
}

TEST_CASE("safetensors: bad headers are refused with a clear error", "[models][safetensors]") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK(parse_error(image(ok, 8)).empty());
  CHECK_THAT(parse_error({1, 2, 3}), Catch::Contains("shorter than"));
  CHECK_THAT(parse_error(image(ok, 8, 200ull * 1024 * 1024)), Catch::Contains("exceeds the limit"));
  CHECK_THAT(parse_error(image(ok, 8, ok.size() + 100)), Catch::Contains("runs past the end"));
  CHECK_THAT(parse_error(image(ok, 8, ~0ull - 1)), Catch::Contains("exceeds the limit"));
  CHECK_THAT(parse_error(image("[1,2]", 0)), Catch::Contains("does not start with '{'"));
  CHECK_THAT(parse_error(image("{\"a\":", 0)), Catch::Contains("not a valid JSON"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("unknown dtype 'F33'"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8)),
             Catch::Contains("ends at byte 16"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("does not match"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
             Catch::Contains("begin offset after end"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                               12)),
             Catch::Contains("overlap"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("non-negative"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("does not match"));
  CHECK_THAT(parse_error(image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"code":"x"}})", 8)),
             Catch::Contains("unexpected field"));
  CHECK_THAT(parse_error(image(R"({"__metadata__":{"k":1}})", 0)), Catch::Contains("not a string"));
  CHECK_THAT(parse_error(image("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", 0)),
             Catch::Contains("nests deeper"));
  // Through the model: the file is named in the message.
  std::string path = temp_dir("st") + "/overlap.safetensors";
  auto bytes = image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                     12);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  CHECK_THROWS_WITH(create_model("vgg16", Value(Dict{{"include_top", false}}), path),
                    Catch::Contains(path) && Catch::Contains("overlap"));
}

TEST_CASE("safetensors: mutated headers never crash the parser", "[models][safetensors][fuzz]") {
  const std::string base = R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                           R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}})";
  const auto good = image(base, 24);
  std::mt19937 rng(1234);
  const char tokens[] = "{}[]\",:0123456789-eE.tfn \\u";
  int accepted = 0, refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<std::uint8_t> bytes = good;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      if (bytes.size() <= 8) break;
      std::size_t in_header = 8 + rng() % (bytes.size() - 8);
      char token = tokens[rng() % (sizeof tokens - 1)];
      switch (rng() % 7) {
        case 0: bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng()); break;
        case 1: bytes[in_header] = static_cast<std::uint8_t>(token); break;
        case 2: bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(in_header)); break;
        case 3: bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(in_header), static_cast<std::uint8_t>(token)); break;
        case 4: bytes[rng() % 8] = static_cast<std::uint8_t>(rng()); break;
        case 5: bytes.resize(rng() % (bytes.size() + 1)); break;
        case 6: {  // keep the length field consistent with a changed header
          std::uint64_t n = bytes.size() - 8 - rng() % 16;
          for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(n >> (8 * i));
          break;
        }
      }
    }
    try {
      auto tensors = parse_safetensors(bytes.data(), bytes.size());
      // Whatever parses must describe bytes inside the buffer.
      for (const auto& t : tensors) {
        REQUIRE(t.data >= bytes.data());
        REQUIRE(t.data + (t.end - t.begin) <= bytes.data() + bytes.size());
      }
      ++accepted;
    } catch (const Error&) {
      ++refused;
    }
  }
  CHECK(accepted > 0);
  CHECK(refused > 0);
}

TEST_CASE("weights holding NaN or infinity are refused at load, naming the tensor", "[models][weights][hostile]") {
  Graph g({1, 6, 6});
  int x = g.conv2d("conv", -1, 2, 3, 3, 1, "same", true, "relu");
  x = g.global_avg_pool("gap", x);
  g.dense("fc", x, 2, true);
  init_random(g, 3);
  WeightsPlan plan;
  plan.model = "test";
  const std::string dir = temp_dir("nan-weights");

  // Two NaN and one infinity in the dense kernel, through each file format's loader.
  g.params()[2].tensor.flatten()[0] = std::nan("");
  g.params()[2].tensor.flatten()[1] = std::nan("");
  g.params()[2].tensor.flatten()[3] = -INFINITY;
  std::vector<SafeTensorOut> out;
  for (const auto& p : g.params()) {
    const at::Tensor t = p.tensor.contiguous();
    out.push_back({p.torch_name, p.shape, std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())});
  }
  write_safetensors(dir + "/nan.safetensors", out);
  write_keras_h5(g, dir + "/nan.h5");
  for (const std::string file : {dir + "/nan.safetensors", dir + "/nan.h5"}) {
    Graph fresh({1, 6, 6});
    int y = fresh.conv2d("conv", -1, 2, 3, 3, 1, "same", true, "relu");
    y = fresh.global_avg_pool("gap", y);
    fresh.dense("fc", y, 2, true);
    INFO(file);
    CHECK_THROWS_WITH(load_weights(fresh, file, nullptr, 0, plan),
                      "test: '" + file + "': tensor 'fc.weight' (layer fc, kernel) holds 2 NaN and 1 infinite values of 4; "
                      "the weights are damaged, or the training diverged");
  }

  // A second bad tensor is counted; finite weights load.
  g.params()[1].tensor.fill_(INFINITY);
  CHECK_THROWS_WITH(require_finite_weights(g, "f"), Catch::Contains("'conv.bias' (layer conv, bias) holds 0 NaN and 2 infinite") &&
                                                        Catch::Contains("(and 1 more tensors are not finite)"));
  init_random(g, 3);
  CHECK_NOTHROW(require_finite_weights(g, "f"));
}
