// gpu_info for a LibTorch built without CUDA (Debian's libtorch-dev): no GPU can be used.
#include "vizrun_host/device_info.h"

namespace vizrun::host {

nlohmann::json gpu_info(int) { return nullptr; }

}  // namespace vizrun::host
