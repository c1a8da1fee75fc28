#include "vizrun/kit.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/CPUAllocator.h>
#include <fnmatch.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include <algorithm>
#include <set>

#include "vizrun/error.h"
#include "vizrun/image.h"
#include "vizrun/suggest.h"
#include "vizrun_host/torch_compat.h"  // c10::Allocator differs between LibTorch 1.13 and 2.x

namespace vizrun::kit {

bool is_conv_type(const std::string& type) {
  return type.rfind("conv", 0) == 0 || type == "depthwise_conv2d" || type == "separable_conv2d";
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : sep) + i;
  return s;
}

namespace {

bool spatial(const LayerInfo& l) { return l.shape.size() == 3; }

}  // namespace

std::vector<LayerInfo> select_layers(const std::vector<LayerInfo>& layers, const Value& spec) {
  std::vector<LayerInfo> out;
  if (spec.is_int()) {
    const std::int64_t n = spec.as_int();
    if (n < 1) throw Error("layers: expected a positive count of first layers, got " + std::to_string(n));
    for (const auto& l : layers) {
      if (static_cast<std::int64_t>(out.size()) >= n) break;
      if (spatial(l)) out.push_back(l);
    }
    return out;
  }
  std::vector<std::string> patterns;
  if (spec.is_string()) {
    patterns.push_back(spec.as_string());
  } else if (spec.is_list()) {
    for (const auto& p : spec.as_list()) patterns.push_back(p.as_string());
  } else {
    throw Error("layers: expected a count, a name/glob or a list of names/globs, got " + spec.to_json());
  }
  std::set<std::string> chosen;
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.name);
  for (const auto& p : patterns) {
    bool hit = false;
    for (const auto& l : layers) {
      bool match = false;
      if (p == "all_conv") match = is_conv_type(l.type) && spatial(l);
      else if (p == "all") match = spatial(l);
      else match = fnmatch(p.c_str(), l.name.c_str(), 0) == 0;
      if (match) {
        hit = true;
        chosen.insert(l.name);
      }
    }
    if (!hit) {
      const std::string suggestion = did_you_mean(p, names);
      throw Error("layers: '" + p + "' matches no layer of the model" +
                  (suggestion.empty() ? std::string("; layers are: ") + join(names) : "; " + suggestion) +
                  " (also accepted: globs such as block*_conv*, all_conv, all, or a count of first layers)");
    }
  }
  for (const auto& l : layers)
    if (chosen.count(l.name)) out.push_back(l);
  return out;
}

std::vector<LayerInfo> select_layers_at(const ModelBackend& model, std::int64_t height, std::int64_t width,
                                        const Value& spec) {
  const auto runnable = model.layers_for(height, width);
  try {
    return select_layers(runnable, spec);
  } catch (const Error&) {
    const auto all = model.layers();
    if (runnable.size() == all.size() || runnable.empty()) throw;
    select_layers(all, spec);  // a name unknown at any size rethrows its own message
    const InputSpec in = model.input_spec();
    throw Error("layers: at " + std::to_string(height) + "x" + std::to_string(width) + " only the layers up to " +
                runnable.back().name + " run; the later ones need the model's " + std::to_string(in.height) + "x" +
                std::to_string(in.width) + " input (size: model)");
  }
}

std::vector<std::int64_t> select_filters(const Value& spec, std::int64_t channels, const std::string& layer) {
  std::vector<std::int64_t> out;
  auto check = [&](std::int64_t f) {
    if (f < 0 || f >= channels)
      throw Error("filters: index " + std::to_string(f) + " is out of range for layer " + layer + " with " +
                  std::to_string(channels) + " filters (expected 0.." + std::to_string(channels - 1) + ")");
    return f;
  };
  if (spec.is_null()) {
    for (std::int64_t f = 0; f < std::min<std::int64_t>(64, channels); ++f) out.push_back(f);
  } else if (spec.is_int()) {
    const std::int64_t n = spec.as_int();
    if (n < 1) throw Error("filters: expected a positive count, got " + std::to_string(n));
    for (std::int64_t f = 0; f < std::min(n, channels); ++f) out.push_back(f);
  } else if (spec.is_string()) {
    if (spec.as_string() != "all") throw Error("filters: expected \"all\", a count, a list or {start, stop}, got " + spec.to_json());
    for (std::int64_t f = 0; f < channels; ++f) out.push_back(f);
  } else if (spec.is_list()) {
    std::set<std::int64_t> seen;
    for (const auto& v : spec.as_list()) {
      const std::int64_t f = check(v.as_int());
      if (seen.insert(f).second) out.push_back(f);
    }
  } else if (spec.is_dict()) {
    // The parts of {start, stop, step} are a range's, not options: absent ones mean the whole.
    const std::int64_t start = check(spec.get("start", Value(0)).as_int());
    const std::int64_t stop = std::min(spec.get("stop", Value(channels)).as_int(), channels);
    const std::int64_t step = spec.get("step", Value(1)).as_int();
    if (step < 1) throw Error("filters: step must be >= 1");
    for (std::int64_t f = start; f < stop; f += step) out.push_back(f);
  } else {
    throw Error("filters: expected \"all\", a count, a list or {start, stop}, got " + spec.to_json());
  }
  if (out.empty()) throw Error("filters: the selection " + spec.to_json() + " is empty for layer " + layer);
  return out;
}

