#include "vizrun_models/weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include "vizrun/error.h"
#include "vizrun_models/download.h"
#include "vizrun_models/hashing.h"
#include "vizrun_models/keras_h5.h"
#include "vizrun_models/safetensors.h"

namespace fs = std::filesystem;

namespace vizrun::models {

namespace {

/// The stored Keras shape of a parameter given its LibTorch shape.
Shape keras_shape(const ParamSpec& p) {
  if (p.shape.size() == 4) return {p.shape[2], p.shape[3], p.shape[1], p.shape[0]};
  if (p.shape.size() == 2) return {p.shape[1], p.shape[0]};
  return p.shape;
}

std::int64_t numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Error load_error(const std::string& path, const std::string& model, const std::vector<std::string>& problems) {
  // One line (a shape mismatch in every layer of a big model would fill the screen):
  // the first few problems, then how many more.
  constexpr std::size_t kShown = 6;
  std::string msg = "cannot load '" + path + "' into " + model + ": " + std::to_string(problems.size()) +
                    (problems.size() == 1 ? " problem: " : " problems: ");
  for (std::size_t i = 0; i < problems.size() && i < kShown; ++i) msg += (i ? "; " : "") + problems[i];
  if (problems.size() > kShown) msg += "; and " + std::to_string(problems.size() - kShown) + " more";
  return Error(msg);
}

std::string layer_of(const std::string& tensor_name) {
  auto dot = tensor_name.find('.');
  return dot == std::string::npos ? tensor_name : tensor_name.substr(0, dot);
}

std::string default_cache_dir() {
  if (const char* v = std::getenv("VIZRUN_CACHE"); v && *v) return v;
  if (const char* v = std::getenv("XDG_CACHE_HOME"); v && *v) return std::string(v) + "/vizrun";
  if (const char* v = std::getenv("HOME"); v && *v) return std::string(v) + "/.cache/vizrun";
  return "/tmp/vizrun-cache";
}

}  // namespace

std::string sniff_weights_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[9] = {0};
  in.read(reinterpret_cast<char*>(head), 9);
  if (in.gcount() >= 8 && std::memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0) return "hdf5";
  if (in.gcount() == 9 && head[8] == '{') return "safetensors";
  // HDF5 files may start with a user block (512, 1024, ... bytes).
  for (std::streamoff off = 512; off <= (1 << 20); off *= 2) {
    in.clear();
    in.seekg(off);
    char sig[8] = {0};
    in.read(sig, 8);
    if (in.gcount() < 8) break;
    if (std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0) return "hdf5";
  }
  return "";
}

void init_random(Graph& graph, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& p : graph.params()) {
    at::Tensor& t = p.tensor;
    const std::string& v = p.keras_var;
    // kernel, depthwise_kernel, pointwise_kernel; variance is Normalization's.
    if (v.size() >= 6 && v.compare(v.size() - 6, 6, "kernel") == 0) {
      double fan_in = static_cast<double>(numel(p.shape) / p.shape[0]);
      t.normal_(0.0, std::sqrt(2.0 / fan_in), gen);
    } else if (v == "gamma" || v == "moving_variance" || v == "variance") {
      t.fill_(1.0);
    } else {
      t.zero_();
    }
  }
}

