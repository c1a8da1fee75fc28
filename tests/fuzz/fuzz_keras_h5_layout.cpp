// libFuzzer target: the Keras HDF5 layout readers, on files that are valid HDF5.
//
// fuzz_keras_h5 mutates the bytes of a file, so most of its inputs stop in libhdf5's
// own parser, and a corrupt global heap crashes libhdf5 1.10.8 itself (README.md).
// This target fuzzes what vizrun's code decides instead: the input is a recipe that
// libhdf5's writer turns into a well-formed file, with every layout choice the
// readers meet in the wild or from an attacker: the legacy root or model_weights
// layout or Keras 3's layers/<class>/vars/<i>; layer_names and weight_names as
// fixed, space-padded or variable-length strings, split into numbered chunks, empty,
// of the wrong type or rank; layers renamed, dropped, repeated, missing their group
// or given a dataset instead; weights renamed, missing, as absolute paths, soft
// links (dangling, or to each other), of any type, rank and size (a declared
// 2^40-element kernel costs no disk), chunked, compressed or compact, holding NaN;
// nested models and hard links that make the group tree a cycle; a model_config
// that matches the layers, or does not.
//
// The file is then read three ways: KerasH5 (every listed weight read as float),
// load_weights into the small model of tiny_graph.h, and the keras backend's
// KerasModelFile + build_keras_model + load_keras_model_weights.
// Invariants: every listed dataset reads with the shape reported; the unmutated
// recipe (the empty input) loads both ways, so a reader that refuses good files is a
// finding too.

#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "h5_reads.h"
#include "tiny_graph.h"
#include "vizrun_models/keras_h5.h"
#include "vizrun_models/keras_model.h"
#include "vizrun_models/weights.h"

using namespace vizrun::models;

namespace {

struct Var {
  std::string name;             // weight_names entry (legacy) or position (Keras 3)
  std::vector<hsize_t> shape;   // Keras layout
};

struct Layer {
  std::string name, keras_class;
  std::vector<Var> vars;
  std::string keras3_group;  // Keras 3 names a layer's group after its class
};

/// The file the recipe starts from: tiny_graph's conv / flat / fc, optionally with a
/// BatchNormalization after the convolution (which tiny_graph lacks).
std::vector<Layer> canonical_layers(bool with_bn) {
  std::vector<Layer> layers;
  layers.push_back({"conv", "Conv2D", {{"conv/kernel:0", {3, 3, 1, 2}}, {"conv/bias:0", {2}}}, "conv2d"});
  if (with_bn) {
    layers.push_back({"bn", "BatchNormalization",
                      {{"bn/gamma:0", {2}}, {"bn/beta:0", {2}}, {"bn/moving_mean:0", {2}}, {"bn/moving_variance:0", {2}}},
                      "batch_normalization"});
  }
  layers.push_back({"flat", "Flatten", {}, "flatten"});
  layers.push_back({"fc", "Dense", {{"fc/kernel:0", {8, 3}}, {"fc/bias:0", {3}}}, "dense"});
  return layers;
}

/// model.to_json() of the layers as a Keras 2 Sequential model.
std::string model_config(const std::vector<Layer>& layers) {
  std::string json = R"({"class_name": "Sequential", "config": {"name": "seq", "layers": [)"
                     R"({"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 4, 1], "name": "input"}})";
  for (const auto& l : layers) {
    json += R"(, {"class_name": ")" + l.keras_class + R"(", "config": {"name": ")" + l.name + "\"";
    if (l.keras_class == "Conv2D") json += R"(, "filters": 2, "kernel_size": [3, 3], "padding": "valid", "activation": "relu")";
    if (l.keras_class == "BatchNormalization") json += R"(, "epsilon": 0.001)";
    if (l.keras_class == "Dense") json += R"(, "units": 3)";
    json += "}}";
  }
  return json + "]}}";
}

