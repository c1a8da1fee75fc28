#pragma once
/* \file plugin_abi.h
 * The door every plugin is opened through. A plugin exports exactly one C symbol,
 * `vizrun_plugin_info`, returning a pointer to a static VizrunPluginInfo. The host
 * reads it without trusting any C++ ABI; only when the SDK version and the build
 * fingerprint match does it call `create` and enter C++.
 *
 * Rules of the struct: the first four fields never move; new fields are appended
 * and read only when `struct_size` covers them.
 *
 * SDK version history
 *   1.0  first release: ModelBackend, Technique, Host, Output, image helpers.
 */
#include <stddef.h>
#include <stdint.h>

#define VIZRUN_SDK_VERSION_MAJOR 1
#define VIZRUN_SDK_VERSION_MINOR 0
#define VIZRUN_PLUGIN_ENTRY_SYMBOL "vizrun_plugin_info"
/* File names the host looks for in its plugin folders. */
#define VIZRUN_PLUGIN_SUFFIX ".vizplugin.so"

#ifdef __cplusplus
extern "C" {
#endif

enum VizrunPluginKind { VIZRUN_KIND_MODEL = 1, VIZRUN_KIND_TECHNIQUE = 2 };

typedef struct VizrunPluginInfo {
  uint32_t sdk_major;   /* VIZRUN_SDK_VERSION_MAJOR the plugin was compiled against */
  uint32_t sdk_minor;
  uint32_t struct_size; /* sizeof(VizrunPluginInfo) in the plugin's SDK */
  uint32_t kind;        /* VizrunPluginKind */
  const char* name;     /* equals the file stem: gradcam -> gradcam.vizplugin.so */
  const char* version;  /* the plugin's own semantic version */
  const char* description;
  /* Must equal the host's: LibTorch version and C++ library ABI. */
  const char* build_fingerprint;
  const char* compiler; /* informational, e.g. "GCC 12.2.0" */
  /* JSON Schema (draft-07) of the plugin's `options` mapping. */
  const char* options_schema;
  /* Creates the plugin object (a vizrun::ModelBackend* or vizrun::Technique*) from
   * a const vizrun::CreateArgs*. Returns NULL and writes a message on failure. */
  void* (*create)(const void* create_args, char* error, size_t error_size);
  /* Destroys an object returned by `create`. */
  void (*destroy)(void* object, uint32_t kind);
} VizrunPluginInfo;

typedef const VizrunPluginInfo* (*VizrunPluginEntry)(void);

#ifdef __cplusplus
}
#endif