namespace {

/// Size-keyed free lists over posix_memalign. Never destroyed (tensors may outlive
/// a scope); outside a scope, freed blocks go straight back to the system.
class CachingCpuAllocator final : public vizrun::host::PortableAllocator {
 public:
  c10::DataPtr allocate_bytes(std::size_t n) const override {
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      auto it = m_free.find(n);
      if (it != m_free.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        m_cached -= n;
      }
    }
    if (p == nullptr) {
      if (posix_memalign(&p, 64, std::max<std::size_t>(n, 1)) != 0) throw std::bad_alloc();
      std::lock_guard<std::mutex> lock(m_mutex);
      m_size[p] = n;
    }
    return {p, p, &CachingCpuAllocator::release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &CachingCpuAllocator::release; }

  static CachingCpuAllocator& instance() {
    static auto* a = new CachingCpuAllocator();  // leaked on purpose, see above
    return *a;
  }
  void set_caching(bool on) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_caching = on;
    if (on) return;
    for (auto& [size, blocks] : m_free)
      for (void* p : blocks) {
        m_size.erase(p);
        std::free(p);
      }
    m_free.clear();
    m_cached = 0;
  }

 private:
  static void release(void* p) {
    if (p == nullptr) return;
    CachingCpuAllocator& a = instance();
    std::lock_guard<std::mutex> lock(a.m_mutex);
    auto it = a.m_size.find(p);
    // Cache while a scope is open, up to a bound: blocks of sizes that never
    // recur (photos of many sizes) must not pile up.
    if (a.m_caching && it != a.m_size.end() && a.m_cached + it->second <= kMaxCachedBytes) {
      a.m_free[it->second].push_back(p);
      a.m_cached += it->second;
      return;
    }
    if (it != a.m_size.end()) a.m_size.erase(it);
    std::free(p);
  }

  mutable std::mutex m_mutex;
  mutable std::unordered_map<std::size_t, std::vector<void*>> m_free;
  mutable std::unordered_map<void*, std::size_t> m_size;
  bool m_caching = false;
  mutable std::size_t m_cached = 0;
  static constexpr std::size_t kMaxCachedBytes = std::size_t{2} << 30;
};

}  // namespace

MemoryReuseScope::MemoryReuseScope(bool enabled) {
  if (!enabled) return;
  m_previous = c10::GetCPUAllocator();
  CachingCpuAllocator::instance().set_caching(true);
  c10::SetCPUAllocator(&CachingCpuAllocator::instance(), /*priority=*/0);
}

MemoryReuseScope::~MemoryReuseScope() {
  if (m_previous == nullptr) return;
  c10::SetCPUAllocator(static_cast<c10::Allocator*>(m_previous), /*priority=*/0);
  CachingCpuAllocator::instance().set_caching(false);
}

std::pair<std::int64_t, std::int64_t> input_size(const ModelBackend& model, const Value& spec) {
  const InputSpec in = model.input_spec();
  if (spec.is_null() || (spec.is_string() && spec.as_string() == "model")) return {in.height, in.width};
  if (!spec.is_int()) throw Error("size: expected \"model\" or an integer side in pixels, got " + spec.to_json());
  const std::int64_t s = spec.as_int();
  if (s < in.min_size)
    throw Error("size: " + std::to_string(s) + " is below the model's minimum input side " + std::to_string(in.min_size));
  return {s, s};
}

at::Tensor load_batch(const Host& host, const std::vector<std::string>& paths, std::int64_t height,
                      std::int64_t width, const std::string& mode, c10::Device device) {
  std::vector<at::Tensor> items;
  items.reserve(paths.size());
  for (const auto& p : paths) {
    at::Tensor chw = host.load_image(p);
    if (chw.dim() != 3 || chw.size(0) != 3) throw Error("image " + p + ": expected RGB {3, H, W} from the host");
    at::Tensor hwc = image::resize(chw.permute({1, 2, 0}).to(at::kFloat).contiguous(), height, width, mode);
    items.push_back(hwc.permute({2, 0, 1}));
  }
  return at::stack(items).to(device).contiguous();
}