/// Text the fuzzer may pick for a name: the pieces the readers split names on,
/// path syntax, and anything at all.
std::string odd_name(FuzzedDataProvider& in) {
  static const char* const words[] = {"conv", "fc", "flat", "bn", "probs", "extra", "kernel:0", "bias:0", "vars", "layers",
                                      "model_weights", "conv/kernel:0", "fc/bias", "/conv/conv/kernel:0", "../fc",
                                      "a/b/c/d:0", "kernel:x", ":0", "/", "", " ", "conv_W_1:0", "dense/kernel:0"};
  const std::size_t n = sizeof words / sizeof words[0];
  const std::size_t pick = in.ConsumeIntegralInRange<std::size_t>(0, n);
  return pick < n ? words[pick] : in.ConsumeRandomLengthString(16);
}

/// Writes HDF5 objects for the recipe; a call libhdf5 refuses (a name it cannot take)
/// just leaves that object out: the file stays valid.
class Writer {
 public:
  Writer(FuzzedDataProvider& in, hid_t file) : m_in(in), m_file(file) {
    m_lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(m_lcpl, 1);
  }
  ~Writer() { H5Pclose(m_lcpl); }

  /// A list of strings in one of the ways files store them, or deliberately not
  /// (returns false for those: integers, a 2-D array).
  bool string_list(hid_t object, const std::string& name, const std::vector<std::string>& values) {
    const int mode = m_in.ConsumeIntegralInRange(0, 7);
    std::size_t per_chunk = values.size();
    if (mode == 1 && !values.empty()) per_chunk = m_in.ConsumeIntegralInRange<std::size_t>(1, values.size());
    if (per_chunk == values.size() || values.empty()) {
      return string_attribute(object, name, values, mode);
    }
    for (std::size_t c = 0, i = 0; i < values.size(); ++c, i += per_chunk) {  // Keras' name0, name1, ...
      const std::vector<std::string> part(values.begin() + static_cast<std::ptrdiff_t>(i),
                                          values.begin() + static_cast<std::ptrdiff_t>(std::min(values.size(), i + per_chunk)));
      string_attribute(object, name + std::to_string(c), part, 0);
    }
    return true;
  }

