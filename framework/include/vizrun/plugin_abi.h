#pragma once
/* \file plugin_abi.h
 * The door every plugin is opened through. A plugin exports exactly one C symbol,
 * `vizrun_plugin_info`, returning a pointer to a static VizrunPluginInfo. The host
 * reads it without trusting any C++ ABI; only when the SDK version and the build
 * fingerprint match does it call `create` and enter C++.
 *
 * Rules of the struct: the first four fields never move; new fields are appended
 * and read only when `struct_size` covers them. The host accepts any struct_size
 * from that of the SDK 1.0 struct (VIZRUN_PLUGIN_INFO_SIZE_1_0) up.
 *
 * Rules of the C++ interfaces: see vizrun/extension.h. ModelBackend and Technique
 * no longer grow; new capabilities are extension interfaces queried at run time.
 *
 * SDK version history
 *   1.0  first release: ModelBackend, Technique, Host, Output, image helpers.
 *   1.1  ModelBackend::forward_channels (one channel of a layer per batch item).
 *   1.2  Extension interfaces: ModelBackend::query_interface and
 *        Technique::query_interface (the last virtuals either class gets),
 *        vizrun::query<I>(object); the first one, vizrun::ChannelForward, with the
 *        fallback vizrun::forward_channels(model, ...); vizrun::PrecisionSupport
 *        for techniques. The host wraps models and
 *        techniques built for 1.0 and 1.1 so that no slot they lack is ever called.
 *        VizrunPluginInfo::extensions appended. Host::expect_stages appended (the
 *        whole run's progress). vizrun/memory.h: available_memory, require_memory.
 *   1.3  The technique kit: vizrun/options.h (fill_defaults, parse_json, Options,
 *        the schema as the only source of defaults) and vizrun/kit.h (layer and
 *        filter selection, photo batches, memory estimates, TechniqueBase).
 *        vizrun::ModelCheck (techniques check options against the model in
 *        `vizrun validate`), CreateArgs::architecture_only appended.
 *   1.4  vizrun/faithfulness.h: deletion/insertion, confidence and ROAD metrics, MetricsLog.
 */
#include <stddef.h>
#include <stdint.h>

#define VIZRUN_SDK_VERSION_MAJOR 1
#define VIZRUN_SDK_VERSION_MINOR 4
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
  /* --- SDK 1.0 ends here. --- */

  /* SDK 1.2: NULL-terminated ids of the extension interfaces (vizrun/extension.h)
   * that objects of the plugin's class implement, e.g. "vizrun.ChannelForward/1";
   * informational (the host lists them), query_interface is what counts. */
  const char* const* extensions;
} VizrunPluginInfo;

/* sizeof(VizrunPluginInfo) in SDK 1.0 and 1.1: the smallest struct the host accepts. */
#define VIZRUN_PLUGIN_INFO_SIZE_1_0 offsetof(VizrunPluginInfo, extensions)

typedef const VizrunPluginInfo* (*VizrunPluginEntry)(void);

#ifdef __cplusplus
}
#endif
