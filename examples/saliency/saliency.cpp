// Vanilla-gradient saliency maps (Simonyan, Vedaldi & Zisserman, 2013): how much
// each pixel of the photo moves the class score. An example of a vizrun technique
// plugin written outside the vizrun tree, using only the public SDK.
#include <torch/torch.h>

#include "vizrun/image.h"
#include "vizrun/plugin.h"

namespace {

// The options, as a JSON Schema: vizrun validates them and fills in the defaults
// before the plugin is created, and `vizrun plugins saliency` prints them.
constexpr const char* kSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "required": ["images"],
  "properties": {
    "images": {"type": "array", "items": {"type": "string"}, "minItems": 1,
               "description": "Photos to explain: paths or globs, relative to the experiment file."},
    "class": {"type": "integer", "minimum": -1, "default": -1,
              "description": "Class whose score is differentiated; -1 takes the top prediction."},
    "colormap": {"enum": ["inferno", "magma", "viridis", "jet", "gray"], "default": "inferno",
                 "description": "Colormap of the saliency picture."}
  }
})";

class Saliency final : public vizrun::Technique {
 public:
  explicit Saliency(const vizrun::CreateArgs& args)
      : m_host(*args.host),
        m_class(args.options.at("class").as_int()),
        m_colormap(args.options.at("colormap").as_string()) {
    for (const auto& image : args.options.at("images").as_list()) m_patterns.push_back(image.as_string());
  }

  void run(vizrun::ModelBackend& model, vizrun::Output& out) override {
    if (model.logits_layer().empty()) throw vizrun::Error("saliency: the model has no classifier output");
    const auto files = m_host.expand_inputs(m_patterns);
    const auto spec = model.input_spec();
    const auto classes = model.class_names();
    vizrun::List predictions;
    for (std::size_t i = 0; i < files.size(); ++i) {
      m_host.check_stop();
      // HWC float photo at the model's input size.
      auto photo = vizrun::image::resize(m_host.load_image(files[i]).permute({1, 2, 0}), spec.height, spec.width);
      auto input = model.preprocess(photo.permute({2, 0, 1}).unsqueeze(0).to(model.device())).requires_grad_(true);
      auto logits = model.forward(input, {model.logits_layer()}).at(model.logits_layer());
      const int64_t target = m_class >= 0 ? m_class : logits.argmax(1).item<int64_t>();
      if (target >= logits.size(1)) {
        throw vizrun::Error("saliency: class " + std::to_string(target) + " is out of range (the model has " +
                            std::to_string(logits.size(1)) + " outputs)");
      }
      auto grad = torch::autograd::grad({logits[0][target]}, {input})[0][0];  // {C, H, W}
      auto map = grad.abs().amax(0).cpu();                                    // strongest channel per pixel
      map = map / map.max().clamp_min(1e-12);

      std::string stem = files[i].substr(files[i].find_last_of('/') + 1);
      stem = stem.substr(0, stem.find_last_of('.'));
      const std::string label = target < static_cast<int64_t>(classes.size()) ? classes[target] : std::to_string(target);
      vizrun::Dict meta{{"image", files[i]}, {"class", target}, {"class_name", label}};
      // Photo and map side by side, small pictures enlarged by whole pixels to stay visible.
      auto picture = torch::cat({photo.round().clamp(0, 255).to(torch::kUInt8), vizrun::image::colormap(map, m_colormap)}, 1);
      const int64_t factor = std::max<int64_t>(1, 224 / std::max<int64_t>(1, picture.size(0)));
      out.image(stem + "/saliency", vizrun::image::add_title(vizrun::image::upscale(picture, factor), label), meta);
      out.array(stem + "/saliency", map, meta);
      predictions.push_back(meta);
      m_host.progress("images", i + 1, files.size());
    }
    out.record("explained", predictions);
  }

 private:
  const vizrun::Host& m_host;
  std::vector<std::string> m_patterns;
  int64_t m_class;
  std::string m_colormap;
};

}  // namespace

// The one line that makes this class a plugin.
VIZRUN_PLUGIN(Saliency, "saliency", "1.0.0", "Vanilla-gradient saliency maps (Simonyan et al. 2013)", kSchema)
