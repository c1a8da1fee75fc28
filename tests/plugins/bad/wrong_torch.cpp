// A plugin whose build fingerprint names another LibTorch: the host must refuse it.
#include "vizrun/plugin_abi.h"

extern "C" __attribute__((visibility("default"))) const VizrunPluginInfo* vizrun_plugin_info() {
  static const VizrunPluginInfo info = {VIZRUN_SDK_VERSION_MAJOR, VIZRUN_SDK_VERSION_MINOR, sizeof(VizrunPluginInfo),
                                        VIZRUN_KIND_TECHNIQUE, "wrong_torch", "1.0.0", "built against another torch",
                                        "torch 0.4.1, cxx11 abi 0", "none", "{}", nullptr, nullptr};
  return &info;
}
