// A test-only technique built for this SDK that uses forward_channels on whatever
// model it is given: through the SDK helper (query ChannelForward, else forward and
// gather) or through the SDK 1.1 slot of ModelBackend, as a technique built for 1.1
// calls it. It emits the maps and the input gradient of their sum.
#include <torch/torch.h>

#include "vizrun/model_extensions.h"
#include "vizrun/plugin.h"

namespace {

constexpr const char* kSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "layer": {"type": "string", "default": "conv2", "description": "Layer whose channels are taken."},
    "channels": {"type": "array", "items": {"type": "integer", "minimum": 0}, "default": [0, 5, 2], "description": "Channel of each picture."},
    "via": {"type": "string", "enum": ["helper", "slot"], "default": "helper", "description": "vizrun::forward_channels or the ModelBackend slot."}
  }
})";

class ChannelProbe final : public vizrun::Technique {
 public:
  explicit ChannelProbe(const vizrun::CreateArgs& args) : m_options(args.options) {}

  void run(vizrun::ModelBackend& model, vizrun::Output& out) override {
    std::vector<int64_t> picked;
    for (const auto& c : m_options.at("channels").as_list()) picked.push_back(c.as_int());
    const auto spec = model.input_spec();
    torch::manual_seed(11);
    const auto n = static_cast<int64_t>(picked.size());
    torch::Tensor x = torch::rand({n, spec.channels, spec.height, spec.width}).requires_grad_(true);
    const torch::Tensor channels = torch::tensor(picked, torch::kLong);
    const std::string layer = m_options.at("layer").as_string();
    const torch::Tensor maps = m_options.at("via").as_string() == "slot" ? model.forward_channels(x, layer, channels)
                                                                           : vizrun::forward_channels(model, x, layer, channels);
    const torch::Tensor grad = torch::autograd::grad({maps.sum()}, {x})[0];
    out.array("maps", maps.detach().contiguous(), {});
    out.array("grad", grad.detach().contiguous(), {});
    out.record("has_channel_forward", vizrun::query<vizrun::ChannelForward>(model) != nullptr);
  }

 private:
  vizrun::Value m_options;
};

}  // namespace

VIZRUN_PLUGIN(ChannelProbe, "channel_probe", "1.0.0", "Test-only: forward_channels on any model", kSchema)
