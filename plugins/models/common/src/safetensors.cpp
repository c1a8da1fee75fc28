#include "vizrun_models/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "vizrun/error.h"

namespace vizrun::models {

namespace {

const std::map<std::string, std::size_t>& dtype_sizes() {
  static const std::map<std::string, std::size_t> k{
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2},
      {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"F64", 8}, {"I64", 8},
      {"U64", 8}};
  return k;
}

std::uint64_t read_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

/// Nesting depth of a JSON text, ignoring brackets inside strings; rejects absurd
/// nesting before any parser recursion can happen.
std::size_t max_depth(const char* s, std::size_t n) {
  std::size_t depth = 0, worst = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      worst = std::max(worst, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return worst;
}

}  // namespace

std::size_t safetensors_dtype_size(const std::string& dtype) {
  auto it = dtype_sizes().find(dtype);
  if (it == dtype_sizes().end()) throw Error("unknown safetensors dtype '" + dtype + "'");
  return it->second;
}

std::vector<SafeTensor> parse_safetensors(const std::uint8_t* bytes, std::size_t size,
                                          std::map<std::string, std::string>* metadata) {
  auto bad = [](const std::string& why) { return Error("invalid safetensors file: " + why); };
  if (size < 8) throw bad("shorter than the 8-byte header length");
  std::uint64_t n = read_le64(bytes);
  if (n > kMaxSafetensorsHeader)
    throw bad("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxSafetensorsHeader));
  if (n > size - 8)
    throw bad("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
              " bytes)");
  if (n < 2) throw bad("header is too short to be a JSON object");
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  if (text[0] != '{') throw bad("header does not start with '{'");
  if (max_depth(text, n) > 4) throw bad("header nests deeper than a safetensors header can");
  nlohmann::json header = nlohmann::json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) throw bad("header is not a valid JSON object");

  const std::size_t data_size = size - 8 - static_cast<std::size_t>(n);
  const std::uint8_t* data = bytes + 8 + n;
  std::vector<SafeTensor> out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw bad("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw bad("__metadata__ value '" + m.key() + "' is not a string");
        if (metadata) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) throw bad("entry '" + name + "' is not an object");
    for (auto f = v.begin(); f != v.end(); ++f)
      if (f.key() != "dtype" && f.key() != "shape" && f.key() != "data_offsets")
        throw bad("entry '" + name + "' has an unexpected field '" + f.key() + "'");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad("entry '" + name + "' has no dtype string");
    if (!v.contains("shape") || !v["shape"].is_array()) throw bad("entry '" + name + "' has no shape list");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      throw bad("entry '" + name + "' needs data_offsets [begin, end]");
    SafeTensor t;
    t.name = name;
    t.dtype = v["dtype"].get<std::string>();
    if (!dtype_sizes().count(t.dtype))
      throw bad("entry '" + name + "' has unknown dtype '" + t.dtype + "'");
    std::uint64_t elements = 1;
    bool overflow = false;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw bad("entry '" + name + "' has a shape entry that is not a non-negative integer");
      std::uint64_t dim = d.get<std::uint64_t>();
      if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) overflow = true;
      else if (dim != 0 && elements > std::numeric_limits<std::uint64_t>::max() / dim) overflow = true;
      else elements *= dim;
      t.shape.push_back(static_cast<std::int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad("entry '" + name + "' has data_offsets that are not non-negative integers");
    std::uint64_t begin = off[0].get<std::uint64_t>(), end = off[1].get<std::uint64_t>();
    if (begin > end) throw bad("entry '" + name + "' has begin offset after end offset");
    if (end > data_size)
      throw bad("entry '" + name + "' ends at byte " + std::to_string(end) + " but the data section has " +
                std::to_string(data_size) + " bytes");
    std::uint64_t item = dtype_sizes().at(t.dtype);
    if (overflow || elements > std::numeric_limits<std::uint64_t>::max() / item || elements * item != end - begin)
      throw bad("entry '" + name + "' has " + std::to_string(end - begin) + " bytes, which does not match its dtype " +
                t.dtype + " and shape");
    t.begin = static_cast<std::size_t>(begin);
    t.end = static_cast<std::size_t>(end);
    t.data = data + begin;
    out.push_back(std::move(t));
  }
  std::vector<const SafeTensor*> by_offset;
  for (const auto& t : out) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const SafeTensor* a, const SafeTensor* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      throw bad("entries '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");
  return out;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : m_path(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    throw Error("'" + path + "' is empty or unreadable");
  }
  m_size = static_cast<std::size_t>(st.st_size);
  m_map = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m_map == MAP_FAILED) {
    m_map = nullptr;
    throw Error("cannot map '" + path + "' into memory");
  }
  try {
    m_tensors = parse_safetensors(static_cast<const std::uint8_t*>(m_map), m_size, &m_metadata);
  } catch (const Error& e) {
    ::munmap(m_map, m_size);
    m_map = nullptr;
    throw Error("'" + path + "': " + e.what());
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (m_map) ::munmap(m_map, m_size);
}

void write_safetensors(const std::string& path, const std::vector<SafeTensorOut>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::size_t offset = 0;
  for (const auto& t : tensors) {
    std::size_t bytes = t.values.size() * 4;
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8) text += ' ';
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error("cannot write '" + path + "'");
  std::uint8_t len[8];
  std::uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
  std::fwrite(len, 1, 8, f);
  std::fwrite(text.data(), 1, text.size(), f);
  // Data goes in the order the offsets were assigned above.
  for (const auto& t : tensors) std::fwrite(t.values.data(), 4, t.values.size(), f);
  std::fclose(f);
}

}  // namespace vizrun::models
