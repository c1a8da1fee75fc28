// The demo model shipped with vizrun: it must have learned (test accuracy >= 90%),
// its Grad-CAM explanations must depend on what it learned (Adebayo et al. 2018),
// and the demo experiment must run end to end.
#include "catch.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>
#include <string>

#include "fashion_mnist.h"
#include "test_support.h"
#include "vizrun_host/files.h"

namespace fs = std::filesystem;
using namespace vizrun;

namespace {

const std::string kSource = VIZRUN_SOURCE_DIR;

std::shared_ptr<ModelBackend> demo_model(const testing::TestHost& host, const std::string& weights) {
  CreateArgs args;
  args.options = testing::with_defaults("small_convnet", Dict{{"architecture", "models/fashion_mnist.yaml"}});
  args.host = &host;
  args.weights = weights;
  args.seed = 1;
  return testing::registry().create_model("small_convnet", args);
}

/// Ranks with ties averaged (for Spearman's correlation).
torch::Tensor ranks(const torch::Tensor& values) {
  auto v = values.flatten().to(torch::kFloat64);
  auto order = v.argsort();
  auto r = torch::empty_like(v);
  auto sorted = v.index_select(0, order);
  const int64_t n = v.numel();
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j + 1 < n && sorted[j + 1].item<double>() == sorted[i].item<double>()) ++j;
    const double average = (static_cast<double>(i) + static_cast<double>(j)) / 2.0;
    for (int64_t k = i; k <= j; ++k) r[order[k].item<int64_t>()] = average;
    i = j + 1;
  }
  return r;
}

double spearman(const torch::Tensor& a, const torch::Tensor& b) {
  auto ra = ranks(a), rb = ranks(b);
  ra = ra - ra.mean();
  rb = rb - rb.mean();
  const double denominator = (ra.norm() * rb.norm()).item<double>();
  return denominator == 0 ? 0.0 : (ra * rb).sum().item<double>() / denominator;
}

}  // namespace

TEST_CASE("the committed demo weights reach at least 90% test accuracy", "[demo][accuracy]") {
  if (!fs::exists(std::string(fashion_mnist::kDefaultDir) + "/t10k-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): accuracy not checked");
    return;
  }
  testing::TestHost host(kSource + "/configs");
  auto model = demo_model(host, "../examples/fashion_mnist/fashion_mnist.safetensors");
  const auto test = fashion_mnist::load(fashion_mnist::kDefaultDir, "t10k");
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t start = 0; start < test.images.size(0); start += 1000) {
    const auto images = test.images.narrow(0, start, 1000);
    const auto logits = model->forward(model->preprocess(fashion_mnist::to_rgb255(images)), {model->logits_layer()});
    correct += logits.at(model->logits_layer()).argmax(1).eq(test.labels.narrow(0, start, 1000)).sum().item<int64_t>();
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(test.images.size(0));
  INFO("test accuracy " << accuracy);
  CHECK(accuracy >= 0.90);
  CHECK(model->class_names().at(9) == "Ankle boot");
}

TEST_CASE("Grad-CAM passes the model-parameter randomisation sanity check", "[demo][sanity]") {
  // Adebayo et al. (2018): explanations of a trained model and of the same
  // architecture with re-initialised weights must differ clearly.
  testing::TestHost host(kSource + "/configs");
  auto trained = demo_model(host, "../examples/fashion_mnist/fashion_mnist.safetensors");
  auto random = demo_model(host, "random");
  const auto files = host.expand_inputs({"../data/fashion_mnist/*.png"});
  REQUIRE(files.size() == 10);
  double total = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    // The true class of each sample is the number its file name starts with.
    const int64_t label = std::stoll(fs::path(files[i]).filename().string().substr(0, 1));
    std::vector<torch::Tensor> maps;
    for (auto* model : {trained.get(), random.get()}) {
      CreateArgs args;
      args.host = &host;
      args.options = testing::with_defaults("gradcam", Dict{{"images", List{files[i]}}, {"classes", List{label}}});
      testing::MemoryOutput out;
      testing::registry().create_technique("gradcam", args)->run(*model, out);
      REQUIRE(out.arrays.size() == 1);
      maps.push_back(out.arrays[0].data);
    }
    const double rho = spearman(maps[0], maps[1]);
    INFO(files[i] << ": Spearman " << rho);
    total += rho;
  }
  const double mean = total / static_cast<double>(files.size());
  INFO("mean rank correlation, trained vs randomised: " << mean);
  CHECK(mean < 0.5);
}

TEST_CASE("the demo experiment runs end to end offline", "[demo][e2e]") {
  const std::string out = testing::temp_dir("demo") + "/run";
  const std::string command = std::string(VIZRUN_BINARY) + " --out " + out + " -q";
  REQUIRE(std::system(command.c_str()) == 0);
  const auto manifest = nlohmann::json::parse(host::read_file(out + "/manifest.json"));
  CHECK(manifest["status"] == "complete");
  CHECK(manifest["experiment"] == "demo");
  // activations, filters, gradcam, cam methods, attribution, class models
  REQUIRE(manifest["techniques"].size() == 6);
  std::set<std::string> judged;  // methods whose maps carry faithfulness metrics
  for (const auto& t : manifest["techniques"]) {
    CHECK(t["status"] == "complete");
    CHECK(t["outputs"].size() > 0);
    if (t["records"].contains("metrics"))
      for (const auto& e : t["records"]["metrics"]) judged.insert(e["method"].get<std::string>());
  }
  CHECK(judged.size() >= 3);
  CHECK(judged.count("scorecam") == 1);
  CHECK(judged.count("integrated_gradients") == 1);
  const std::string page = host::read_file(out + "/index.html");
  CHECK(page.find("Comparison") != std::string::npos);
  CHECK(page.find("Faithfulness metrics") != std::string::npos);
  CHECK(page.find("integrated_gradients") != std::string::npos);
  // Filter patterns of every filter of every convolution: 16 + 32 + 64.
  CHECK(manifest["techniques"][1]["records"]["final_losses"].size() == 3);
}
