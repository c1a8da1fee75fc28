// Key functions of the SDK's interfaces. Defining the destructors here gives each
// interface's vtable and typeinfo a single home (this library), so the host and
// every plugin agree on them and exceptions can be caught across libraries.
#include <ATen/ATen.h>

#include "vizrun/error.h"
#include "vizrun/host.h"
#include "vizrun/model.h"
#include "vizrun/model_extensions.h"
#include "vizrun/technique.h"

namespace vizrun {

Error::Error(const std::string& message) : std::runtime_error(message) {}
Error::~Error() = default;
Interrupted::Interrupted() : Error("interrupted") {}
Interrupted::~Interrupted() = default;

ModelBackend::~ModelBackend() = default;

// An SDK 1.1 slot: its default may call only slots of SDK 1.0 (forward), because a
// plugin built for 1.1 that does not override it runs this very code.
at::Tensor ModelBackend::forward_channels(const at::Tensor& input, const std::string& layer, const at::Tensor& channels) {
  const Activations acts = forward(input, {layer});
  return gather_channels(acts.at(layer), layer, channels);
}

void* ModelBackend::query_interface(std::string_view id) { return detail::find_extension(this, id, ModelExtensions{}); }

Technique::~Technique() = default;
void* Technique::query_interface(std::string_view id) { return detail::find_extension(this, id, TechniqueExtensions{}); }
Host::~Host() = default;
void Host::expect_stages(std::size_t) const {}
Output::~Output() = default;

}  // namespace vizrun
