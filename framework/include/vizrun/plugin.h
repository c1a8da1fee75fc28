#pragma once
/// \file plugin.h
/// What a plugin author includes. Write one class deriving from
/// vizrun::ModelBackend or vizrun::Technique with a constructor taking
/// `const vizrun::CreateArgs&`, then add one line:
///
///     VIZRUN_PLUGIN(Saliency, "saliency", "1.0.0", "Vanilla-gradient saliency maps", kSchema)
///
/// where kSchema is the JSON Schema of the plugin's options. The macro generates the
/// exported entry point, turns exceptions thrown by the constructor into error text
/// (nothing is thrown across the C boundary) and checks the class at compile time.

#include <c10/core/Device.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <type_traits>

#include "vizrun/error.h"
#include "vizrun/fingerprint.h"
#include "vizrun/host.h"
#include "vizrun/extension.h"
#include "vizrun/model.h"
#include "vizrun/model_extensions.h"
#include "vizrun/plugin_abi.h"
#include "vizrun/technique.h"
#include "vizrun/value.h"

namespace vizrun {

/// Everything a plugin object is created from.
struct CreateArgs {
  Value options;                       ///< validated against the plugin's schema, defaults filled in
  const Host* host = nullptr;          ///< runner services; outlives the object
  c10::Device device{c10::kCPU};       ///< resolved device (never "auto")
  std::string precision = "fp32";      ///< "fp32" or "bf16"
  std::uint64_t seed = 0;              ///< the experiment's seed
  std::string weights;                 ///< model plugins: the `model.weights` value
  // --- SDK 1.3 (appended: a plugin never runs on a host older than its SDK).
  /// Model plugins: build the architecture only, for `vizrun validate` and
  /// `vizrun layers`. A backend that can (the architecture does not come from the
  /// weights file) reads, downloads and initialises no weights; the model is never
  /// run. A backend that cannot ignores it.
  bool architecture_only = false;
};

namespace detail {

template <class T>
constexpr std::uint32_t kind_of() {
  static_assert(std::is_base_of_v<ModelBackend, T> || std::is_base_of_v<Technique, T>,
                "VIZRUN_PLUGIN: the class must derive from vizrun::ModelBackend or vizrun::Technique");
  static_assert(std::is_constructible_v<T, const CreateArgs&>,
                "VIZRUN_PLUGIN: the class needs a constructor T(const vizrun::CreateArgs&)");
  return std::is_base_of_v<ModelBackend, T> ? VIZRUN_KIND_MODEL : VIZRUN_KIND_TECHNIQUE;
}

/// The interface the host sees the object as; void* always points at this base.
template <class T>
using BaseOf = std::conditional_t<std::is_base_of_v<ModelBackend, T>, ModelBackend, Technique>;

/// The SDK extension list of T's kind.
template <class T>
using ExtensionsOf = std::conditional_t<std::is_base_of_v<ModelBackend, T>, ModelExtensions, TechniqueExtensions>;

/// Ids of the SDK extension interfaces T derives from, for VizrunPluginInfo::extensions.
template <class T>
const char* const* extensions_of() {
  return extension_ids<T>(ExtensionsOf<T>{});
}

template <class T>
void* create(const void* args, char* error, std::size_t error_size) noexcept {
  try {
    BaseOf<T>* object = new T(*static_cast<const CreateArgs*>(args));
    return object;
  } catch (const std::exception& e) {
    std::snprintf(error, error_size, "%s", e.what());
  } catch (...) {
    std::snprintf(error, error_size, "unknown exception");
  }
  return nullptr;
}

template <class T>
void destroy(void* object, std::uint32_t) noexcept {
  delete static_cast<BaseOf<T>*>(object);
}

}  // namespace detail
}  // namespace vizrun

#define VIZRUN_PLUGIN(Class, name_, version_, description_, schema_)                          \
  extern "C" __attribute__((visibility("default"))) const VizrunPluginInfo* vizrun_plugin_info() { \
    static const VizrunPluginInfo info = {                                                     \
        VIZRUN_SDK_VERSION_MAJOR,                                                              \
        VIZRUN_SDK_VERSION_MINOR,                                                              \
        sizeof(VizrunPluginInfo),                                                              \
        ::vizrun::detail::kind_of<Class>(),                                                    \
        name_,                                                                                 \
        version_,                                                                              \
        description_,                                                                          \
        VIZRUN_BUILD_FINGERPRINT,                                                              \
        VIZRUN_COMPILER,                                                                       \
        schema_,                                                                               \
        &::vizrun::detail::create<Class>,                                                      \
        &::vizrun::detail::destroy<Class>,                                                     \
        ::vizrun::detail::extensions_of<Class>(),                                              \
    };                                                                                         \
    return &info;                                                                              \
  }
