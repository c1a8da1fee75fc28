// Key functions of the SDK's interfaces. Defining the destructors here gives each
// interface's vtable and typeinfo a single home (this library), so the host and
// every plugin agree on them and exceptions can be caught across libraries.
#include <ATen/ATen.h>

#include "vizrun/error.h"
#include "vizrun/host.h"
#include "vizrun/model.h"
#include "vizrun/technique.h"

namespace vizrun {

Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;
Interrupted::Interrupted() : Error("interrupted") {}
Interrupted::~Interrupted() = default;

ModelBackend::~ModelBackend() = default;

at::Tensor ModelBackend::forward_channels(const at::Tensor& input, const std::string& layer, const at::Tensor& channels) {
  const Activations acts = forward(input, {layer});
  const at::Tensor& act = acts.at(layer);
  if (act.dim() != 4)
    throw Error("forward_channels: layer " + layer + " has no spatial output (shape rank " + std::to_string(act.dim()) +
                "); choose a convolutional layer");
  if (channels.dim() != 1 || channels.size(0) != act.size(0))
    throw Error("forward_channels: " + std::to_string(channels.numel()) + " channel indices for a batch of " +
                std::to_string(act.size(0)));
  const at::Tensor index = channels.to(act.device(), at::kLong);
  const at::Tensor rows = at::arange(act.size(0), index.options());
  // act[b, channels[b]] -> {N, H, W} -> {N, 1, H, W}
  return act.index({rows, index}).unsqueeze(1);
}
Technique::~Technique() = default;
Host::~Host() = default;
void Host::expect_stages(std::size_t) const {}
Output::~Output() = default;

}  // namespace vizrun
