#include "npy.h"

#include <ATen/ATen.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace vizrun::testing {

at::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  char magic[6];
  in.read(magic, 6);
  if (std::string(magic, 6) != "\x93NUMPY") throw std::runtime_error(path + ": not a .npy file");
  unsigned char version[2];
  in.read(reinterpret_cast<char*>(version), 2);
  std::uint32_t header_len = 0;
  if (version[0] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  auto field = [&](const std::string& key) {
    auto p = header.find("'" + key + "':");
    if (p == std::string::npos) throw std::runtime_error(path + ": header lacks " + key);
    return header.substr(p + key.size() + 3);
  };
  std::string descr = field("descr");
  descr = descr.substr(descr.find('\'') + 1);
  descr = descr.substr(0, descr.find('\''));
  if (field("fortran_order").find("True") < field("fortran_order").find(',')) throw std::runtime_error(path + ": Fortran order");
  std::string shape_text = field("shape");
  shape_text = shape_text.substr(shape_text.find('(') + 1);
  shape_text = shape_text.substr(0, shape_text.find(')'));
  std::vector<std::int64_t> shape;
  std::stringstream ss(shape_text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(item));
  at::ScalarType type;
  if (descr == "<f4") type = at::kFloat;
  else if (descr == "<f8") type = at::kDouble;
  else if (descr == "|u1") type = at::kByte;
  else if (descr == "<i8") type = at::kLong;
  else throw std::runtime_error(path + ": unsupported dtype " + descr);
  at::Tensor t = at::empty(shape, type);
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) throw std::runtime_error(path + ": truncated data");
  return t;
}

}  // namespace vizrun::testing

namespace vizrun::testing {
void write_npy(const std::string& path, const at::Tensor& tensor) {
  const at::Tensor t = tensor.contiguous().cpu();
  std::string descr;
  switch (t.scalar_type()) {
    case at::kFloat: descr = "<f4"; break;
    case at::kDouble: descr = "<f8"; break;
    case at::kByte: descr = "|u1"; break;
    case at::kLong: descr = "<i8"; break;
    default: throw std::runtime_error("write_npy: unsupported dtype");
  }
  std::string shape = "(";
  for (std::int64_t i = 0; i < t.dim(); ++i) shape += std::to_string(t.size(i)) + (t.dim() == 1 || i + 1 < t.dim() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<std::uint16_t>(header.size());
  const char l[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(l, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
}
}  // namespace vizrun::testing