  /// Returns false for the ways no writer stores a list: integers, a 2-D array, a
  /// scalar holding only the first of several strings.
  bool string_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values, int mode) {
    const bool usual = mode < 5 || (mode == 5 && values.size() == 1);
    hsize_t n = values.size();
    hid_t space = mode == 5 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
    if (mode == 6) {  // integers where strings belong
      std::vector<int> numbers(values.size(), 7);
      hid_t a = H5Acreate2(object, name.c_str(), H5T_NATIVE_INT, space, H5P_DEFAULT, H5P_DEFAULT);
      if (a >= 0) H5Awrite(a, H5T_NATIVE_INT, numbers.data()), H5Aclose(a);
      H5Sclose(space);
      return usual;
    }
    if (mode == 7) {  // a 2-D array of strings
      H5Sclose(space);
      hsize_t dims[2] = {n, 1};
      space = H5Screate_simple(2, dims, nullptr);
    }
    hid_t type = H5Tcopy(H5T_C_S1);
    const bool variable = mode == 3 || mode == 4 || mode == 5;
    if (variable) {
      H5Tset_size(type, H5T_VARIABLE);
      if (mode == 4) H5Tset_cset(type, H5T_CSET_UTF8);
    } else {
      std::size_t longest = 1;
      for (const auto& v : values) longest = std::max(longest, v.size());
      H5Tset_size(type, longest);
      H5Tset_strpad(type, mode == 2 ? H5T_STR_SPACEPAD : H5T_STR_NULLPAD);
    }
    hid_t a = H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && !values.empty()) {
      if (variable) {
        std::vector<const char*> pointers;
        for (const auto& v : values) pointers.push_back(v.c_str());
        H5Awrite(a, type, pointers.data());
      } else {
        const std::size_t size = H5Tget_size(type);
        std::vector<char> buffer(values.size() * size, mode == 2 ? ' ' : '\0');
        for (std::size_t i = 0; i < values.size(); ++i) std::memcpy(buffer.data() + i * size, values[i].data(), values[i].size());
        H5Awrite(a, type, buffer.data());
      }
    }
    if (a >= 0) H5Aclose(a);
    H5Tclose(type);
    H5Sclose(space);
    return usual;
  }

  /// A weight: usually as Keras writes it, or changed in shape, type, storage or values.
  /// Returns false when the recipe changed it.
  bool dataset(hid_t group, const std::string& path, std::vector<hsize_t> shape) {
    const int op = m_in.ConsumeIntegralInRange(0, 11);
    if (op == 1) return false;  // listed, not written
    if (op == 2) {              // a soft link: to the first weight written, or to nowhere
      H5Lcreate_soft(m_first_dataset.empty() ? "/nowhere" : m_first_dataset.c_str(), group, path.c_str(), m_lcpl, H5P_DEFAULT);
      return false;
    }
    if (op == 3) {  // another shape
      const int rank = m_in.ConsumeIntegralInRange(0, 5);
      shape.clear();
      for (int i = 0; i < rank; ++i) shape.push_back(m_in.ConsumeIntegralInRange<hsize_t>(0, 9));
    }
    const bool huge = op == 4;  // declared, never allocated
    if (huge) shape = {hsize_t{1} << m_in.ConsumeIntegralInRange(20, 40), m_in.ConsumeIntegralInRange<hsize_t>(1, 1 << 20)};
    hid_t type = H5Tcopy(H5T_IEEE_F32LE);
    if (op == 5) {
      H5Tclose(type);
      switch (m_in.ConsumeIntegralInRange(0, 5)) {
        case 0: type = H5Tcopy(H5T_IEEE_F64LE); break;
        case 1: type = H5Tcopy(H5T_IEEE_F32BE); break;
        case 2: type = H5Tcopy(H5T_STD_I32LE); break;
        case 3: type = H5Tcopy(H5T_STD_U8LE); break;
        case 4: type = H5Tcopy(H5T_C_S1), H5Tset_size(type, 4); break;
        default:  // IEEE half precision, as mixed-precision Keras models store it
          type = H5Tcopy(H5T_IEEE_F32LE);
          H5Tset_fields(type, 15, 10, 5, 0, 10);
          H5Tset_ebias(type, 15);
          H5Tset_precision(type, 16);
          H5Tset_size(type, 2);
      }
    }
    hid_t space;
    if (shape.empty()) space = H5Screate(op == 6 ? H5S_NULL : H5S_SCALAR);
    else space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    const int storage = huge ? 1 : op == 7 ? m_in.ConsumeIntegralInRange(1, 3) : 0;
    if (storage == 1 || storage == 2) {
      std::vector<hsize_t> chunk;
      for (auto d : shape) chunk.push_back(std::max<hsize_t>(1, std::min<hsize_t>(d, 2)));
      if (!chunk.empty()) H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
      if (storage == 2) H5Pset_deflate(dcpl, 1);
    } else if (storage == 3) {
      H5Pset_layout(dcpl, H5D_COMPACT);
    }
    hid_t d = H5Dcreate2(group, path.c_str(), type, space, m_lcpl, dcpl, H5P_DEFAULT);
    if (d >= 0) {
      std::uint64_t count = 1;
      for (auto s : shape) count *= s;
      if (!huge && count > 0 && count <= 4096 && H5Tget_class(type) != H5T_STRING && !(shape.empty() && op == 6)) {
        std::vector<float> values(count);
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * static_cast<float>(i % 97) - 0.3f;
        if (op == 8) {  // the fuzzer's own numbers: NaN, infinities, denormals
          const std::string bytes = m_in.ConsumeBytesAsString(std::min<std::size_t>(values.size() * 4, 64));
          std::memcpy(values.data(), bytes.data(), bytes.size());
        }
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
      }
      if (m_first_dataset.empty()) {
        char where[512];
        if (H5Iget_name(d, where, sizeof where) > 0) m_first_dataset = where;
      }
      H5Dclose(d);
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(type);
    return op == 0 || op > 8;
  }

  hid_t lcpl() const { return m_lcpl; }

 private:
  FuzzedDataProvider& m_in;
  hid_t m_file;
  hid_t m_lcpl;
  std::string m_first_dataset;
};

