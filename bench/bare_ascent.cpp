// The bare limit: the same batched filter ascent as vizrun's filter_ascent (gray-noise
// start, batch of pictures each watching its own filter, loss = sum of per-picture map
// means, input gradient, RMS normalisation, step) in a tight LibTorch loop, with no
// framework around it: hand-written functional VGG16 / ResNet50V2 (to
// conv3_block4_out), random He-normal weights, channels-last, all cores.
// Prints one JSON line per layer: seconds (first batch included, as vizrun's), rate.
//   bare_ascent --model vgg16 --size 128 --layers block1_conv2,block5_conv3
//               --filters 16 --steps 10 --batch 8 [--bf16] [--gather] [--threads N]
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace {

const auto kCL = at::MemoryFormat::ChannelsLast;

at::Tensor he(std::int64_t o, std::int64_t i, std::int64_t k) {
  return (torch::randn({o, i, k, k}) * std::sqrt(2.0 / double(i * k * k))).contiguous(kCL);
}

struct Conv {
  at::Tensor w, b;
  std::int64_t stride = 1, pad = 0;
  at::Tensor operator()(const at::Tensor& x) const { return at::conv2d(x, w, b, {stride, stride}, {pad, pad}); }
  // Only filters `f` (one per picture): {N, N, H, W} block, diagonal kept -> {N, H, W}.
  at::Tensor picked(const at::Tensor& x, const at::Tensor& f) const {
    at::Tensor wf = w.index_select(0, f).contiguous(kCL);
    at::Tensor bf = b.defined() ? b.index_select(0, f) : at::Tensor();
    return at::conv2d(x, wf, bf, {stride, stride}, {pad, pad}).diagonal(0, 0, 1).permute({2, 0, 1});
  }
};

// VGG16: 13 convolutions (3x3, same, ReLU), max-pool after blocks.
struct Vgg16 {
  std::vector<std::pair<std::string, Conv>> convs;
  Vgg16() {
    const int blocks[5][2] = {{2, 64}, {2, 128}, {3, 256}, {3, 512}, {3, 512}};
    std::int64_t cin = 3;
    for (int b = 0; b < 5; ++b)
      for (int c = 1; c <= blocks[b][0]; ++c) {
        convs.push_back({"block" + std::to_string(b + 1) + "_conv" + std::to_string(c),
                         Conv{he(blocks[b][1], cin, 3), torch::zeros({blocks[b][1]}), 1, 1}});
        cin = blocks[b][1];
      }
  }
  // {N, H, W}: map of filter f[b] of `layer` for picture b.
  at::Tensor maps(at::Tensor x, const std::string& layer, const at::Tensor& f, bool gather) const {
    for (std::size_t i = 0; i < convs.size(); ++i) {
      const auto& [name, conv] = convs[i];
      if (name == layer) {
        if (gather) return at::relu(conv(x)).index({at::arange(x.size(0)), f});
        return at::relu(conv.picked(x, f));
      }
      x = at::relu(conv(x));
      if (i + 1 < convs.size() && name.substr(0, 6) != convs[i + 1].first.substr(0, 6))
        x = at::max_pool2d(x, {2, 2}, {2, 2});
    }
    throw std::runtime_error("no layer " + layer);
  }
};

at::Tensor bn(const at::Tensor& x) {  // inference BatchNorm with the random init's statistics
  const std::int64_t c = x.size(1);
  static std::map<std::int64_t, std::vector<at::Tensor>> p;
  auto& v = p[c];
  if (v.empty()) v = {torch::ones({c}), torch::zeros({c}), torch::zeros({c}), torch::ones({c})};
  return at::batch_norm(x, v[0], v[1], v[2], v[3], false, 0.0, 1.001e-5, true);
}

// ResNet50V2 up to conv3_block4_out (pre-activation bottlenecks, stride in each stack's last block).
struct ResNet50V2 {
  Conv conv1{he(64, 3, 7), torch::zeros({64}), 2, 0};
  struct Block {
    Conv shortcut, c1, c2, c3;
    std::int64_t stride;
    bool conv_shortcut;
  };
  std::vector<Block> blocks;
  ResNet50V2() {
    std::int64_t cin = 64;
    for (auto [f, n] : {std::pair<std::int64_t, int>{64, 3}, {128, 4}})
      for (int i = 0; i < n; ++i) {
        const std::int64_t s = i == n - 1 ? 2 : 1;
        blocks.push_back({Conv{he(4 * f, cin, 1), torch::zeros({4 * f}), s, 0}, Conv{he(f, cin, 1), {}, 1, 0},
                          Conv{he(f, f, 3), {}, s, 0}, Conv{he(4 * f, f, 1), torch::zeros({4 * f}), 1, 0}, s, i == 0});
        cin = 4 * f;
      }
  }
  at::Tensor maps(at::Tensor x, const at::Tensor& f) const {
    x = conv1(at::constant_pad_nd(x, {3, 3, 3, 3}, 0.0));
    x = at::max_pool2d(at::constant_pad_nd(x, {1, 1, 1, 1}, 0.0), {3, 3}, {2, 2});
    for (const auto& b : blocks) {
      at::Tensor p = at::relu(bn(x));
      at::Tensor s = b.conv_shortcut ? b.shortcut(p) : b.stride > 1 ? at::max_pool2d(x, {1, 1}, {b.stride, b.stride}) : x;
      at::Tensor y = at::relu(bn(b.c1(p)));
      y = at::relu(bn(b.c2(at::constant_pad_nd(y, {1, 1, 1, 1}, 0.0))));
      x = s + b.c3(y);
    }
    return x.index({at::arange(x.size(0)), f});  // conv3_block4_out is an add: gathered
  }
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(t);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> o{{"--model", "vgg16"}, {"--size", "128"}, {"--layers", "block1_conv2"},
                                       {"--filters", "16"},  {"--steps", "10"},  {"--batch", "8"},
                                       {"--threads", std::to_string(std::thread::hardware_concurrency())}};
  bool bf16 = false, gather = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--bf16") bf16 = true;
    else if (k == "--gather") gather = true;
    else if (i + 1 < argc) o[k] = argv[++i];
  }
  torch::set_num_threads(std::stoi(o["--threads"]));
  torch::manual_seed(0);
  const std::int64_t size = std::stoll(o["--size"]), filters = std::stoll(o["--filters"]),
                     steps = std::stoll(o["--steps"]), batch = std::stoll(o["--batch"]);
  const bool vgg = o["--model"] == "vgg16";
  Vgg16 v;
  std::unique_ptr<ResNet50V2> r;
  if (!vgg) r = std::make_unique<ResNet50V2>();
  if (bf16) {  // weights rounded once, as vizrun's graph keeps them (autocast would redo it every call)
    auto round = [](Conv& c) {
      c.w = c.w.to(at::kBFloat16);
      if (c.b.defined()) c.b = c.b.to(at::kBFloat16);
    };
    for (auto& named : v.convs) round(named.second);
    if (r) {
      round(r->conv1);
      for (auto& b : r->blocks)
        for (Conv* c : {&b.shortcut, &b.c1, &b.c2, &b.c3}) round(*c);
    }
  }
  const auto mean = torch::tensor({103.939f, 116.779f, 123.68f}).view({1, 3, 1, 1});
  torch::NoGradGuard no_grad;
  for (const auto& layer : split(o["--layers"])) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t first = 0; first < filters; first += batch) {
      const std::int64_t n = std::min(batch, filters - first);
      at::Tensor pix = torch::rand({n, 3, size, size}) * 20 + 128;
      at::Tensor x = (vgg ? pix.flip(1) - mean : pix / 127.5 - 1.0).contiguous(kCL);
      x.requires_grad_(true);
      const at::Tensor f = torch::arange(first, first + n, torch::kLong);
      for (std::int64_t s = 0; s < steps; ++s) {
        at::Tensor g;
        {
          torch::AutoGradMode on(true);
          at::autocast::set_cpu_enabled(bf16);
          at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
          at::Tensor m = vgg ? v.maps(x, layer, f, gather) : r->maps(x, f);
          at::autocast::set_cpu_enabled(false);
          at::autocast::clear_cache();
          g = torch::autograd::grad({m.to(at::kFloat).mean({1, 2}).sum()}, {x})[0].to(at::kFloat);
        }
        x.add_(g / (g.pow(2).mean({1, 2, 3}, true).sqrt() + 1e-5));
      }
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("{\"layer\": \"%s\", \"seconds\": %.4f, \"image_steps\": %lld, \"rate\": %.3f, \"threads\": %d}\n",
                layer.c_str(), sec, static_cast<long long>(filters * steps), double(filters * steps) / sec,
                torch::get_num_threads());
    std::fflush(stdout);
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  std::printf("{\"peak_rss_mb\": %.1f}\n", u.ru_maxrss / 1024.0);
}
