#include "vizrun_models/keras_h5.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>

#include "vizrun/error.h"

namespace vizrun::models {

namespace {

/// Closes an HDF5 handle with the right function when it goes out of scope.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : m_id(id), m_closer(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : m_id(o.m_id), m_closer(o.m_closer) { o.m_id = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      m_id = o.m_id;
      m_closer = o.m_closer;
      o.m_id = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  void reset() {
    if (m_id >= 0 && m_closer) m_closer(m_id);
    m_id = -1;
  }
  hid_t get() const { return m_id; }
  bool valid() const { return m_id >= 0; }

 private:
  hid_t m_id = -1;
  Closer m_closer = nullptr;
};

void quiet_hdf5() {
  static bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

bool attribute_exists(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

bool link_exists(hid_t group, const std::string& name) { return H5Lexists(group, name.c_str(), H5P_DEFAULT) > 0; }

std::vector<std::string> read_one_string_attribute(hid_t object, const std::string& name) {
  Handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) throw Error("cannot open attribute '" + name + "'");
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<std::string> out;
  if (n <= 0) return out;  // an empty list may be stored with a non-string type
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw Error("attribute '" + name + "' holds " + std::to_string(n) + " values that are not strings");
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memtype.get(), H5T_VARIABLE);
    H5Tset_cset(memtype.get(), H5Tget_cset(type.get()));
    std::vector<char*> buffer(static_cast<std::size_t>(n), nullptr);
    if (H5Aread(attr.get(), memtype.get(), buffer.data()) < 0)
      throw Error("cannot read the variable-length strings of attribute '" + name + "'");
    for (char* s : buffer) out.emplace_back(s ? s : "");
    H5Dvlen_reclaim(memtype.get(), space.get(), H5P_DEFAULT, buffer.data());
  } else {
    std::size_t size = H5Tget_size(type.get());
    std::vector<char> buffer(static_cast<std::size_t>(n) * size);
    // Read with the stored type itself: raw bytes, padded with NULs or spaces.
    if (H5Aread(attr.get(), type.get(), buffer.data()) < 0)
      throw Error("cannot read the strings of attribute '" + name + "'");
    bool space_padded = H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD;
    for (hssize_t i = 0; i < n; ++i) {
      const char* s = buffer.data() + i * size;
      std::size_t len = strnlen(s, size);
      std::string value(s, len);
      if (space_padded)
        while (!value.empty() && value.back() == ' ') value.pop_back();
      out.push_back(std::move(value));
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> read_h5_string_list(std::int64_t object, const std::string& name, bool* found) {
  quiet_hdf5();
  hid_t id = static_cast<hid_t>(object);
  if (attribute_exists(id, name)) {
    if (found) *found = true;
    return read_one_string_attribute(id, name);
  }
  // Keras splits long lists into name0, name1, ... when they exceed the attribute size limit.
  std::vector<std::string> out;
  bool any = false;
  for (int i = 0; attribute_exists(id, name + std::to_string(i)); ++i) {
    any = true;
    auto part = read_one_string_attribute(id, name + std::to_string(i));
    out.insert(out.end(), part.begin(), part.end());
  }
  if (found) *found = any;
  return out;
}

std::string read_h5_root_string_attribute(const std::string& path, const std::string& name) {
  quiet_hdf5();
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error("'" + path + "' is not an HDF5 file");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) throw Error("cannot open HDF5 file '" + path + "'");
  Handle root(H5Gopen2(file.get(), "/", H5P_DEFAULT), H5Gclose);
  if (!root.valid() || !attribute_exists(root.get(), name)) return "";
  auto values = read_one_string_attribute(root.get(), name);
  return values.empty() ? "" : values[0];
}

struct KerasH5::Impl {
  Handle file;
  Handle root;  // the group holding layer_names (the root or model_weights)
};

KerasH5::KerasH5(const std::string& path, bool allow_keras3) : m_impl(std::make_unique<Impl>()), m_path(path) {
  quiet_hdf5();
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error("'" + path + "' is not an HDF5 file");
  m_impl->file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!m_impl->file.valid()) throw Error("cannot open HDF5 file '" + path + "'");
  hid_t f = m_impl->file.get();
  bool found = false;
  Handle top(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose);
  read_h5_string_list(top.get(), "layer_names", &found);
  if (found) {
    m_impl->root = std::move(top);
  } else if (link_exists(f, "model_weights")) {
    m_impl->root = Handle(H5Gopen2(f, "model_weights", H5P_DEFAULT), H5Gclose);
  } else if (allow_keras3 && link_exists(f, "layers")) {
    m_keras3 = true;
    m_impl->root = std::move(top);
    read_keras3_layers(m_impl->root.get(), "", "", 0);
    return;
  } else if (link_exists(f, "layers") || link_exists(f, "_layer_checkpoint_dependencies")) {
    throw Error("'" + path + "' is a Keras 3 '.weights.h5' file, which names weights by layer class, not by layer; "
                "save the weights in the legacy layout (a file name ending in .h5 but not .weights.h5) or as safetensors");
  } else {
    throw Error("'" + path + "' is an HDF5 file but not Keras weights: no 'layer_names' attribute and no 'model_weights' group");
  }
  hid_t g = m_impl->root.get();
  auto names = read_h5_string_list(g, "layer_names", &found);
  for (const auto& layer : names) {
    H5Layer L;
    L.name = layer;
    L.keras_name = layer;
    if (!link_exists(g, layer)) {
      // Layers without weights may have no group at all in some writers.
      m_layers.push_back(std::move(L));
      continue;
    }
    Handle lg(H5Gopen2(g, layer.c_str(), H5P_DEFAULT), H5Gclose);
    if (!lg.valid()) throw Error("'" + path + "': cannot open the group of layer '" + layer + "'");
    for (const auto& w : read_h5_string_list(lg.get(), "weight_names")) {
      Handle ds(H5Dopen2(lg.get(), w.c_str(), H5P_DEFAULT), H5Dclose);
      if (!ds.valid())
        throw Error("'" + path + "': layer '" + layer + "' lists weight '" + w + "' but has no such dataset");
      Handle space(H5Dget_space(ds.get()), H5Sclose);
      int rank = H5Sget_simple_extent_ndims(space.get());
      std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
      if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
      H5Weight weight;
      weight.name = w;
      for (auto d : dims) weight.shape.push_back(static_cast<std::int64_t>(d));
      L.weights.push_back(std::move(weight));
    }
    m_layers.push_back(std::move(L));
  }
}

namespace {

/// Names of the links in a group, in HDF5's name order.
std::vector<std::string> children(hid_t group) {
  std::vector<std::string> names;
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) return names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t size = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (size <= 0) continue;
    std::string name(static_cast<std::size_t>(size), '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

bool is_group(hid_t parent, const std::string& name) {
  H5O_info_t info;
  if (H5Oget_info_by_name(parent, name.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

}  // namespace

void KerasH5::read_keras3_layers(std::int64_t group, const std::string& path, const std::string& keras_prefix,
                                 int depth) {
  // Nested models nest their own layers/ groups; a bound keeps a hostile file finite.
  if (depth > 32) throw Error("'" + m_path + "': layers nested more than 32 deep");
  const hid_t g = static_cast<hid_t>(group);
  if (!link_exists(g, "layers") || !is_group(g, "layers")) return;
  // Hard links can make the tree a cycle: two such links alone would be read 2^32 times.
  H5O_info_t info;
  if (H5Oget_info_by_name(g, "layers", &info, H5P_DEFAULT) < 0)
    throw Error("'" + m_path + "': cannot read '" + path + "layers'");
  const auto address = static_cast<std::uint64_t>(info.addr);
  if (std::find(m_open_groups.begin(), m_open_groups.end(), address) != m_open_groups.end())
    throw Error("'" + m_path + "': '" + path + "layers' links back to an enclosing group (the layer tree is a cycle)");
  m_open_groups.push_back(address);
  Handle layers(H5Gopen2(g, "layers", H5P_DEFAULT), H5Gclose);
  for (const auto& child : children(layers.get())) {
    if (!is_group(layers.get(), child)) continue;
    Handle lg(H5Gopen2(layers.get(), child.c_str(), H5P_DEFAULT), H5Gclose);
    const std::string group_path = path + "layers/" + child;
    std::string keras_name = child;
    if (link_exists(lg.get(), "vars") && is_group(lg.get(), "vars")) {
      Handle vars(H5Gopen2(lg.get(), "vars", H5P_DEFAULT), H5Gclose);
      if (attribute_exists(vars.get(), "name")) {
        auto names = read_one_string_attribute(vars.get(), "name");
        if (!names.empty()) keras_name = names[0];
      }
      H5Layer L;
      L.named = keras_name != child || attribute_exists(vars.get(), "name");
      L.name = group_path;
      L.keras_name = keras_prefix + keras_name;
      // vars/0, vars/1, ...: the variable order; stop at the first gap.
      for (int i = 0; link_exists(vars.get(), std::to_string(i)); ++i) {
        const std::string w = "vars/" + std::to_string(i);
        Handle ds(H5Dopen2(lg.get(), w.c_str(), H5P_DEFAULT), H5Dclose);
        if (!ds.valid()) throw Error("'" + m_path + "': '" + group_path + "/" + w + "' is not a dataset");
        Handle space(H5Dget_space(ds.get()), H5Sclose);
        int rank = H5Sget_simple_extent_ndims(space.get());
        if (rank < 0 || rank > 8) throw Error("'" + m_path + "': '" + group_path + "/" + w + "' has an unusable shape");
        std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
        if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
        H5Weight weight;
        weight.name = w;
        for (auto d : dims) weight.shape.push_back(static_cast<std::int64_t>(d));
        L.weights.push_back(std::move(weight));
      }
      m_layers.push_back(std::move(L));
    }
    read_keras3_layers(lg.get(), group_path + "/", keras_prefix + keras_name + "/", depth + 1);
  }
  m_open_groups.pop_back();
}

KerasH5::~KerasH5() = default;

std::string KerasH5::attribute(const std::string& name) const {
  if (!attribute_exists(m_impl->root.get(), name)) return "";
  try {
    auto v = read_one_string_attribute(m_impl->root.get(), name);
    return v.empty() ? "" : v[0];
  } catch (const Error&) {
    return "";
  }
}

void KerasH5::read(std::size_t layer, std::size_t weight, float* dst, std::int64_t row0, std::int64_t rows) const {
  const H5Layer& L = m_layers.at(layer);
  const H5Weight& W = L.weights.at(weight);
  Handle lg(H5Gopen2(m_impl->root.get(), L.name.c_str(), H5P_DEFAULT), H5Gclose);
  Handle ds(H5Dopen2(lg.get(), W.name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) throw Error("'" + m_path + "': cannot open dataset '" + L.name + "/" + W.name + "'");
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT)
    throw Error("'" + m_path + "': dataset '" + L.name + "/" + W.name + "' is not floating point");
  herr_t status;
  if (rows < 0) {
    status = H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
  } else {
    if (W.shape.empty() || row0 < 0 || row0 + rows > W.shape[0])
      throw Error("'" + m_path + "': row range out of bounds for '" + L.name + "/" + W.name + "'");
    Handle fspace(H5Dget_space(ds.get()), H5Sclose);
    std::vector<hsize_t> start(W.shape.size(), 0), count(W.shape.begin(), W.shape.end());
    start[0] = static_cast<hsize_t>(row0);
    count[0] = static_cast<hsize_t>(rows);
    H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
    Handle mspace(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
    status = H5Dread(ds.get(), H5T_NATIVE_FLOAT, mspace.get(), fspace.get(), H5P_DEFAULT, dst);
  }
  if (status < 0) throw Error("'" + m_path + "': cannot read dataset '" + L.name + "/" + W.name + "'");
}

}  // namespace vizrun::models
