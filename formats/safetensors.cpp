#include "formats/safetensors.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "formats/json_file.h"
#include "lib/base/error.h"

namespace mp {

namespace {

// Headers are JSON text; anything near this size is a corrupt length field, not a header.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

TensorInfo parse_entry(const std::string& path, const std::string& name,
                       const nlohmann::json& entry) {
  auto bad = [&](const std::string& what) { fail_input(path, "tensor '" + name + "': " + what); };
  if (!entry.is_object()) bad("entry is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) bad(std::string("missing \"") + key + "\"");
  TensorInfo info;
  info.name = name;
  if (!entry["dtype"].is_string() || !parse_dtype(entry["dtype"].get<std::string>(), &info.dtype))
    bad("unknown dtype " + entry["dtype"].dump());
  const auto& shape = entry["shape"];
  if (!shape.is_array()) bad("shape is not an array");
  uint64_t elements = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) bad("shape has a non-integer or negative dimension");
    uint64_t dim = d.get<uint64_t>();
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (dim && elements > std::numeric_limits<uint64_t>::max() / dim))
      bad("shape overflows");
    elements *= dim;
    info.shape.push_back(static_cast<int64_t>(dim));
  }
  const auto& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    bad("data_offsets must be two non-negative integers");
  info.begin = offsets[0].get<uint64_t>();
  info.end = offsets[1].get<uint64_t>();
  if (info.end < info.begin) bad("data_offsets end before they begin");
  if (elements > std::numeric_limits<uint64_t>::max() / dtype_bytes(info.dtype))
    bad("byte size overflows");
  if (elements * dtype_bytes(info.dtype) != info.bytes())
    bad("shape and dtype need " + std::to_string(elements * dtype_bytes(info.dtype)) +
        " bytes but data_offsets span " + std::to_string(info.bytes()));
  return info;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(std::make_shared<MappedFile>(path)) {
  const uint64_t size = file_->size();
  if (size < 8) fail_input(path, "truncated: shorter than the 8-byte header length");
  const uint64_t header_bytes = read_le64(file_->data());
  if (header_bytes > kMaxHeaderBytes)
    fail_input(path, "header length " + std::to_string(header_bytes) + " exceeds the 100 MiB bound");
  if (header_bytes > size - 8)
    fail_input(path, "truncated: header length " + std::to_string(header_bytes) +
                         " runs past the end of the file (" + std::to_string(size) + " bytes)");
  data_ = file_->data() + 8 + header_bytes;
  const uint64_t data_bytes = size - 8 - header_bytes;

  const nlohmann::json header = parse_json_text(path + ": header", reinterpret_cast<const char*>(file_->data() + 8),
                                                reinterpret_cast<const char*>(data_));
  if (!header.is_object()) fail_input(path, "header is not a JSON object");

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail_input(path, "__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) fail_input(path, "__metadata__ value of '" + key + "' is not a string");
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    tensors_.push_back(parse_entry(path, name, entry));
  }

  // The data section must be exactly tiled by the tensors: no gaps, no overlaps, nothing past it.
  std::sort(tensors_.begin(), tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  uint64_t expected = 0;
  for (const auto& t : tensors_) {
    if (t.end > data_bytes)
      fail_input(path, "tensor '" + t.name + "': data_offsets [" + std::to_string(t.begin) + ", " +
                           std::to_string(t.end) + ") lie outside the data section (" +
                           std::to_string(data_bytes) + " bytes)");
    if (t.begin < expected)
      fail_input(path, "tensor '" + t.name + "' overlaps the tensor before it");
    if (t.begin > expected)
      fail_input(path, "tensor '" + t.name + "' leaves a gap of " + std::to_string(t.begin - expected) +
                           " bytes before it (tensors must be contiguous)");
    expected = t.end;
  }
  if (expected != data_bytes)
    fail_input(path, std::to_string(data_bytes - expected) + " bytes after the last tensor");
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor SafetensorsFile::tensor(const TensorInfo& info) const {
  // A valid file may hold them (the format has unsigned types); no model modelpress reads does.
  if (!has_scalar_type(info.dtype))
    fail_input(path(), "tensor '" + info.name + "' is " + dtype_name(info.dtype) +
                           ", a type LibTorch has no tensors of (modelpress reads the signed, float and bool types)");
  const auto type = to_scalar_type(info.dtype);
  const uint8_t* p = bytes(info);
  auto options = at::TensorOptions().dtype(type);
  if (info.bytes() == 0) return at::empty(info.shape, options);
  if (reinterpret_cast<uintptr_t>(p) % dtype_bytes(info.dtype) != 0)
    return at::from_blob(const_cast<uint8_t*>(p), info.shape, options).clone();
  auto keep_alive = file_;
  return at::from_blob(const_cast<uint8_t*>(p), info.shape, [keep_alive](void*) {}, options);
}

void SafetensorsFile::release(const TensorInfo& info) const {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the tensor: neighbours sharing a boundary page stay resident.
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(bytes(info)) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(bytes(info)) + info.bytes()) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

namespace {
// A shard is a plain name in `dir`, and no symlink leads it elsewhere: an index must not make a
// tool read files outside the model it was given.
bool is_shard_inside(const std::string& dir, const std::string& file) {
  namespace fs = std::filesystem;
  if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos) return false;
  std::error_code ec;
  const fs::path real_dir = fs::canonical(dir, ec);
  if (ec) return false;
  const fs::path real_file = fs::weakly_canonical(fs::path(dir) / file, ec);
  return !ec && real_file.parent_path() == real_dir;
}
}  // namespace

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& dir) : dir_(dir) {
  namespace fs = std::filesystem;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single_path = fs::path(dir) / "model.safetensors";
  if (fs::exists(index_path)) {
    const nlohmann::json index = read_json_file(index_path.string());
    if (!index.contains("weight_map") || !index["weight_map"].is_object())
      fail_input(index_path.string(), "missing \"weight_map\" object");
    std::map<std::string, const SafetensorsFile*> opened;
    for (const auto& [name, shard] : index["weight_map"].items()) {
      if (!shard.is_string()) fail_input(index_path.string(), "weight_map['" + name + "'] is not a file name");
      const std::string file = shard.get<std::string>();
      if (!is_shard_inside(dir, file))
        fail_input(index_path.string(), "weight_map['" + name + "']: shard '" + file +
                                            "' must be a plain file name inside the model directory");
      if (!opened.count(file)) {
        files_.push_back(std::make_unique<SafetensorsFile>((fs::path(dir) / file).string()));
        opened[file] = files_.back().get();
      }
      const SafetensorsFile* f = opened[file];
      const TensorInfo* info = f->find(name);
      if (!info) fail_input(f->path(), "tensor '" + name + "' listed in the index is not in this shard");
      where_[name] = {f, info};
    }
  } else if (fs::exists(single_path)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single_path.string()));
    for (const auto& t : files_.back()->tensors()) where_[t.name] = {files_.back().get(), &t};
  } else {
    fail_input(dir, "no model.safetensors or model.safetensors.index.json");
  }
}

