// Trains the convnet shipped with vizrun on Fashion-MNIST and writes its weights as
// safetensors. The model is built by the small_convnet backend's own code from
// configs/models/fashion_mnist.yaml, so the weights fit the plugin exactly.
//
//   build/bin/train_fashion_mnist --out examples/fashion_mnist/fashion_mnist.safetensors
//
// Deterministic: the same seed, thread count and LibTorch give the same bytes.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "fashion_mnist.h"
#include "vizrun_host/config.h"
#include "vizrun_host/files.h"
#include "vizrun_host/image_io.h"
#include "vizrun_models/backend.h"
#include "vizrun_models/safetensors.h"
#include "vizrun_models/small_convnet.h"
#include "vizrun_models/weights.h"

namespace {

struct Options {
  std::string data = fashion_mnist::kDefaultDir;
  std::string architecture = "configs/models/fashion_mnist.yaml";
  std::string out = "fashion_mnist.safetensors";
  std::string samples;  // folder: also write a few test images as PNG
  int epochs = 10;
  int batch = 64;
  double learning_rate = 1e-3;
  double lr_decay = 0.8;  // the learning rate is multiplied by this after every epoch
  std::uint64_t seed = 0;
  int threads = 2;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "train_fashion_mnist: %s\nusage: train_fashion_mnist [--data DIR] [--architecture YAML] [--out FILE]\n"
               "       [--epochs N] [--batch N] [--lr X] [--lr-decay X] [--seed N] [--threads N] [--samples DIR]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage("missing value after " + a);
    const std::string v = argv[++i];
    try {
      if (a == "--data") o.data = v;
      else if (a == "--architecture") o.architecture = v;
      else if (a == "--out") o.out = v;
      else if (a == "--samples") o.samples = v;
      else if (a == "--epochs") o.epochs = std::stoi(v);
      else if (a == "--batch") o.batch = std::stoi(v);
      else if (a == "--lr") o.learning_rate = std::stod(v);
      else if (a == "--lr-decay") o.lr_decay = std::stod(v);
      else if (a == "--seed") o.seed = std::stoull(v);
      else if (a == "--threads") o.threads = std::stoi(v);
      else usage("unknown option " + a);
    } catch (const std::logic_error&) {
      usage("bad value for " + a + ": " + v);
    }
  }
  return o;
}

/// Accuracy of `graph` on a split, in batches, without gradients.
double accuracy(const vizrun::models::Graph& graph, const std::string& logits, const at::Tensor& inputs,
                const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  std::int64_t correct = 0;
  for (std::int64_t start = 0; start < inputs.size(0); start += 1000) {
    const auto x = inputs.narrow(0, start, std::min<std::int64_t>(1000, inputs.size(0) - start));
    const auto predicted = graph.forward(x, {logits}).at(logits).argmax(1);
    correct += predicted.eq(labels.narrow(0, start, x.size(0))).sum().item<std::int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(inputs.size(0));
}

/// The first test image of each class, as PNG, for demos.
void write_samples(const fashion_mnist::Split& test, const std::vector<std::string>& class_names,
                   const std::string& folder) {
  for (std::int64_t label = 0; label < static_cast<std::int64_t>(class_names.size()); ++label) {
    const auto first = test.labels.eq(label).nonzero()[0][0].item<std::int64_t>();
    std::string name = class_names[static_cast<std::size_t>(label)];
    for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
    const std::string path = folder + "/" + std::to_string(label) + "_" + name + ".png";
    vizrun::host::write_png(path, test.images[first].unsqueeze(2).contiguous());
    std::printf("sample: %s (test image %lld)\n", path.c_str(), static_cast<long long>(first));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  torch::set_num_threads(o.threads);
  at::globalContext().setDeterministicAlgorithms(true, false);
  torch::manual_seed(o.seed);

  // The model exactly as the small_convnet plugin builds it.
  const vizrun::Value architecture = vizrun::host::read_config_value(o.architecture);
  vizrun::Dict options = architecture.as_dict();
  options["architecture"] = "";
  auto model = vizrun::models::build_small_convnet(options, nullptr);
  vizrun::models::Graph& graph = *model.graph;
  vizrun::models::init_random(graph, o.seed);
  const std::string& logits = model.description.logits_layer;
  const auto prepare = [&](const at::Tensor& images) {
    return vizrun::models::preprocess_rgb255(fashion_mnist::to_rgb255(images), model.description.preprocessing,
                                             model.description.input.channels);
  };

  const auto train = fashion_mnist::load(o.data, "train");
  const auto test = fashion_mnist::load(o.data, "t10k");
  if (!o.samples.empty()) write_samples(test, model.description.class_names, o.samples);
  const at::Tensor train_x = prepare(train.images), test_x = prepare(test.images);

  std::vector<at::Tensor> parameters;
  for (auto& p : graph.params()) {
    if (p.is_buffer) continue;
    p.tensor.requires_grad_(true);
    parameters.push_back(p.tensor);
  }
  torch::optim::Adam optimizer(parameters, torch::optim::AdamOptions(o.learning_rate));
  std::mt19937_64 shuffle(o.seed);
  std::vector<std::int64_t> order(static_cast<std::size_t>(train_x.size(0)));
  std::iota(order.begin(), order.end(), 0);

  const auto start = std::chrono::steady_clock::now();
  double test_accuracy = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    // Fisher-Yates written out: std::shuffle's algorithm differs between libraries.
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle() % i]);
    const auto index = torch::tensor(order, torch::kInt64);
    double loss_sum = 0;
    std::int64_t batches = 0;
    for (std::int64_t b = 0; b < train_x.size(0); b += o.batch) {
      const auto rows = index.narrow(0, b, std::min<std::int64_t>(o.batch, train_x.size(0) - b));
      const auto out = graph.forward(train_x.index_select(0, rows), {logits}).at(logits);
      const auto loss = torch::nn::functional::cross_entropy(out, train.labels.index_select(0, rows));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    test_accuracy = accuracy(graph, logits, test_x, test.labels);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (auto& group : optimizer.param_groups()) {
      auto& adam = static_cast<torch::optim::AdamOptions&>(group.options());
      adam.lr(adam.lr() * o.lr_decay);
    }
    std::printf("epoch %d: train loss %.4f, test accuracy %.4f, %.0f s\n", epoch, loss_sum / batches, test_accuracy,
                seconds);
    std::fflush(stdout);
  }

  std::vector<vizrun::models::SafeTensorOut> tensors;
  for (const auto& p : graph.params()) {
    const auto t = p.tensor.detach().to(torch::kFloat32).contiguous();
    tensors.push_back({p.torch_name, t.sizes().vec(), std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel())});
  }
  vizrun::models::write_safetensors(o.out, tensors);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %s: test accuracy %.4f, %.0f s training, sha256 %s\n", o.out.c_str(), test_accuracy, seconds,
              vizrun::host::sha256_file(o.out).c_str());
  return 0;
}
