// A test-only technique that exercises every host service: inputs, images, arrays,
// records, progress and cooperative stopping. For each image and layer it saves the
// channel-mean map as a picture and the activation as .npy.
#include <torch/torch.h>

#include <chrono>
#include <thread>

#include "vizrun/plugin.h"

namespace {

constexpr const char* kSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "images": {"type": "array", "items": {"type": "string"}, "default": [], "description": "Input images (paths or globs)."},
    "noise_images": {"type": "integer", "minimum": 0, "default": 1, "description": "Random images to add (seeded)."},
    "layers": {"type": "array", "items": {"type": "string"}, "default": ["conv1", "conv2"], "description": "Layers to look at."},
    "sleep_ms": {"type": "integer", "minimum": 0, "default": 0, "description": "Pause per item, to test interruption."},
    "fail": {"type": "boolean", "default": false, "description": "Throw an error, to test failure handling."}
  }
})";

class LayerMeans final : public vizrun::Technique {
 public:
  explicit LayerMeans(const vizrun::CreateArgs& args) : m_args(args) {}

  void run(vizrun::ModelBackend& model, vizrun::Output& out) override {
    const auto& o = m_args.options;
    if (o.at("fail").as_bool()) throw vizrun::Error("layer_means: failing as asked");
    const auto spec = model.input_spec();
    std::vector<torch::Tensor> inputs;
    std::vector<std::string> patterns;
    for (const auto& p : o.at("images").as_list()) patterns.push_back(p.as_string());
    if (!patterns.empty()) {
      for (const auto& file : m_args.host->expand_inputs(patterns)) {
        auto img = m_args.host->load_image(file).unsqueeze(0);
        inputs.push_back(torch::nn::functional::interpolate(
            img, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{spec.height, spec.width}).mode(torch::kNearest)));
      }
    }
    for (int64_t i = 0; i < o.at("noise_images").as_int(); ++i) {
      inputs.push_back(torch::rand({1, 3, spec.height, spec.width}) * 255);
    }
    std::vector<std::string> layers;
    for (const auto& l : o.at("layers").as_list()) layers.push_back(l.as_string());

    const std::size_t total = inputs.size() * layers.size();
    std::size_t done = 0;
    vizrun::Dict means;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      torch::NoGradGuard no_grad;
      auto acts = model.forward(model.preprocess(inputs[i].to(model.device())), layers);
      for (const auto& layer : layers) {
        m_args.host->check_stop();
        if (int64_t ms = o.at("sleep_ms").as_int()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        auto a = acts.at(layer).to(torch::kCPU)[0];
        auto mean_map = a.mean(0);
        auto lo = mean_map.min(), hi = mean_map.max();
        auto picture = ((mean_map - lo) / (hi - lo + 1e-6) * 255).round().to(torch::kUInt8).unsqueeze(2).contiguous();
        const std::string stem = "image" + std::to_string(i) + "/" + layer;
        out.image(stem, picture, {{"layer", layer}, {"image", static_cast<int64_t>(i)}});
        out.array(stem, a.contiguous(), {{"layer", layer}});
        means[stem] = a.mean().item<double>();
        m_args.host->progress(layer, ++done, total);
      }
    }
    out.record("means", means);
  }

 private:
  vizrun::CreateArgs m_args;
};

}  // namespace

VIZRUN_PLUGIN(LayerMeans, "layer_means", "1.0.0", "Test-only: channel-mean maps of chosen layers", kSchema)