/// The legacy layout (save_weights, model.save to .h5): layer_names on the weights
/// group, one group per layer with weight_names and datasets at those paths.
bool write_legacy(FuzzedDataProvider& in, Writer& w, hid_t root, std::vector<Layer>& layers) {
  bool pristine = true;
  std::vector<std::string> listed;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    Layer& l = layers[i];
    const int op = in.ConsumeIntegralInRange(0, 9);
    if (op == 1) l.name = odd_name(in);                        // renamed (the loaders may match by order)
    if (op == 7 && i + 1 < layers.size()) std::swap(l, layers[i + 1]);  // out of order
    if (op != 2) listed.push_back(l.name);                     // op 2: not listed
    if (op == 3) listed.push_back(l.name);                     // listed twice
    if (op == 6) listed.push_back(odd_name(in));               // a layer the file lacks
    if (op >= 1 && op <= 7) pristine = false;
    if (op == 4) continue;                                     // listed, no group
    if (op == 5) {                                             // a dataset where the group belongs
      hsize_t one = 1;
      hid_t s = H5Screate_simple(1, &one, nullptr);
      hid_t d = H5Dcreate2(root, l.name.c_str(), H5T_IEEE_F32LE, s, w.lcpl(), H5P_DEFAULT, H5P_DEFAULT);
      if (d >= 0) H5Dclose(d);
      H5Sclose(s);
      continue;
    }
    hid_t g = H5Gcreate2(root, l.name.c_str(), w.lcpl(), H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
      pristine = false;
      continue;
    }
    std::vector<std::string> names;
    for (auto& v : l.vars) {
      if (in.ConsumeIntegralInRange(0, 7) == 1) {
        v.name = odd_name(in);
        pristine = false;
      }
      names.push_back(v.name);
    }
    if (in.ConsumeIntegralInRange(0, 7) == 1) {
      names.push_back(odd_name(in));  // a weight the group lacks
      pristine = false;
    }
    pristine &= w.string_list(g, "weight_names", names);
    for (const auto& v : l.vars) pristine &= w.dataset(g, v.name, v.shape);
    H5Gclose(g);
  }
  pristine &= w.string_list(root, "layer_names", listed);
  return pristine;
}

