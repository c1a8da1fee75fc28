// A plugin whose information struct is shorter than the SDK 1.0 layout (it claims to
// end before `destroy`): the host must refuse it without reading past its end.
#include "vizrun/plugin_abi.h"

extern "C" __attribute__((visibility("default"))) const VizrunPluginInfo* vizrun_plugin_info() {
  static const VizrunPluginInfo info = {VIZRUN_SDK_VERSION_MAJOR, 0, VIZRUN_PLUGIN_INFO_SIZE_1_0 - sizeof(void*),
                                        VIZRUN_KIND_TECHNIQUE, "short_info", "1.0.0", "struct too short",
                                        "whatever", "none", "{}", nullptr, nullptr, nullptr};
  return &info;
}