const TensorInfo& SafetensorsCheckpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail_input(dir_, "checkpoint has no tensor '" + name + "'");
  return *it->second.second;
}

at::Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  const auto& info_ref = info(name);
  return where_.at(name).first->tensor(info_ref);
}

void SafetensorsCheckpoint::release(const std::string& name) const {
  const auto& info_ref = info(name);
  where_.at(name).first->release(info_ref);
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& kv : where_) out.push_back(kv.first);
  return out;
}

TensorInfo describe(const std::string& name, const at::Tensor& tensor) {
  TensorInfo info;
  info.name = name;
  info.dtype = from_scalar_type(tensor.scalar_type());
  info.shape = tensor.sizes().vec();
  info.end = static_cast<uint64_t>(tensor.numel()) * dtype_bytes(info.dtype);
  return info;
}

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<TensorInfo> layout,
                                     const Metadata& metadata)
    : out_(path), layout_(std::move(layout)) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (auto& t : layout_) {
    if (!seen.insert(t.name).second) fail_runtime(path + ": tensor '" + t.name + "' declared twice");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * dtype_bytes(t.dtype);
    t.begin = offset;
    t.end = offset + bytes;
    offset = t.end;
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out_.write(length, 8);
  out_.write(text.data(), text.size());
}

void SafetensorsWriter::write(const at::Tensor& tensor) {
  if (next_ >= layout_.size()) fail_runtime(out_.path() + ": more tensors written than declared");
  const TensorInfo& t = layout_[next_++];
  if (from_scalar_type(tensor.scalar_type()) != t.dtype || tensor.sizes().vec() != t.shape)
    fail_runtime(out_.path() + ": tensor '" + t.name + "' does not match its declared dtype/shape");
  at::Tensor cpu = tensor.to(at::kCPU).contiguous();
  out_.write(cpu.data_ptr(), t.bytes());
}

void SafetensorsWriter::commit() {
  if (next_ != layout_.size())
    fail_runtime(out_.path() + ": " + std::to_string(layout_.size() - next_) + " declared tensors not written");
  out_.commit();
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const Metadata& metadata) {
  std::vector<TensorInfo> layout;
  for (const auto& [name, t] : tensors) layout.push_back(describe(name, t));
  SafetensorsWriter writer(path, layout, metadata);
  for (const auto& kv : tensors) writer.write(kv.second);
  writer.commit();
}

}  // namespace mp
