#include "technique.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>
#include <cstdio>
#include <set>

#include "vizrun/image.h"

namespace vizrun::techniques {

namespace {

std::vector<double> numbers(const Value& v) {
  std::vector<double> out;
  for (const auto& x : v.as_list()) out.push_back(x.as_double());
  return out;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool is_class_term(fv::Term::Kind k) {
  return k == fv::Term::Kind::class_logit || k == fv::Term::Kind::class_probability;
}
bool takes_channel(fv::Term::Kind k) { return k == fv::Term::Kind::channel || k == fv::Term::Kind::neuron; }

/// The layers a model runs at h x w, by name.
std::map<std::string, LayerInfo> layers_by_name(const ModelBackend& model, std::int64_t h, std::int64_t w) {
  std::map<std::string, LayerInfo> named;
  for (auto& l : model.layers_for(h, w)) named[l.name] = l;
  return named;
}

}  // namespace

std::vector<fv::Transform> transforms_from(const Value& spec) {
  if (spec.is_string()) {
    if (spec.as_string() == "none") return {};
    return fv::standard_transforms();  // the schema admits "standard" and "none"
  }
  std::vector<fv::Transform> chain;
  for (const auto& t : spec.as_list()) {
    const std::string type = t.at("type").as_string();
    fv::Transform tr{fv::Transform::Kind::pad, 0, 0.5, false, {}};
    if (type == "pad") {
      tr.amount = t.get("width", Value(12)).as_int();
      tr.pad_value = t.get("value", Value(0.5)).as_double();
      tr.pad_reflect = t.get("mode", Value("constant")).as_string() == "reflect";
    } else if (type == "jitter") {
      tr.kind = fv::Transform::Kind::jitter;
      tr.amount = t.get("amount", Value(8)).as_int();
      if (tr.amount < 2) throw Error("feature_vis: transforms: jitter amount must be at least 2 (offsets 0..amount-1)");
    } else if (type == "scale") {
      tr.kind = fv::Transform::Kind::scale;
      tr.choices = numbers(t.at("factors"));
    } else {
      tr.kind = fv::Transform::Kind::rotate;
      tr.choices = numbers(t.at("angles"));
    }
    chain.push_back(tr);
  }
  return chain;
}

fv::Term term_from(const Value& spec) {
  fv::Term t{fv::kind_named(spec.at("type").as_string())};
  t.weight = spec.get("weight", Value(1.0)).as_double();
  t.layer = spec.get("layer", Value("")).as_string();
  if (spec.contains("channel")) t.channel = spec.at("channel").as_int();
  if (spec.contains("class")) t.channel = spec.at("class").as_int();
  if (spec.contains("x")) t.x = spec.at("x").as_int();
  if (spec.contains("y")) t.y = spec.at("y").as_int();
  if (spec.contains("batch")) t.batch = spec.at("batch").as_int();
  if (spec.contains("direction")) t.direction = numbers(spec.at("direction"));
  t.constant = spec.get("constant", Value(0.0)).as_double();
  if (t.kind == fv::Term::Kind::direction && t.direction.empty())
    throw Error("feature_vis: objective direction needs a `direction` list (one value per channel)");
  return t;
}

std::string describe(const std::vector<fv::Term>& terms) {
  std::string text;
  for (const auto& t : terms) {
    std::string what = fv::kind_name(t.kind);
    std::string inside = t.layer;
    if (takes_channel(t.kind) || is_class_term(t.kind)) inside += (inside.empty() ? "" : ":") + std::to_string(t.channel);
    if (!inside.empty()) what += "(" + inside + ")";
    const double w = t.weight;
    if (text.empty()) {
      text = (w == 1 ? "" : w == -1 ? "-" : number_text(w) + "*") + what;
    } else {
      text += (w < 0 ? " - " : " + ") + (std::abs(w) == 1 ? "" : number_text(std::abs(w)) + "*") + what;
    }
  }
  return text;
}

// ---------------------------------------------------------------- feature_vis

FeatureVis::FeatureVis(const CreateArgs& args) : TechniqueBase(args) {}

fv::RenderRecipe FeatureVis::recipe(const ModelBackend& model) const {
  const Options& o = options();
  fv::RenderRecipe r;
  r.param.fourier = o.string("parameterization") == "fourier";
  r.param.decorrelate = o.boolean("decorrelate");
  const std::string range = o.string("valid_range");
  r.param.range = range == "clip" ? fv::ValidRange::clip : range == "none" ? fv::ValidRange::none : fv::ValidRange::sigmoid;
  r.param.sd = o.number("sd");
  r.param.decay_power = o.number("decay_power");
  r.transforms = transforms_from(o.value("transforms"));
  r.steps = o.integer("steps");
  r.learning_rate = o.number("learning_rate");
  r.channels_last = o.boolean("channels_last");
  const Value& input = o.value("input_size");
  const InputSpec spec = model.input_spec();
  if (input.is_int()) {
    r.input_height = r.input_width = input.as_int();
  } else if (input.as_string() == "model" || (input.as_string() == "auto" && spec.fixed_size)) {
    r.input_height = spec.height;
    r.input_width = spec.width;
  }
  return r;
}

std::vector<RenderSpec> FeatureVis::renders(const ModelBackend& model) const {
  std::vector<RenderSpec> out;
  const List& list = options().value("renders").as_list();
  for (std::size_t r = 0; r < list.size(); ++r) {
    const Value& spec = list[r];
    RenderSpec base;
    base.batch = spec.get("batch", Value(1)).as_int();
    for (const auto& t : spec.at("objective").as_list()) base.terms.push_back(term_from(t));
    const std::string name = spec.get("name", Value("render_" + std::to_string(r))).as_string();
    // `channels`: one render per channel of the first channel/neuron term's layer.
    if (spec.contains("channels")) {
      const fv::Term* first = nullptr;
      for (const auto& t : base.terms)
        if (takes_channel(t.kind)) {
          first = &t;
          break;
        }
      if (!first) throw Error("feature_vis: renders[" + std::to_string(r) + "]: `channels` needs a channel or neuron term");
      const auto layers = layers_by_name(model, model.input_spec().height, model.input_spec().width);
      const auto it = layers.find(first->layer);
      if (it == layers.end()) throw Error("feature_vis: renders[" + std::to_string(r) + "]: no layer " + first->layer);
      for (const auto c : kit::select_filters(spec.at("channels"), it->second.shape.at(0), first->layer)) {
        RenderSpec one = base;
        for (auto& t : one.terms)
          if (takes_channel(t.kind)) t.channel = c;
        char suffix[32];
        std::snprintf(suffix, sizeof suffix, "/channel_%04lld", static_cast<long long>(c));
        one.name = name + suffix;
        out.push_back(one);
      }
      continue;
    }
    // `classes`: one render per class of the class terms.
    if (spec.contains("classes")) {
      const std::int64_t classes = kit::output_count(model);
      if (classes == 0) throw Error("feature_vis: renders[" + std::to_string(r) + "]: the model has no classifier for `classes`");
      for (const auto k : kit::select_filters(spec.at("classes"), classes, "classes")) {
        RenderSpec one = base;
        for (auto& t : one.terms)
          if (is_class_term(t.kind)) t.channel = k;
        one.class_id = k;
        one.name = name + "/class_" + std::to_string(k);
        out.push_back(one);
      }
      continue;
    }
    base.name = name;
    for (const auto& t : base.terms)
      if (is_class_term(t.kind)) base.class_id = t.channel;
    out.push_back(base);
  }
  return out;
}

void FeatureVis::check_model(const ModelBackend& model) const {
  const std::int64_t side = options().integer("size");
  const fv::RenderRecipe r = recipe(model);
  const std::int64_t h = r.input_height > 0 ? r.input_height : side, w = r.input_width > 0 ? r.input_width : side;
  kit::check_option("/size", [&] {
    if (std::min(h, w) < model.input_spec().min_size)
      throw Error("feature_vis: the network would see " + std::to_string(h) + "x" + std::to_string(w) +
                  " pictures; the model needs at least " + std::to_string(model.input_spec().min_size));
  });
  std::vector<RenderSpec> specs;
  kit::check_option("/renders", [&] { specs = renders(model); });
  const auto layers = layers_by_name(model, h, w);
  const std::int64_t classes = kit::output_count(model);
  kit::check_option("/renders", [&] {
    for (const auto& s : specs) {
      for (const auto& t : s.terms) {
        if (fv::on_picture(t.kind)) continue;
        if (t.batch && *t.batch >= s.batch)
          throw Error("feature_vis: " + s.name + ": objective batch " + std::to_string(*t.batch) + " is past its batch of " +
                      std::to_string(s.batch));
        if (is_class_term(t.kind)) {
          if (classes == 0) throw Error("feature_vis: " + s.name + ": the model has no classifier for " + fv::kind_name(t.kind));
          if (t.channel < 0 || t.channel >= classes)
            throw Error("feature_vis: " + s.name + ": class " + std::to_string(t.channel) + " is past the model's " +
                        std::to_string(classes) + " classes");
          if (t.layer.empty()) continue;
        }
        const auto it = layers.find(t.layer);
        if (it == layers.end()) {
          std::vector<std::string> names;
          for (const auto& [n, info] : layers) names.push_back(n);
          throw Error("feature_vis: " + s.name + ": no layer '" + t.layer + "' runs at " + std::to_string(h) + "x" +
                      std::to_string(w) + " (layers: " + kit::join(names) + ")");
        }
        const std::int64_t channels = it->second.shape.at(0);
        if (takes_channel(t.kind) && (t.channel < 0 || t.channel >= channels))
          throw Error("feature_vis: " + s.name + ": channel " + std::to_string(t.channel) + " of " + t.layer +
                      " is out of range (it has " + std::to_string(channels) + ")");
        if (t.kind == fv::Term::Kind::direction && static_cast<std::int64_t>(t.direction.size()) != channels)
          throw Error("feature_vis: " + s.name + ": direction has " + std::to_string(t.direction.size()) +
                      " values; " + t.layer + " has " + std::to_string(channels) + " channels");
        if ((t.kind == fv::Term::Kind::neuron || t.kind == fv::Term::Kind::diversity) && it->second.shape.size() != 3)
          throw Error("feature_vis: " + s.name + ": " + fv::kind_name(t.kind) + " needs a spatial layer; " + t.layer +
                      " is not");
      }
    }
  });
}

void FeatureVis::run(ModelBackend& model, Output& out) {
  check_model(model);
  const Options& o = options();
  const fv::RenderRecipe rec = recipe(model);
  const std::int64_t side = o.integer("size");
  const auto specs = renders(model);
  kit::MemoryReuseScope reuse(device().is_cpu() && o.boolean("reuse_memory"));
  host().expect_stages(specs.size());
  Dict summary;
  std::uint64_t index = 0;
  for (const auto& s : specs) {
    host().check_stop();
    const std::string objective = describe(s.terms);
    host().log(LogLevel::info, "feature_vis: " + s.name + ": " + objective + ", batch " + std::to_string(s.batch) + ", " +
                                   std::to_string(rec.steps) + " steps");
    const auto t0 = std::chrono::steady_clock::now();
    // Each render's seed depends on the run's seed and its place only: reproducible.
    const std::uint64_t render_seed = seed() * 0x100000001b3ULL + index++;
    const fv::RenderResult r = fv::render(model, s.terms, rec, s.batch, side, side, render_seed, [&](std::int64_t step) {
      host().progress(s.name, static_cast<std::size_t>(step + 1), static_cast<std::size_t>(rec.steps));
      host().check_stop();
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string layer;
    for (const auto& t : s.terms)
      if (!fv::on_picture(t.kind) && layer.empty()) layer = t.layer.empty() ? model.logits_layer() : t.layer;
    const double first = r.objective[0].item<double>(), last = r.objective[rec.steps - 1].item<double>();
    std::vector<at::Tensor> pictures;
    for (std::int64_t b = 0; b < s.batch; ++b) {
      const at::Tensor img = kit::enlarge_to(fv::to_uint8(r.picture[b]), o.integer("min_display_size"));
      pictures.push_back(img);
      Dict meta{{"image", ""},
                {"method", "feature_vis"},
                {"layer", layer},
                {"class", s.class_id},
                {"name", s.class_id >= 0 ? kit::class_label(model, s.class_id) : std::string()},
                {"view", "picture"},
                {"objective", objective},
                {"batch_index", b},
                {"objective_first", first},
                {"objective_last", last},
                {"steps", rec.steps},
                {"seconds", seconds}};
      out.image(s.batch == 1 ? s.name : s.name + "/" + std::to_string(b), img, meta);
    }
    if (s.batch > 1)
      out.image(s.name + "/grid", image::tile(at::stack(pictures), std::min<std::int64_t>(s.batch, 8), 4, 255),
                Dict{{"image", ""}, {"method", "feature_vis"}, {"layer", layer}, {"class", s.class_id},
                     {"name", ""}, {"view", "grid"}, {"objective", objective}});
    List curve;
    if (o.boolean("objective_curves"))
      for (std::int64_t i = 0; i < rec.steps; ++i) curve.push_back(r.objective[i].item<double>());
    summary[s.name] = Dict{{"objective", objective}, {"first", first}, {"last", last}, {"seconds", seconds}, {"curve", curve}};
    out.record("renders", summary);
  }
}

// ---------------------------------------------------------------- deep_dream

DeepDream::DeepDream(const CreateArgs& args) : TechniqueBase(args) {}

fv::DreamRecipe DeepDream::recipe() const {
  const Options& o = options();
  fv::DreamRecipe r;
  for (const auto& [layer, coeff] : o.value("layers").as_dict()) r.layers.emplace_back(layer, coeff.as_double());
  r.octaves = o.integer("octaves");
  r.octave_scale = o.number("octave_scale");
  r.iterations = o.integer("iterations");
  r.step = o.number("step");
  if (o.has("max_loss")) r.max_loss = o.number("max_loss");
  else r.max_loss.reset();
  r.border = o.integer("border");
  return r;
}

void DeepDream::check_model(const ModelBackend& model) const {
  const fv::DreamRecipe r = recipe();
  kit::check_option("/layers", [&] {
    const auto& spec = model.input_spec();
    const auto layers = layers_by_name(model, spec.height, spec.width);
    for (const auto& [layer, coeff] : r.layers) {
      const auto it = layers.find(layer);
      if (it == layers.end()) {
        std::vector<std::string> names;
        for (const auto& [n, info] : layers) names.push_back(n);
        throw Error("deep_dream: no layer '" + layer + "' (layers: " + kit::join(names) + ")");
      }
      if (it->second.shape.size() != 3) throw Error("deep_dream: layer " + layer + " has no spatial output; choose a convolution");
    }
  });
  kit::check_option("/images", [&] { input_paths(); });
}

void DeepDream::run(ModelBackend& model, Output& out) {
  check_model(model);
  const Options& o = options();
  const fv::DreamRecipe r = recipe();
  const auto paths = input_paths();
  std::string layer_names;
  for (const auto& [layer, coeff] : r.layers) layer_names += (layer_names.empty() ? "" : ",") + layer;
  host().expect_stages(paths.size());
  Dict record;
  for (const auto& path : paths) {
    host().check_stop();
    at::Tensor rgb = host().load_image(path).unsqueeze(0);
    const std::int64_t side = o.integer("size");
    if (side > 0) rgb = kit::stack_resized({rgb[0]}, side, side, "bilinear", at::kCPU);
    at::Tensor photo;
    {
      torch::autograd::AutoGradMode grad_off(false);
      photo = model.preprocess(rgb.to(device())).to(at::kFloat);
    }
    const std::int64_t total = r.octaves * r.iterations;
    const fv::DreamResult d = fv::deep_dream(model, photo, r, [&](std::int64_t octave, std::int64_t i) {
      host().progress(kit::stem(path), static_cast<std::size_t>(octave * r.iterations + i + 1), static_cast<std::size_t>(total));
      host().check_stop();
    });
    at::Tensor pixels;
    {
      torch::autograd::AutoGradMode grad_off(false);
      pixels = model.deprocess(d.input).to(at::kCPU).to(at::kFloat)[0];
    }
    at::Tensor hwc = pixels.clamp(0, 255).permute({1, 2, 0});
    if (hwc.size(2) == 1) hwc = hwc.expand({-1, -1, 3});
    const at::Tensor img = hwc.round().to(at::kByte).contiguous();
    List losses;
    for (const auto& octave : d.losses) {
      List l;
      for (double v : octave) l.push_back(v);
      losses.push_back(l);
    }
    const double first = d.losses.front().front(), last = d.losses.back().back();
    out.image(kit::stem(path) + "/dream", img,
              Dict{{"image", path}, {"method", "deep_dream"}, {"layer", layer_names}, {"class", -1}, {"name", ""},
                   {"view", "picture"}, {"objective", "deep_dream(" + layer_names + ")"}, {"loss_first", first},
                   {"loss_last", last}, {"octaves", r.octaves}});
    record[kit::stem(path)] = Dict{{"losses", losses}};
    out.record("deep_dream", record);
  }
}

}  // namespace vizrun::techniques
