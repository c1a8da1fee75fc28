#include "vizrun_host/plugin_registry.h"

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "vizrun/error.h"
#include "vizrun/options.h"
#include "vizrun/option_check.h"
#include "vizrun_host/text.h"

namespace fs = std::filesystem;

namespace vizrun::host {
namespace {

using Library = std::shared_ptr<boost::dll::shared_library>;

std::string kind_name(std::uint32_t kind) {
  switch (kind) {
    case VIZRUN_KIND_MODEL: return "model";
    case VIZRUN_KIND_TECHNIQUE: return "technique";
    default: return "unknown kind " + std::to_string(kind);
  }
}

std::string plugin_stem(const fs::path& file) {
  std::string name = file.filename().string();
  const std::string suffix = VIZRUN_PLUGIN_SUFFIX;
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return name.substr(0, name.size() - suffix.size());
  }
  return file.stem().string();
}

std::string text_or(const char* s, const char* fallback = "") { return s ? s : fallback; }


struct Loaded {
  PluginDescriptor descriptor;
  Library library;
  const VizrunPluginInfo* info = nullptr;
};

/// Loads `file` and checks the handshake in the order that gives the most useful
/// message: loadable, entry point present, SDK major, SDK minor, struct size,
/// build fingerprint, kind, name.
Loaded load_checked(const std::string& file) {
  Loaded loaded;
  if (const std::string damage = check_plugin_file(file); !damage.empty()) {
    throw DamagedPlugin(file + ": not a loadable plugin (" + damage + ")");
  }
  try {
    // RTLD_NODELETE: a plugin stays mapped until the process ends, even after its
    // last instance and handle are gone. Its code can outlive them: a tensor keeps the
    // deleter of the allocator that made it (the technique kit's caching allocator is
    // plugin code, and its singleton is meant to live for ever), and LibTorch keeps
    // what a plugin registered. Unmapping that code would turn a late free into a jump
    // into nothing, and it hid the singleton from LeakSanitizer, which then reported it
    // as a leak with "<unknown module>" frames.
    loaded.library = std::make_shared<boost::dll::shared_library>(
        file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local |
                  static_cast<boost::dll::load_mode::type>(RTLD_NODELETE));
  } catch (const std::exception& e) {
    throw Error(file + ": not a loadable plugin (" + e.what() + ")");
  }
  if (!loaded.library->has(VIZRUN_PLUGIN_ENTRY_SYMBOL)) {
    throw Error(file + ": no entry point '" VIZRUN_PLUGIN_ENTRY_SYMBOL
                       "' found; expected a plugin built with VIZRUN_PLUGIN(...)");
  }
  auto entry = loaded.library->get<const VizrunPluginInfo*()>(VIZRUN_PLUGIN_ENTRY_SYMBOL);
  const VizrunPluginInfo* info = entry();
  if (!info) throw Error(file + ": entry point returned no plugin information");
  const std::string found_sdk = std::to_string(info->sdk_major) + "." + std::to_string(info->sdk_minor);
  const std::string host_sdk =
      std::to_string(VIZRUN_SDK_VERSION_MAJOR) + "." + std::to_string(VIZRUN_SDK_VERSION_MINOR);
  if (info->sdk_major != VIZRUN_SDK_VERSION_MAJOR) {
    throw Error(file + ": built for vizrun SDK " + found_sdk + ", this vizrun provides SDK " + host_sdk +
                " (major versions must be equal; rebuild the plugin)");
  }
  if (info->sdk_minor > VIZRUN_SDK_VERSION_MINOR) {
    throw Error(file + ": needs vizrun SDK " + found_sdk + ", this vizrun provides only SDK " + host_sdk +
                " (upgrade vizrun)");
  }
  // Append-only struct: an older plugin's smaller struct is fine, only fields its
  // struct_size covers are read (see `covers` below); the SDK 1.0 fields are required.
  if (info->struct_size < VIZRUN_PLUGIN_INFO_SIZE_1_0) {
    throw Error(file + ": plugin information is " + std::to_string(info->struct_size) + " bytes, expected at least " +
                std::to_string(VIZRUN_PLUGIN_INFO_SIZE_1_0) + " (the SDK 1.0 layout)");
  }
  const auto covers = [info](std::size_t offset, std::size_t size) { return info->struct_size >= offset + size; };
  const std::string fingerprint = text_or(info->build_fingerprint);
  if (fingerprint != VIZRUN_BUILD_FINGERPRINT) {
    throw Error(file + ": built against " + (fingerprint.empty() ? "an unknown build" : fingerprint) +
                ", this vizrun uses " VIZRUN_BUILD_FINGERPRINT " (rebuild the plugin against this LibTorch)");
  }
  if (info->kind != VIZRUN_KIND_MODEL && info->kind != VIZRUN_KIND_TECHNIQUE) {
    throw Error(file + ": declares " + kind_name(info->kind) + ", expected model or technique");
  }
  const std::string name = text_or(info->name);
  if (name != plugin_stem(file)) {
    throw Error(file + ": declares the name '" + name + "', expected '" + plugin_stem(file) +
                "' (a plugin's name and file name must agree)");
  }
  if (!info->create || !info->destroy || !info->options_schema) {
    throw Error(file + ": plugin information lacks create, destroy or options_schema");
  }
  std::vector<std::string> extensions;
  if (covers(offsetof(VizrunPluginInfo, extensions), sizeof info->extensions) && info->extensions) {
    constexpr std::size_t kMaxExtensions = 1024;  // a list without its NULL terminator
    for (const char* const* id = info->extensions; *id; ++id) {
      if (extensions.size() == kMaxExtensions)
        throw Error(file + ": more than " + std::to_string(kMaxExtensions) +
                    " extension ids; expected a NULL-terminated list");
      extensions.emplace_back(*id);
    }
  }
  loaded.info = info;
  loaded.descriptor = PluginDescriptor{name,
                                       kind_name(info->kind),
                                       text_or(info->version, "?"),
                                       found_sdk,
                                       text_or(info->description),
                                       fingerprint,
                                       text_or(info->compiler),
                                       fs::absolute(file).lexically_normal().string(),
                                       info->options_schema,
                                       std::move(extensions)};
  return loaded;
}

std::vector<std::string> plugin_files_in(const std::string& entry) {
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_regular_file(entry, ec)) return {entry};
  if (!fs::is_directory(entry, ec)) return {};
  for (const auto& item : fs::directory_iterator(entry, ec)) {
    const std::string name = item.path().filename().string();
    if (ends_with(name, VIZRUN_PLUGIN_SUFFIX)) files.push_back(item.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

struct PluginRegistry::Impl {
  std::vector<Loaded> loaded;
  std::vector<PluginDescriptor> descriptors;
  std::vector<RejectedPlugin> rejected;

  const Loaded& get(const std::string& name, const std::string& kind) const {
    for (const auto& l : loaded) {
      if (l.descriptor.name == name && l.descriptor.kind == kind) return l;
    }
    std::vector<std::string> names;
    for (const auto& l : loaded) {
      if (l.descriptor.kind == kind) names.push_back(l.descriptor.name);
    }
    std::string message = "unknown " + kind + " plugin '" + name + "'";
    std::string close = closest_match(name, names);
    if (!close.empty()) message += " (did you mean '" + close + "'?)";
    message += names.empty() ? "; no " + kind + " plugins were found" : "; available: " + join(names, ", ");
    throw Error(message);
  }

  void* create(const Loaded& l, const CreateArgs& given) const {
    // CreateArgs::options promises every default of the plugin's schema, however the
    // object is created (a run, a test, a tool): the schema is their only source.
    CreateArgs args = given;
    if (!l.descriptor.options_schema.empty()) vizrun::fill_defaults(args.options, std::string_view(l.descriptor.options_schema));
    char error[2048] = {0};
    void* object = l.info->create(&args, error, sizeof error);
    if (!object) {
      throw Error(l.descriptor.kind + " plugin '" + l.descriptor.name + "' (" + l.descriptor.file +
                  "): " + (error[0] ? error : "creation failed"));
    }
    return object;
  }
};

PluginRegistry::PluginRegistry(std::vector<std::string> directories) : m_impl(std::make_unique<Impl>()) {
  std::map<std::string, std::string> seen;  // name -> file
  for (const auto& dir : directories) {
    // A mistyped --plugin-path would otherwise find nothing without a word.
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
      m_impl->rejected.push_back({dir, "plugin path " + dir + ": no such file or folder", false, true});
      continue;
    }
    for (const auto& file : plugin_files_in(dir)) {
      try {
        Loaded l = load_checked(file);
        auto [it, fresh] = seen.emplace(l.descriptor.name, l.descriptor.file);
        if (!fresh) {
          if (it->second != l.descriptor.file) {
            m_impl->rejected.push_back({file, file + ": plugin '" + l.descriptor.name + "' shadowed by " + it->second +
                                                 " (earlier in the search path)"});
          }
          continue;
        }
        m_impl->descriptors.push_back(l.descriptor);
        m_impl->loaded.push_back(std::move(l));
      } catch (const DamagedPlugin& e) {
        m_impl->rejected.push_back({file, e.what(), true});
      } catch (const Error& e) {
        m_impl->rejected.push_back({file, e.what()});
      }
    }
  }
}

// Libraries are released only here, after every object created from them is gone
// (each object's deleter holds its library too).
PluginRegistry::~PluginRegistry() = default;

std::vector<std::string> PluginRegistry::default_directories(const std::vector<std::string>& extra) {
  std::vector<std::string> dirs;
  const fs::path exe_dir = boost::dll::program_location().parent_path().string();
  dirs.push_back((exe_dir / ".." / VIZRUN_PLUGIN_RELATIVE_DIR).lexically_normal().string());
  if (const char* env = std::getenv("VIZRUN_PLUGIN_PATH")) {
    for (const auto& part : split(env, ':')) {
      if (!part.empty()) dirs.push_back(part);
    }
  }
  dirs.insert(dirs.end(), extra.begin(), extra.end());
  return dirs;
}

PluginDescriptor PluginRegistry::inspect(const std::string& file) { return load_checked(file).descriptor; }

const std::vector<PluginDescriptor>& PluginRegistry::plugins() const { return m_impl->descriptors; }
const std::vector<RejectedPlugin>& PluginRegistry::rejected() const { return m_impl->rejected; }

const PluginDescriptor& PluginRegistry::find(const std::string& name, const std::string& kind) const {
  return m_impl->get(name, kind).descriptor;
}

std::shared_ptr<ModelBackend> PluginRegistry::create_model(const std::string& name, const CreateArgs& args) const {
  const Loaded& l = m_impl->get(name, "model");
  auto* object = static_cast<ModelBackend*>(m_impl->create(l, args));
  // The deleter owns the library: the code of the object outlives the object.
  // A plugin built for an older SDK minor is wrapped so no slot it lacks is called.
  return detail::adapt_model(std::shared_ptr<ModelBackend>(object, [library = l.library, info = l.info](ModelBackend* p) {
                               info->destroy(p, VIZRUN_KIND_MODEL);
                             }),
                             l.info->sdk_minor);
}

std::shared_ptr<Technique> PluginRegistry::create_technique(const std::string& name, const CreateArgs& args) const {
  const Loaded& l = m_impl->get(name, "technique");
  auto* object = static_cast<Technique*>(m_impl->create(l, args));
  return detail::adapt_technique(std::shared_ptr<Technique>(object, [library = l.library, info = l.info](Technique* p) {
                                   info->destroy(p, VIZRUN_KIND_TECHNIQUE);
                                 }),
                                 l.info->sdk_minor);
}

bool PluginRegistry::check_options(const std::string& name, const std::string& kind, const CreateArgs& args,
                                   OptionProblem& problem) const {
  const Loaded& l = m_impl->get(name, kind);
  if (!l.library->has(VIZRUN_PLUGIN_CHECK_SYMBOL)) return false;  // optional: most plugins have none
  auto& check = l.library->get<OptionCheckFn>(VIZRUN_PLUGIN_CHECK_SYMBOL);
  return check(&args, &problem) != 0;
}

}  // namespace vizrun::host
