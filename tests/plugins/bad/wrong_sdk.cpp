// A plugin built for a future SDK major version: the host must refuse it.
#include "vizrun/plugin_abi.h"

extern "C" __attribute__((visibility("default"))) const VizrunPluginInfo* vizrun_plugin_info() {
  static const VizrunPluginInfo info = {99, 0, sizeof(VizrunPluginInfo), VIZRUN_KIND_TECHNIQUE, "wrong_sdk", "1.0.0",
                                        "built for SDK 99", "whatever", "none", "{}", nullptr, nullptr};
  return &info;
}
