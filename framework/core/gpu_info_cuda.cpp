// gpu_info for a LibTorch built with CUDA (PyPI's torch): the device's properties.
#include <ATen/cuda/CUDAContext.h>

#include "vizrun_host/device_info.h"

namespace vizrun::host {

nlohmann::json gpu_info(int index) {
  const cudaDeviceProp* p = at::cuda::getDeviceProperties(index);
  return {{"name", p->name},
          {"capability", std::to_string(p->major) + "." + std::to_string(p->minor)},
          {"memory_bytes", static_cast<std::int64_t>(p->totalGlobalMem)}};
}

}  // namespace vizrun::host