/// Keras 3's .weights.h5: layers/<class>/vars/<i>, the vars group's `name` attribute
/// naming the layer, nested models under their own layers/ group.
bool write_keras3(FuzzedDataProvider& in, Writer& w, hid_t file, const std::vector<Layer>& layers) {
  bool pristine = true;
  for (const auto& l : layers) {
    const int op = in.ConsumeIntegralInRange(0, 9);
    std::string group = "layers/" + l.keras3_group;
    if (op == 1) group = "layers/" + odd_name(in);
    if (op == 2) group = "layers/inner/layers/" + l.keras3_group;  // inside a nested model
    hid_t g = H5Gcreate2(file, group.c_str(), w.lcpl(), H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
      pristine = false;
      continue;
    }
    if (op == 3) {  // this layer's nested layers/ is the root, or the layers/ it sits in: a cycle
      H5Lcreate_hard(file, in.ConsumeBool() ? "/" : "/layers", g, "layers", H5P_DEFAULT, H5P_DEFAULT);
      pristine = false;
    }
    if (op >= 1 && op <= 7) pristine = false;
    if (!l.vars.empty() || op == 4) {
      hid_t vars = H5Gcreate2(g, "vars", w.lcpl(), H5P_DEFAULT, H5P_DEFAULT);
      if (vars >= 0) {
        if (op != 5) pristine &= w.string_attribute(vars, "name", {op == 6 ? odd_name(in) : l.name}, in.ConsumeIntegralInRange(0, 7));
        for (std::size_t i = 0; i < l.vars.size(); ++i) {
          const std::string index = std::to_string(op == 7 && i > 0 ? i + 1 : i);  // op 7: a gap
          pristine &= w.dataset(vars, index, l.vars[i].shape);
        }
        H5Gclose(vars);
      }
    }
    H5Gclose(g);
  }
  return pristine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = vizrun::fuzz::scratch_file("-layout.h5");
  static const bool quiet = (H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr), true);
  (void)quiet;
  FuzzedDataProvider in(data, size);

  // Write the file the recipe describes.
  const int layout = in.ConsumeIntegralInRange(0, 3);  // 0 root, 1 model_weights, 2 Keras 3, 3 root + a stray layers/
  const bool with_bn = in.ConsumeBool();
  std::vector<Layer> layers = canonical_layers(with_bn);
  bool pristine = true;
  std::string config;
  {
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return 0;
    Writer w(in, file);
    if (layout == 2) {
      pristine &= write_keras3(in, w, file, layers);
    } else {
      hid_t root = layout == 1 ? H5Gcreate2(file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                               : H5Gopen2(file, "/", H5P_DEFAULT);
      pristine &= write_legacy(in, w, root, layers);
      if (in.ConsumeIntegralInRange(0, 3) != 1) {
        w.string_attribute(root, "keras_version", {"2.15.0"}, in.ConsumeIntegralInRange(0, 7));
        w.string_attribute(root, "backend", {"tensorflow"}, in.ConsumeIntegralInRange(0, 7));
      }
      H5Gclose(root);
      if (layout == 3) H5Gclose(H5Gcreate2(file, "layers/x/vars", w.lcpl(), H5P_DEFAULT, H5P_DEFAULT));
    }
    // model.save's architecture (layers as they were before any renaming: the file may disagree).
    config = model_config(canonical_layers(with_bn));
    const int config_op = in.ConsumeIntegralInRange(0, 4);
    if (config_op == 1) config = in.ConsumeRandomLengthString(256);
    if (config_op == 2) config.resize(in.ConsumeIntegralInRange<std::size_t>(0, config.size()));
    if (config_op != 3) {
      hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
      w.string_attribute(root, "model_config", {config}, config_op == 4 ? in.ConsumeIntegralInRange(0, 7) : 0);
      H5Gclose(root);
    }
    pristine &= config_op == 0;
    H5Fclose(file);
  }

  // Read it: the weights reader alone...
  vizrun::fuzz::refusals_only([&] {
    KerasH5 file(path, /*allow_keras3=*/true);
    (void)file.attribute("keras_version");
    vizrun::fuzz::read_every_weight(file);
  });
  // ...the model kit's loader into tiny_graph (which has no BatchNormalization)...
  std::string why;  // the refusal, shown when an invariant needs it
  auto remember = [&why](auto&& body) {
    return [&why, body] {
      try {
        body();
      } catch (const vizrun::Error& e) {
        why = e.what();
        throw;
      }
    };
  };
  bool loaded = false;
  auto graph = vizrun::fuzz::tiny_graph();
  vizrun::fuzz::refusals_only(remember([&] {
    load_weights(*graph, path, nullptr, 0, vizrun::fuzz::tiny_plan());
    loaded = true;
  }));
  if (pristine && !with_bn && layout != 2 && !loaded) std::fprintf(stderr, "refused: %s\n", why.c_str());
  if (pristine && !with_bn && layout != 2) FUZZ_CHECK(loaded);
  // ...and the keras backend's whole-model path.
  bool built = false;
  vizrun::fuzz::refusals_only(remember([&] {
    KerasModelFile file(path);
    KerasModel model = build_keras_model(file.config_json(), path);
    load_keras_model_weights(model, file);
    built = true;
  }));
  if (pristine && !built) std::fprintf(stderr, "refused: %s\n", why.c_str());
  if (pristine) FUZZ_CHECK(built);
  return 0;
}