WeightsInfo load_keras_h5(Graph& graph, const std::string& path, const WeightsPlan& plan, const Host* host) {
  // Keras 3 `.weights.h5` too: its layers are found by the name Keras records on
  // each `vars` group, their tensors by position, as in the legacy layout.
  KerasH5 file(path, /*allow_keras3=*/true);
  auto& params = graph.params();
  const auto& nodes = graph.nodes();

  std::vector<int> model_layers;  // weighted nodes in order
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (!nodes[i].params.empty()) model_layers.push_back(static_cast<int>(i));
  std::vector<std::size_t> file_layers;
  for (std::size_t i = 0; i < file.layers().size(); ++i)
    if (!file.layers()[i].weights.empty()) file_layers.push_back(i);

  WeightsInfo info;
  std::vector<std::pair<std::size_t, int>> pairs;  // file layer -> model node
  std::vector<std::string> unknown, missing;
  std::vector<char> filled(nodes.size(), 0);
  for (std::size_t fi : file_layers) {
    const H5Layer& L = file.layers()[fi];
    auto alias = plan.layer_aliases.find(L.keras_name);
    std::string name = alias == plan.layer_aliases.end() ? L.keras_name : alias->second;
    int node = graph.find(name);
    if (node >= 0 && !nodes[node].params.empty() && !filled[node]) {
      pairs.emplace_back(fi, node);
      filled[node] = 1;
    } else if (plan.optional_layers.count(L.keras_name) || plan.optional_layers.count(name)) {
      for (const auto& w : L.weights) info.skipped.push_back(L.keras_name + "/" + w.name);
    } else {
      unknown.push_back(L.keras_name);
    }
  }
  for (int n : model_layers)
    if (!filled[n]) missing.push_back(nodes[n].name);

  if ((!unknown.empty() || !missing.empty()) && plan.allow_topological &&
      file_layers.size() == model_layers.size()) {
    // Keras' default: the i-th weighted layer of the file feeds the i-th weighted layer of the model.
    pairs.clear();
    info.skipped.clear();
    for (std::size_t k = 0; k < file_layers.size(); ++k) pairs.emplace_back(file_layers[k], model_layers[k]);
    if (host)
      host->log(LogLevel::info, plan.model + ": layer names in '" + path +
                                    "' differ from the model's; matched the " + std::to_string(pairs.size()) +
                                    " weighted layers by order, as Keras does");
    unknown.clear();
    missing.clear();
  }

  std::vector<std::string> problems;
  for (const auto& u : unknown)
    problems.push_back("the file's layer '" + u + "' has no counterpart in the model");
  for (const auto& m : missing) problems.push_back("the model's layer '" + m + "' has no weights in the file");
  for (const auto& [fi, node] : pairs) {
    const H5Layer& L = file.layers()[fi];
    const Node& N = nodes[node];
    if (L.weights.size() != N.params.size()) {
      std::vector<std::string> want;
      for (int p : N.params) want.push_back(params[p].keras_var);
      std::vector<std::string> have;
      for (const auto& w : L.weights) have.push_back(w.name);
      problems.push_back("layer '" + N.name + "': the file has " + std::to_string(L.weights.size()) + " tensors (" +
                         join(have) + "), the model expects " + std::to_string(N.params.size()) + " (" + join(want) +
                         ")");
      continue;
    }
    for (std::size_t k = 0; k < L.weights.size(); ++k) {
      Shape want = keras_shape(params[N.params[k]]);
      if (L.weights[k].shape != want)
        problems.push_back("layer '" + N.name + "' " + params[N.params[k]].keras_var + " ('" + L.weights[k].name +
                           "'): the file has shape " + shape_string(L.weights[k].shape) + ", the model expects " +
                           shape_string(want));
    }
  }
  if (!problems.empty()) throw load_error(path, plan.model, problems);

  torch::NoGradGuard no_grad;
  constexpr std::int64_t kChunkBytes = 16 << 20;
  std::size_t done = 0;
  for (const auto& [fi, node] : pairs) {
    const Node& N = nodes[node];
    for (std::size_t k = 0; k < N.params.size(); ++k) {
      ParamSpec& p = params[N.params[k]];
      Shape ks = keras_shape(p);
      if (p.shape.size() == 4) {
        at::Tensor tmp = torch::empty(ks, torch::kFloat32);
        file.read(fi, k, tmp.data_ptr<float>());
        p.tensor.copy_(tmp.permute({3, 2, 0, 1}));
      } else if (p.shape.size() == 2) {
        // Dense kernel (in, out) -> weight (out, in), read in row blocks so that a
        // 400 MB kernel never needs a second full-size buffer.
        std::int64_t in = ks[0], out = ks[1];
        std::int64_t rows_per_chunk = std::max<std::int64_t>(1, kChunkBytes / (out * 4));
        const Shape& chw = p.flattened_from;
        for (std::int64_t r0 = 0; r0 < in; r0 += rows_per_chunk) {
          std::int64_t n = std::min(rows_per_chunk, in - r0);
          at::Tensor tmp = torch::empty({n, out}, torch::kFloat32);
          file.read(fi, k, tmp.data_ptr<float>(), r0, n);
          if (chw.size() == 3 && chw[1] * chw[2] > 1 && chw[0] > 1) {
            // Keras row (h*W + w)*C + c  ->  LibTorch column c*H*W + h*W + w.
            std::int64_t C = chw[0], H = chw[1], W = chw[2];
            at::Tensor cols = torch::empty({n}, torch::kInt64);
            auto* c = cols.data_ptr<std::int64_t>();
            for (std::int64_t r = 0; r < n; ++r) {
              std::int64_t row = r0 + r, ch = row % C, hw = row / C;
              c[r] = ch * H * W + hw;
            }
            p.tensor.index_copy_(1, cols, tmp.t());
          } else {
            p.tensor.narrow(1, r0, n).copy_(tmp.t());
          }
        }
      } else {
        file.read(fi, k, p.tensor.data_ptr<float>());
      }
    }
    if (host) host->progress(plan.model + ": loading weights", ++done, pairs.size());
  }
  return info;
}

