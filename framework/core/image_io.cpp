#include "vizrun_host/image_io.h"

#include <OpenImageIO/filesystem.h>
#include <OpenImageIO/imageio.h>
#include <torch/types.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "vizrun/error.h"
#include "vizrun/memory.h"
#include "vizrun_host/files.h"

namespace vizrun::host {
namespace {

std::string megapixels(std::int64_t pixels) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f megapixels", static_cast<double>(pixels) / 1e6);
  return buf;
}

}  // namespace

at::Tensor read_image(const std::string& path, std::int64_t max_pixels) {
  auto in = OIIO::ImageInput::open(path);
  if (!in) throw Error(path + ": cannot read image: " + OIIO::geterror());
  // The header says how large the picture is: a small file can claim 20000 x 20000
  // pixels (a "decompression bomb"), so refuse before anything is decoded.
  const OIIO::ImageSpec& spec = in->spec();
  const std::int64_t w = spec.width, h = spec.height, c = spec.nchannels;
  const std::string size = std::to_string(w) + "x" + std::to_string(h);
  if (w <= 0 || h <= 0 || c <= 0) throw Error(path + ": cannot read image: its header claims " + size + " pixels");
  if (max_pixels > 0 && w * h > max_pixels) {
    throw Error(path + ": image of " + size + " pixels (" + megapixels(w * h) + ") is larger than max_image_pixels " +
                std::to_string(max_pixels) + " (" + megapixels(max_pixels) +
                "); raise max_image_pixels in the experiment to allow it");
  }
  // The decoded bytes, the RGB float copy and OpenImageIO's own buffer.
  require_memory(path + ": decoding " + size + " pixels", static_cast<double>(w * h) * (2.0 * c + 4.0 * 3));
  auto pixels = torch::empty({h, w, c}, torch::kUInt8);
  if (!in->read_image(0, 0, 0, static_cast<int>(c), OIIO::TypeDesc::UINT8, pixels.data_ptr())) {
    throw Error(path + ": cannot decode image: " + in->geterror());
  }
  in->close();
  at::Tensor rgb;
  if (c == 1 || c == 2) {
    rgb = pixels.narrow(2, 0, 1).expand({h, w, 3});
  } else {
    rgb = pixels.narrow(2, 0, 3);
  }
  return rgb.permute({2, 0, 1}).to(torch::kFloat32).contiguous();
}

void write_png(const std::string& path, const at::Tensor& hwc_uint8) {
  at::Tensor img = hwc_uint8;
  if (img.dim() == 2) img = img.unsqueeze(2);
  if (img.dim() != 3 || img.scalar_type() != torch::kUInt8) {
    throw Error("cannot write " + path + ": expected a uint8 {H, W, C} image, got " +
                std::string(img.scalar_type() == torch::kUInt8 ? "uint8" : "non-uint8") + " tensor of " +
                std::to_string(img.dim()) + " dimensions");
  }
  const int c = static_cast<int>(img.size(2));
  if (c != 1 && c != 3 && c != 4) throw Error("cannot write " + path + ": images need 1, 3 or 4 channels");
  img = img.to(torch::kCPU).contiguous();

  // Encoded in memory, then written like every other file (temp, fsync, rename): a
  // full disk is a clean error, never a truncated picture under the final name.
  OIIO::ImageSpec spec(static_cast<int>(img.size(1)), static_cast<int>(img.size(0)), c, OIIO::TypeDesc::UINT8);
  std::vector<unsigned char> png;
  OIIO::Filesystem::IOVecOutput memory(png);
  auto out = OIIO::ImageOutput::create("png", &memory);
  if (!out || !out->supports("ioproxy")) throw Error("cannot write " + path + ": no in-memory PNG encoder in OpenImageIO");
  out->set_ioproxy(&memory);
  if (!out->open(path, spec) || !out->write_image(OIIO::TypeDesc::UINT8, img.data_ptr()) || !out->close()) {
    throw Error("cannot write " + path + ": " + out->geterror());
  }
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

std::string encode_npy(const at::Tensor& values) {
  at::Tensor t = values.detach().to(torch::kCPU).contiguous();
  std::string descr;
  switch (t.scalar_type()) {
    case torch::kFloat32: descr = "<f4"; break;
    case torch::kFloat64: descr = "<f8"; break;
    case torch::kInt64: descr = "<i8"; break;
    case torch::kInt32: descr = "<i4"; break;
    case torch::kUInt8: descr = "|u1"; break;
    case torch::kBFloat16:
    case torch::kFloat16:
      t = t.to(torch::kFloat32);
      descr = "<f4";
      break;
    default: throw Error("cannot save array: unsupported dtype " + std::string(c10::toString(t.scalar_type())));
  }
  std::ostringstream shape;
  shape << "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape << (i ? ", " : "") << t.size(i);
  shape << (t.dim() == 1 ? ",)" : ")");
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape.str() + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

}  // namespace vizrun::host