at::Tensor stack_resized(const std::vector<at::Tensor>& pictures, std::int64_t height, std::int64_t width,
                         const std::string& mode, c10::Device device) {
  std::vector<at::Tensor> items;
  items.reserve(pictures.size());
  for (const auto& chw : pictures) {
    at::Tensor hwc = image::resize(chw.permute({1, 2, 0}).to(at::kFloat).contiguous(), height, width, mode);
    items.push_back(hwc.permute({2, 0, 1}));
  }
  return at::stack(items).to(device).contiguous();
}

double activation_bytes(const ModelBackend& model, std::int64_t height, std::int64_t width, std::int64_t batch,
                        const std::string& last, double copies) {
  double elements = 0;
  for (const auto& l : model.layers_for(height, width)) {
    double e = 1;
    for (const auto s : l.shape) e *= static_cast<double>(s);
    elements += e;
    if (l.name == last) break;
  }
  const double input = 4.0 * static_cast<double>(height) * static_cast<double>(width) * 3;
  return static_cast<double>(batch) * (elements * copies * 4.0 + input);
}

std::string stem(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  const auto dot = base.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

std::int64_t target_class(const at::Tensor& logits, std::int64_t requested) {
  const std::int64_t outputs = logits.size(-1);
  const std::int64_t id = requested >= 0 ? requested : logits.argmax(-1).item<std::int64_t>();
  if (id >= outputs)
    throw Error("class " + std::to_string(id) + " is out of range: the model has " + std::to_string(outputs) +
                " outputs (expected 0.." + std::to_string(outputs - 1) + ")");
  return id;
}

std::int64_t output_count(const ModelBackend& model) {
  const std::string logits = model.logits_layer();
  if (logits.empty()) return 0;
  for (const auto& l : model.layers())
    if (l.name == logits) return l.shape.empty() ? 0 : l.shape.back();
  return 0;
}

std::string class_label(const ModelBackend& model, std::int64_t id) {
  const auto names = model.class_names();
  return id >= 0 && id < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(id)]
                                                                  : "class " + std::to_string(id);
}

at::Tensor enlarge_to(const at::Tensor& hwc, std::int64_t min_side) {
  const std::int64_t short_side = std::max<std::int64_t>(1, std::min(hwc.size(0), hwc.size(1)));
  const std::int64_t factor = std::max<std::int64_t>(1, (min_side + short_side - 1) / short_side);
  return factor > 1 ? image::upscale(hwc, factor) : hwc;
}

void check_option(const std::string& pointer, const std::function<void()>& check) {
  try {
    check();
  } catch (const OptionError&) {
    throw;
  } catch (const Error& e) {
    throw OptionError("", pointer, e.what());
  }
}

bool autocast_active() { return host::autocast_enabled(c10::kCPU) || host::autocast_enabled(c10::kCUDA); }

}  // namespace vizrun::kit

namespace vizrun {

struct TechniqueBase::State {
  const Host* host;
  Options options;
  c10::Device device;
  std::uint64_t seed;
};

TechniqueBase::TechniqueBase(const CreateArgs& args)
    : m_state(new State{args.host, Options(args.options), args.device, args.seed}) {
  if (args.host == nullptr) throw Error("a technique needs the host: CreateArgs::host is null");
}

TechniqueBase::~TechniqueBase() = default;

const Host& TechniqueBase::host() const { return *m_state->host; }
const Options& TechniqueBase::options() const { return m_state->options; }
c10::Device TechniqueBase::device() const { return m_state->device; }
std::uint64_t TechniqueBase::seed() const { return m_state->seed; }

std::vector<std::string> TechniqueBase::input_paths(const std::string& key) const {
  return host().expand_inputs(options().strings(key));
}

void TechniqueBase::for_each_batch(const std::vector<std::string>& paths, const kit::BatchPlan& plan,
                                   const std::function<void(const kit::PhotoBatch&)>& each) const {
  const std::size_t n = paths.size();
  const std::size_t step = static_cast<std::size_t>(std::max<std::int64_t>(1, plan.batch_size));
  for (std::size_t start = 0; start < n; start += step) {
    host().check_stop();
    kit::PhotoBatch batch;
    batch.first = start;
    batch.paths.assign(paths.begin() + static_cast<std::ptrdiff_t>(start),
                       paths.begin() + static_cast<std::ptrdiff_t>(std::min(n, start + step)));
    for (const auto& path : batch.paths) {
      at::Tensor chw = host().load_image(path);
      if (chw.dim() != 3 || chw.size(0) != 3) throw Error("image " + path + ": expected RGB {3, H, W} from the host");
      batch.originals.push_back(std::move(chw));
    }
    batch.pixels = kit::stack_resized(batch.originals, plan.height, plan.width, plan.resize, device());
    each(batch);
    host().progress(plan.stage, std::min(n, start + step), n);
  }
}

}  // namespace vizrun
