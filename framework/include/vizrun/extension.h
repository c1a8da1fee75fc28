#pragma once
/// \file extension.h
/// How the SDK grows without undefined behaviour.
///
/// `ModelBackend` and `Technique` are implemented by plugins, and a plugin's vtable
/// is fixed when the plugin is compiled. A virtual added to one of them in a later
/// SDK is a slot that older plugins do not have: calling it is undefined behaviour.
/// So, since SDK 1.2, these two classes never get another virtual. Every new
/// capability is an *extension interface* instead: a small abstract class with a
/// unique, versioned id, which a plugin class implements by deriving from it and
/// which code asks for at run time:
///
///     if (auto* cf = vizrun::query<vizrun::ChannelForward>(model)) ... else fallback;
///
/// `query` returns nullptr when the object lacks the interface (a plugin built before
/// the interface existed, or one that chose not to implement it); the SDK then offers
/// a fallback built on the 1.0 interface where one exists (`vizrun::forward_channels`).
///
/// Rules of an extension interface (see vizrun/model_extensions.h):
/// - it is declared `VIZRUN_SDK_API`, has a protected virtual destructor defined in
///   the SDK library (its key function, so the vtable and typeinfo have one home)
///   and a `static constexpr char kInterfaceId[]` such as "vizrun.ChannelForward/1";
/// - once released it never changes; a changed interface is a new class with a new id
///   ("/2"), and the old one stays;
/// - it is added to the SDK's list (`ModelExtensions` or `TechniqueExtensions`), so
///   deriving from it is enough: the SDK's default `query_interface` answers it, and
///   VIZRUN_PLUGIN records its id in VizrunPluginInfo::extensions for the host.
///
/// The host itself never hands out an object whose vtable lacks `query_interface`: a
/// plugin built for SDK 1.0 or 1.1 is wrapped in an adapter compiled with the current
/// SDK (`detail::adapt_model`), which forwards the slots the plugin has.
///
/// Interfaces the host implements for plugins (`Host`, `Output`) are the other way
/// round: the host is always at least as new as the plugin (a plugin built for a newer
/// minor is refused), so they grow by appending virtuals at their end.

#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

#include "vizrun/export.h"

namespace vizrun {

class ModelBackend;
class Technique;

/// The first SDK minor version whose ModelBackend and Technique have `query_interface`.
inline constexpr std::uint32_t kQueryInterfaceMinor = 2;

/// The object's implementation of extension interface `I`, or nullptr when it has
/// none. `object` is a ModelBackend or a Technique (anything with `query_interface`).
template <class I, class T>
I* query(T& object) {
  return static_cast<I*>(object.query_interface(I::kInterfaceId));
}

/// A list of extension interfaces (the SDK keeps one per plugin kind).
template <class... I>
struct ExtensionList {};

namespace detail {

/// `self` as the interface of the list whose id is `id`, found by dynamic_cast (a
/// cross-cast: the object's most-derived class must derive from it publicly).
template <class T, class... I>
void* find_extension(T* self, std::string_view id, ExtensionList<I...>) {
  void* found = nullptr;
  ((found == nullptr && id == std::string_view(I::kInterfaceId) ? void(found = dynamic_cast<I*>(self)) : void()), ...);
  return found;
}

/// Ids of the interfaces of the list that `T` derives from, NULL-terminated.
template <class T, class... I>
const char* const* extension_ids(ExtensionList<I...>) {
  struct Ids {
    const char* ids[sizeof...(I) + 1] = {};
    Ids() {
      std::size_t n = 0;
      ((std::is_base_of_v<I, T> ? void(ids[n++] = I::kInterfaceId) : void()), ...);
    }
  };
  static const Ids table;
  return table.ids;
}

/// What the host hands to techniques for a model created by a plugin built for SDK
/// minor `sdk_minor`: the object itself from SDK 1.2 on, otherwise an adapter that
/// forwards the slots the plugin has and answers `query_interface` for it
/// (ChannelForward only when the plugin has the 1.1 `forward_channels` slot).
VIZRUN_SDK_API std::shared_ptr<ModelBackend> adapt_model(std::shared_ptr<ModelBackend> model, std::uint32_t sdk_minor);
/// The same for techniques (the adapter answers no extension).
VIZRUN_SDK_API std::shared_ptr<Technique> adapt_technique(std::shared_ptr<Technique> technique, std::uint32_t sdk_minor);

}  // namespace detail
}  // namespace vizrun
