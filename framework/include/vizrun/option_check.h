#pragma once
/// \file option_check.h
/// A deeper check of a plugin's options than its JSON Schema can state, run by
/// `vizrun validate` without creating the plugin (no weights are read or built).
///
/// A plugin class opts in with a static member function and one macro after
/// VIZRUN_PLUGIN:
///
///     static void check_options(const vizrun::CreateArgs& args);   // in the class
///     VIZRUN_PLUGIN_OPTION_CHECK(MyModel)                          // after VIZRUN_PLUGIN
///
/// check_options throws vizrun::Error (or OptionError, to point at the key at fault)
/// when the options cannot work. `args` is what `create` would get, except that
/// `args.host` offers only resolve_path and read_config (load_image throws, the rest
/// does nothing) and no model exists yet. A plugin without it is checked by its
/// schema alone, as before.
///
/// ABI: the macro exports a second, optional C symbol, VIZRUN_PLUGIN_CHECK_SYMBOL,
/// beside vizrun_plugin_info (plugin_abi.h). The host looks it up only after the
/// handshake (SDK version, build fingerprint) has accepted the plugin, so it may take
/// C++ objects like `create` does. An optional symbol, rather than a field appended to
/// VizrunPluginInfo, keeps the struct and every plugin built so far unchanged: a plugin
/// without the symbol simply has no deep check.

#include <string>
#include <type_traits>
#include <utility>

#include "vizrun/error.h"
#include "vizrun/plugin.h"

#define VIZRUN_PLUGIN_CHECK_SYMBOL "vizrun_plugin_check_options"

namespace vizrun {

/// An option error that knows where it is: `pointer` is a JSON pointer (RFC 6901,
/// e.g. "/layers/2/pool") into the file `file` read through Host::read_config (as the
/// plugin named it), or into the plugin's own options when `file` is empty. The host
/// turns it into "file:line:column: key: message". Outside `vizrun validate` it is an
/// ordinary vizrun::Error with the same message.
class OptionError : public Error {
 public:
  OptionError(std::string file, std::string pointer, const std::string& message)
      : Error(message), m_file(std::move(file)), m_pointer(std::move(pointer)) {}
  const std::string& file() const noexcept { return m_file; }
  const std::string& pointer() const noexcept { return m_pointer; }

 private:
  std::string m_file;
  std::string m_pointer;
};

/// What check_options found, handed from the plugin to the host.
struct OptionProblem {
  std::string file;     ///< as given to Host::read_config; empty: the plugin's options
  std::string pointer;  ///< JSON pointer into that file or the options; may be empty
  std::string message;
};

/// The signature of VIZRUN_PLUGIN_CHECK_SYMBOL: a const CreateArgs* and an
/// OptionProblem* to fill; returns 1 when it found a problem, 0 when the options are fine.
using OptionCheckFn = int(const void* create_args, void* problem);

namespace detail {

template <class T>
int check_options(const void* args, void* problem) noexcept {
  auto& p = *static_cast<OptionProblem*>(problem);
  try {
    T::check_options(*static_cast<const CreateArgs*>(args));
    return 0;
  } catch (const OptionError& e) {
    p = OptionProblem{e.file(), e.pointer(), e.what()};
  } catch (const std::exception& e) {
    p = OptionProblem{"", "", e.what()};
  } catch (...) {
    p = OptionProblem{"", "", "unknown exception in check_options"};
  }
  return 1;
}

}  // namespace detail
}  // namespace vizrun

#define VIZRUN_PLUGIN_OPTION_CHECK(Class)                                                             \
  static_assert(std::is_same_v<decltype(&Class::check_options), void (*)(const ::vizrun::CreateArgs&)>, \
                "VIZRUN_PLUGIN_OPTION_CHECK: the class needs static void check_options(const vizrun::CreateArgs&)"); \
  extern "C" __attribute__((visibility("default"))) int vizrun_plugin_check_options(const void* args, void* problem) { \
    return ::vizrun::detail::check_options<Class>(args, problem);                                     \
  }