WeightsInfo load_safetensors(Graph& graph, const std::string& path, const WeightsPlan& plan, const Host* host) {
  SafetensorsFile file(path);
  auto& params = graph.params();
  std::map<std::string, int> by_name;
  for (std::size_t i = 0; i < params.size(); ++i) by_name[params[i].torch_name] = static_cast<int>(i);

  WeightsInfo info;
  std::vector<std::string> problems;
  std::vector<std::pair<const SafeTensor*, int>> pairs;
  std::vector<char> filled(params.size(), 0);
  for (const auto& t : file.tensors()) {
    auto alias = plan.tensor_aliases.find(t.name);
    std::string name = alias == plan.tensor_aliases.end() ? t.name : alias->second;
    auto it = by_name.find(name);
    if (it != by_name.end()) {
      if (filled[it->second]) {
        problems.push_back("tensor '" + t.name + "' fills '" + name + "', which another tensor already filled");
        continue;
      }
      filled[it->second] = 1;
      pairs.emplace_back(&t, it->second);
    } else if (t.name.size() >= 19 && t.name.compare(t.name.size() - 19, 19, "num_batches_tracked") == 0) {
      info.skipped.push_back(t.name);  // PyTorch bookkeeping, no values
    } else if (plan.optional_layers.count(layer_of(name))) {
      info.skipped.push_back(t.name);
    } else {
      problems.push_back("the file's tensor '" + t.name + "' has no counterpart in the model");
    }
  }
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!filled[i]) problems.push_back("the model's tensor '" + params[i].torch_name + "' is not in the file");
  for (const auto& [t, i] : pairs) {
    if (t->shape != params[i].shape)
      problems.push_back("tensor '" + t->name + "': the file has shape " + shape_string(t->shape) +
                         ", the model expects " + shape_string(params[i].shape));
    if (t->dtype != "F32" && t->dtype != "F16" && t->dtype != "BF16" && t->dtype != "F64")
      problems.push_back("tensor '" + t->name + "' has dtype " + t->dtype + "; expected F32, F16, BF16 or F64");
  }
  if (!problems.empty()) throw load_error(path, plan.model, problems);

  torch::NoGradGuard no_grad;
  std::size_t done = 0;
  for (const auto& [t, i] : pairs) {
    auto dtype = t->dtype == "F32" ? torch::kFloat32
                 : t->dtype == "F16" ? torch::kFloat16
                 : t->dtype == "BF16" ? torch::kBFloat16
                                      : torch::kFloat64;
    std::size_t item = safetensors_dtype_size(t->dtype);
    at::Tensor src;
    if (reinterpret_cast<std::uintptr_t>(t->data) % item == 0) {
      src = torch::from_blob(const_cast<std::uint8_t*>(t->data), t->shape, torch::TensorOptions().dtype(dtype));
    } else {
      src = torch::empty(t->shape, torch::TensorOptions().dtype(dtype));
      std::memcpy(src.data_ptr(), t->data, t->end - t->begin);
    }
    params[i].tensor.copy_(src);
    if (host && (++done % 8 == 0 || done == pairs.size()))
      host->progress(plan.model + ": loading weights", done, pairs.size());
  }
  return info;
}

