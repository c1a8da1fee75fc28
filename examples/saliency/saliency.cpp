// Vanilla-gradient saliency (Simonyan, Vedaldi & Zisserman, 2013): how much each pixel
// of a photo moves the class score. A technique plugin built outside vizrun against the
// installed SDK: its mathematics and its schema, the kit does the rest.
#include <torch/torch.h>

#include "vizrun/kit.h"

// The options. vizrun validates them, fills in the defaults and prints them for `vizrun plugins saliency`.
constexpr const char* kSchema = R"({"type": "object", "additionalProperties": false, "required": ["images"], "properties": {
  "images": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Photos: paths, globs or folders."},
  "class": {"type": "integer", "minimum": -1, "default": -1, "description": "Class to explain; -1: the top prediction."},
  "colormap": {"enum": ["inferno", "magma", "viridis", "jet", "gray"], "default": "inferno", "description": "Colours of the map."}}})";

class Saliency final : public vizrun::TechniqueBase {
 public:
  using TechniqueBase::TechniqueBase;

  void run(vizrun::ModelBackend& model, vizrun::Output& out) override {
    const auto spec = model.input_spec();
    vizrun::List explained;
    for_each_batch(input_paths(), {spec.height, spec.width}, [&](const vizrun::kit::PhotoBatch& photos) {
      auto input = model.preprocess(photos.pixels).requires_grad_(true);
      auto logits = model.forward(input, {model.logits_layer()}).at(model.logits_layer())[0];
      const int64_t target = vizrun::kit::target_class(logits, options().integer("class"));
      auto grad = torch::autograd::grad({logits[target]}, {input})[0][0];  // {C, H, W}
      auto map = grad.abs().amax(0).cpu();                                 // strongest channel per pixel
      map = map / map.max().clamp_min(1e-12);
      const auto label = vizrun::kit::class_label(model, target);
      const vizrun::Dict meta{{"image", photos.paths[0]}, {"class", target}, {"class_name", label}};
      auto photo = photos.pixels[0].permute({1, 2, 0}).round().clamp(0, 255).to(torch::kUInt8).cpu();
      auto picture = torch::cat({photo, vizrun::image::colormap(map, options().string("colormap"))}, 1);
      out.image(photos.stem(0) + "/saliency", vizrun::image::add_title(vizrun::kit::enlarge_to(picture, 224), label), meta);
      out.array(photos.stem(0) + "/saliency", map, meta);
      explained.push_back(meta);
    });
    out.record("explained", explained);
  }
};

VIZRUN_PLUGIN(Saliency, "saliency", "1.0.0", "Vanilla-gradient saliency maps (Simonyan et al. 2013)", kSchema)
