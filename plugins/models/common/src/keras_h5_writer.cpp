#include "vizrun_models/keras_h5_writer.h"

#include <hdf5.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>

#include "vizrun/error.h"

namespace vizrun::models {

namespace {

void check(herr_t status, const std::string& what) {
  if (status < 0) throw Error("HDF5 write failed: " + what);
}

void write_strings(hid_t object, const std::string& name, const std::vector<std::string>& values, bool vlen) {
  hsize_t n = values.size();
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t type = H5Tcopy(H5T_C_S1);
  if (values.empty()) {
    // What h5py writes for an empty Python list: a zero-length float array.
    H5Tclose(type);
    type = H5Tcopy(H5T_NATIVE_FLOAT);
    hid_t attr = H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Aclose(attr);
  } else if (vlen) {
    H5Tset_size(type, H5T_VARIABLE);
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    hid_t attr = H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    check(H5Awrite(attr, type, ptrs.data()), name);
    H5Aclose(attr);
  } else {
    std::size_t size = 1;
    for (const auto& v : values) size = std::max(size, v.size());
    H5Tset_size(type, size);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    std::vector<char> buffer(values.size() * size, '\0');
    for (std::size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buffer.begin() + i * size);
    hid_t attr = H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    check(H5Awrite(attr, type, buffer.data()), name);
    H5Aclose(attr);
  }
  H5Tclose(type);
  H5Sclose(space);
}

void write_list(hid_t object, const std::string& name, const std::vector<std::string>& values,
                const KerasH5WriteOptions& o) {
  if (o.names_per_chunk == 0 || values.size() <= o.names_per_chunk) {
    write_strings(object, name, values, o.variable_length_strings);
    return;
  }
  for (std::size_t c = 0, i = 0; i < values.size(); ++c, i += o.names_per_chunk) {
    std::vector<std::string> part(values.begin() + i,
                                  values.begin() + std::min(values.size(), i + o.names_per_chunk));
    write_strings(object, name + std::to_string(c), part, o.variable_length_strings);
  }
}

void write_scalar_string(hid_t object, const std::string& name, const std::string& value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  const char* p = value.c_str();
  hid_t attr = H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  check(H5Awrite(attr, type, &p), name);
  H5Aclose(attr);
  H5Tclose(type);
  H5Sclose(space);
}

std::string weight_name(const std::string& layer, const std::string& var, const std::string& naming) {
  if (naming == "keras1") {
    std::string v = var == "kernel" ? "W" : var == "bias" ? "b" : var;
    return layer + "_" + v + "_1:0";
  }
  if (naming == "keras3") return layer + "/" + var;
  return layer + "/" + var + ":0";
}

/// The parameter in Keras layout, as a contiguous CPU float tensor.
at::Tensor to_keras(const ParamSpec& p) {
  at::Tensor t = p.tensor.detach().to(torch::kCPU, torch::kFloat32);
  if (t.dim() == 4) return t.permute({2, 3, 1, 0}).contiguous();
  if (t.dim() == 2) {
    const Shape& chw = p.flattened_from;
    if (chw.size() == 3)  // LibTorch columns C,H,W -> Keras rows H,W,C
      return t.view({t.size(0), chw[0], chw[1], chw[2]}).permute({2, 3, 1, 0}).reshape({-1, t.size(0)}).contiguous();
    return t.t().contiguous();
  }
  return t.contiguous();
}

/// The snake-case class name Keras 3 gives a layer's group, told from its weights (the
/// writer knows shapes, not classes): what the reader must not rely on.
std::string keras3_group_class(const H5OutLayer& l) {
  if (l.weights.size() == 4) return "batch_normalization";
  if (!l.weights.empty() && l.weights[0].shape.size() == 4) return "conv2d";
  if (!l.weights.empty() && l.weights[0].shape.size() == 2) return "dense";
  return "layer";
}

void write_dataset(hid_t group, const std::string& name, const H5OutWeight& w, hid_t lcpl, const std::string& path) {
  std::vector<hsize_t> dims(w.shape.begin(), w.shape.end());
  std::size_t n = 1;
  for (auto d : w.shape) n *= static_cast<std::size_t>(d);
  std::vector<float> data(n);
  w.fill(data.data());
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t ds = H5Dcreate2(group, name.c_str(), H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0) throw Error("cannot create dataset '" + name + "' in '" + path + "'");
  check(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), name);
  H5Dclose(ds);
  H5Sclose(space);
}

/// Keras 3's `.weights.h5`: layers/<class>[_k]/vars/<i>, the layer's name as an attribute.
void write_keras3_weights(hid_t file, const std::vector<H5OutLayer>& layers, const std::string& path) {
  hid_t top = H5Gcreate2(file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (top < 0) throw Error("cannot create group 'layers' in '" + path + "'");
  std::map<std::string, int> used;
  for (const auto& l : layers) {
    const std::string cls = keras3_group_class(l);
    const int k = used.count(cls) ? ++used[cls] : (used[cls] = 0);
    const std::string group = k == 0 ? cls : cls + "_" + std::to_string(k);
    hid_t g = H5Gcreate2(top, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t vars = H5Gcreate2(g, "vars", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0 || vars < 0) throw Error("cannot create group 'layers/" + group + "/vars' in '" + path + "'");
    write_scalar_string(vars, "name", l.name);
    for (std::size_t i = 0; i < l.weights.size(); ++i) write_dataset(vars, std::to_string(i), l.weights[i], H5P_DEFAULT, path);
    H5Gclose(vars);
    H5Gclose(g);
  }
  H5Gclose(top);
}

}  // namespace

void write_keras_h5_layers(const std::string& path, const std::vector<H5OutLayer>& layers,
                           const KerasH5WriteOptions& o) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) throw Error("cannot create '" + path + "'");
  if (o.keras3_weights_layout) {
    write_keras3_weights(file, layers, path);
    if (H5Fclose(file) < 0) throw Error("cannot finish writing '" + path + "'");
    return;
  }
  hid_t root = o.model_weights_group ? H5Gcreate2(file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                                     : H5Gopen2(file, "/", H5P_DEFAULT);
  std::vector<std::string> layer_names;
  for (const auto& l : layers) layer_names.push_back(l.name);
  write_list(root, "layer_names", layer_names, o);
  if (o.write_version_attributes) {
    write_scalar_string(root, "backend", "tensorflow");
    write_scalar_string(root, "keras_version", o.naming == "keras1" ? "1.2.2" : o.naming == "keras2" ? "2.15.0" : "3.0.0");
  }
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  for (const auto& l : layers) {
    hid_t g = H5Gcreate2(root, l.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) throw Error("cannot create group '" + l.name + "' in '" + path + "'");
    std::vector<std::string> names;
    for (const auto& w : l.weights) names.push_back(w.name);
    write_list(g, "weight_names", names, o);
    for (const auto& w : l.weights) write_dataset(g, w.name, w, lcpl, path);
    H5Gclose(g);
  }
  H5Pclose(lcpl);
  H5Gclose(root);
  if (H5Fclose(file) < 0) throw Error("cannot finish writing '" + path + "'");
}

void write_keras_h5(const Graph& graph, const std::string& path, const KerasH5WriteOptions& o) {
  auto file_name = [&](const std::string& layer) {
    auto it = o.rename.find(layer);
    return it == o.rename.end() ? layer : it->second;
  };
  std::vector<H5OutLayer> layers;
  for (const auto& n : graph.nodes()) {
    H5OutLayer l;
    l.name = file_name(n.name);
    for (int pi : n.params) {
      const ParamSpec& p = graph.params()[pi];
      H5OutWeight w;
      w.name = weight_name(l.name, p.keras_var, o.naming);
      at::Tensor t = to_keras(p);
      w.shape = t.sizes().vec();
      w.fill = [t](float* dst) { std::memcpy(dst, t.data_ptr<float>(), t.numel() * sizeof(float)); };
      l.weights.push_back(std::move(w));
    }
    layers.push_back(std::move(l));
  }
  write_keras_h5_layers(path, layers, o);
}

}  // namespace vizrun::models
