// Key functions of the SDK's interfaces. Defining the destructors here gives each
// interface's vtable and typeinfo a single home (this library), so the host and
// every plugin agree on them and exceptions can be caught across libraries.
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
Technique::~Technique() = default;
Host::~Host() = default;
Output::~Output() = default;

}  // namespace vizrun