void require_finite_weights(const Graph& graph, const std::string& origin) {
  std::size_t bad_tensors = 0;
  std::string first;
  for (const auto& p : graph.params()) {
    const at::Tensor t = p.tensor;
    if (!t.defined() || !t.is_floating_point() || t.isfinite().all().item<bool>()) continue;
    if (bad_tensors++ == 0) {
      const std::int64_t nan = t.isnan().sum().item<std::int64_t>();
      first = "tensor '" + p.torch_name + "' (layer " + p.layer + ", " + p.keras_var + ") holds " + std::to_string(nan) +
              " NaN and " + std::to_string(t.numel() - nan - t.isfinite().sum().item<std::int64_t>()) +
              " infinite values of " + std::to_string(t.numel());
    }
  }
  if (bad_tensors == 0) return;
  throw Error(origin + ": " + first +
              (bad_tensors > 1 ? " (and " + std::to_string(bad_tensors - 1) + " more tensors are not finite)" : "") +
              "; the weights are damaged, or the training diverged");
}

WeightsInfo load_weights(Graph& graph, const std::string& source, const Host* host, std::uint64_t seed,
                         const WeightsPlan& plan) {
  std::string src = source.empty() ? plan.default_source : source;
  WeightsInfo info;
  if (src == "random") {
    init_random(graph, seed);
    info.source = "random";
    return info;
  }
  if (src == "imagenet") {
    if (!plan.imagenet)
      throw Error(plan.model + " has no published ImageNet weights; use weights: random or a path to a .h5 or .safetensors file");
    std::string cache = host ? host->cache_dir() : default_cache_dir();
    DownloadRequest req;
    req.url = weights_base_url() + "/" + plan.imagenet->subdir + "/" + plan.imagenet->file;
    req.destination = (fs::path(cache) / "models" / plan.imagenet->file).string();
    req.md5 = plan.imagenet->md5;
    req.what = plan.model + " ImageNet weights";
    DownloadResult r = download_file(req, host);
    info = load_keras_h5(graph, r.path, plan, host);
    require_finite_weights(graph, plan.model + ": '" + r.path + "'");
    info.source = "imagenet";
    info.file = r.path;
    info.sha256 = r.sha256;
    return info;
  }
  std::string path = host ? host->resolve_path(src) : src;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw Error(plan.model + ": weights file '" + src + "'" + (path != src ? " (resolved to '" + path + "')" : "") +
                " does not exist; model.weights takes 'random', 'imagenet' or the path of a Keras .h5 or a .safetensors file");
  std::string format = sniff_weights_format(path);
  if (format != "hdf5" && format != "safetensors")
    throw Error(plan.model + ": '" + path + "' is neither an HDF5 (Keras .h5) nor a safetensors file");
  // The manifest's SHA-256 is computed on another core while the file loads.
  auto sha256 = std::async(std::launch::async, [path] { return sha256_file(path); });
  if (format == "hdf5") info = load_keras_h5(graph, path, plan, host);
  else info = load_safetensors(graph, path, plan, host);
  require_finite_weights(graph, plan.model + ": '" + path + "'");
  info.source = src;
  info.file = path;
  info.sha256 = sha256.get();
  return info;
}

}  // namespace vizrun::models
