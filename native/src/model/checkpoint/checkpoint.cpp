// LoadCheckpoint: zip layout checks, restricted unpickling, and tensors
// materialised from the archive's storages (ports the data path of
// torch/serialization.py _load, without executing anything).
#include "vanelia/model/checkpoint/checkpoint.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/model/checkpoint/zip_archive.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vanelia {
namespace {

using Kind = PyNode::Kind;

torch::ScalarType TorchDtype(StorageDtype dtype) {
  switch (dtype) {
    case StorageDtype::kFloat32:
      return torch::kFloat32;
    case StorageDtype::kFloat64:
      return torch::kFloat64;
    case StorageDtype::kFloat16:
      return torch::kFloat16;
    case StorageDtype::kBFloat16:
      return torch::kBFloat16;
    case StorageDtype::kInt64:
      return torch::kInt64;
    case StorageDtype::kInt32:
      return torch::kInt32;
    case StorageDtype::kInt16:
      return torch::kInt16;
    case StorageDtype::kInt8:
      return torch::kInt8;
    case StorageDtype::kUInt8:
      return torch::kUInt8;
    case StorageDtype::kBool:
      return torch::kBool;
  }
  return torch::kFloat32;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  const size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Detects the legacy (pre-zip) torch.save format and other non-zip files
// early, for a clearer message than "no end-of-central-directory record".
void CheckMagic(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(what + ": cannot open the file");
  char head[4] = {0, 0, 0, 0};
  in.read(head, 4);
  const std::streamsize n = in.gcount();
  if (n == 0) throw ModelError(what + ": the file is empty");
  if (n >= 2 && static_cast<uint8_t>(head[0]) == 0x80 &&
      static_cast<uint8_t>(head[1]) <= 5 && head[0] != 'P') {
    throw ModelError(
        what +
        ": legacy (non-zip) torch.save format; re-save it with "
        "torch >= 1.6 (the default _use_new_zipfile_serialization)");
  }
}

class CheckpointReader {
 public:
  CheckpointReader(const std::string& path, const std::string& what)
      : what_(what), zip_(path, what) {}

  Checkpoint Read(const LoadCheckpointOptions& options) {
    Checkpoint ckpt;
    ckpt.path = zip_.Path();
    ckpt.archive_root = FindRoot();
    root_ = ckpt.archive_root;
    ckpt.format_version = ReadVersion();
    ckpt.big_endian = ReadByteOrder();
    big_endian_ = ckpt.big_endian;
    const ZipEntry* pkl = zip_.Find(root_ + "/data.pkl");
    ckpt.root = Unpickle(zip_.Read(*pkl), what_);
    if (!ckpt.root.Is(Kind::kDict)) {
      throw ModelError(what_ + ": the top level is a " + ckpt.root.Describe() +
                       ", not a dict like {'args': ..., 'encoder': ..., ...}");
    }
    if (const PyValue* args = ckpt.root.Find("args")) ckpt.args = *args;
    const bool has_enc = ckpt.root.Find("encoder") != nullptr;
    const bool has_dec = ckpt.root.Find("decoder") != nullptr;
    if (has_enc && has_dec) {
      ckpt.layout = CheckpointLayout::kMust3r;
      ckpt.encoder = StateDictAt(ckpt.root, "encoder");
      ckpt.decoder = StateDictAt(ckpt.root, "decoder");
    } else if (ckpt.root.Find("model") != nullptr) {
      ckpt.layout = CheckpointLayout::kDust3r;
      ckpt.model = StateDictAt(ckpt.root, "model");
    }
    if (options.load_other_tensors) {
      for (const auto& [k, v] : ckpt.root.Node().entries) {
        if (k.Is(Kind::kString) && v.Is(Kind::kDict)) {
          for (const auto& [kk, vv] : v.Node().entries) {
            if (vv.Is(Kind::kTensor)) {
              MakeTensor(vv.Node().tensor, k.Node().str_value);
            }
          }
        }
      }
    }
    return ckpt;
  }

 private:
  std::string FindRoot() {
    std::set<std::string> roots;
    for (const ZipEntry& e : zip_.Entries()) {
      const size_t slash = e.name.find('/');
      if (slash == std::string::npos || slash == 0) {
        throw ModelError(what_ + ": wrong archive layout: entry '" + e.name +
                         "' is not inside a top folder (torch.save writes "
                         "<stem>/data.pkl, <stem>/data/<n>, <stem>/version)");
      }
      roots.insert(e.name.substr(0, slash));
    }
    if (roots.size() != 1) {
      std::string list;
      for (const auto& r : roots)
        list += (list.empty() ? "'" : ", '") + r + "'";
      throw ModelError(
          what_ + ": wrong archive layout: " + std::to_string(roots.size()) +
          " top folders (" + list + "); a torch.save archive has exactly one");
    }
    std::string root = *roots.begin();
    if (zip_.Find(root + "/data.pkl") == nullptr) {
      throw ModelError(what_ + ": wrong archive layout: no '" + root +
                       "/data.pkl' (not a torch.save archive; a TorchScript "
                       "or other zip is not a checkpoint)");
    }
    return root;
  }

  int64_t ReadVersion() {
    const ZipEntry* v = zip_.Find(root_ + "/version");
    if (v == nullptr) v = zip_.Find(root_ + "/.data/version");
    if (v == nullptr) {
      throw ModelError(what_ + ": wrong archive layout: no '" + root_ +
                       "/version' record");
    }
    const std::string text = Trim(zip_.Read(*v));
    int64_t version = 0;
    if (text.empty() || text.size() > 4 ||
        !std::all_of(text.begin(), text.end(), ::isdigit) ||
        (version = std::stoll(text)) < 1 || version > 10) {
      throw ModelError(what_ + ": archive version '" + text +
                       "' unsupported; must be 1..10");
    }
    return version;
  }

  bool ReadByteOrder() {
    const ZipEntry* b = zip_.Find(root_ + "/byteorder");
    if (b == nullptr) return false;  // torch < 2.1: native = little endian
    const std::string order = Trim(zip_.Read(*b));
    if (order == "little") return false;
    if (order == "big") return true;
    throw ModelError(what_ + ": byteorder record is '" + order +
                     "'; must be 'little' or 'big'");
  }

  torch::Tensor Storage(const StorageRef& ref) {
    const auto it = storages_.find(ref.key);
    if (it != storages_.end()) {
      if (it->second.scalar_type() != TorchDtype(ref.dtype) ||
          it->second.numel() != ref.numel) {
        throw ModelError(what_ + ": storage '" + ref.key +
                         "' is referenced with two different types or sizes");
      }
      return it->second;
    }
    const std::string name = root_ + "/data/" + ref.key;
    const ZipEntry* entry = zip_.Find(name);
    if (entry == nullptr) {
      throw ModelError(what_ + ": storage '" + ref.key + "' has no entry '" +
                       name + "' in the archive");
    }
    const int64_t item = StorageDtypeSize(ref.dtype);
    if (ref.numel < 0 ||
        entry->uncompressed_size !=
            static_cast<uint64_t>(ref.numel) * static_cast<uint64_t>(item)) {
      throw ModelError(what_ + ": storage '" + ref.key + "' has " +
                       std::to_string(entry->uncompressed_size) +
                       " bytes; the pickle says " + std::to_string(ref.numel) +
                       " x " + StorageDtypeName(ref.dtype) + " (" +
                       std::to_string(ref.numel * item) + " bytes)");
    }
    torch::Tensor t = torch::empty({ref.numel}, TorchDtype(ref.dtype));
    zip_.ReadInto(*entry, t.data_ptr(), entry->uncompressed_size);
    if (big_endian_ && item > 1) {
      auto* p = static_cast<uint8_t*>(t.data_ptr());
      for (int64_t i = 0; i < ref.numel; ++i) {
        std::reverse(p + i * item, p + (i + 1) * item);
      }
    }
    storages_.emplace(ref.key, t);
    return t;
  }

  torch::Tensor MakeTensor(const TensorRef& ref, const std::string& name) {
    torch::Tensor storage = Storage(ref.storage);
    int64_t last = ref.storage_offset;
    bool empty = false;
    for (size_t d = 0; d < ref.sizes.size(); ++d) {
      if (ref.sizes[d] < 0 || ref.strides[d] < 0) {
        throw ModelError(what_ + ": tensor " + name +
                         " has a negative size or stride");
      }
      if (ref.sizes[d] == 0) empty = true;
      int64_t span = 0;
      if (ref.sizes[d] > 0 &&
          (__builtin_mul_overflow(ref.sizes[d] - 1, ref.strides[d], &span) ||
           __builtin_add_overflow(last, span, &last))) {
        throw ModelError(what_ + ": tensor " + name +
                         " has sizes and strides that overflow 64 bits");
      }
    }
    if (ref.storage_offset < 0 || (!empty && last >= ref.storage.numel)) {
      throw ModelError(what_ + ": tensor " + name + " reaches element " +
                       std::to_string(last) + " of storage '" +
                       ref.storage.key + "' of " +
                       std::to_string(ref.storage.numel) + " elements");
    }
    torch::Tensor t =
        empty ? torch::empty(ref.sizes, storage.options())
              : storage.as_strided(ref.sizes, ref.strides, ref.storage_offset);
    if (torch::isFloatingType(t.scalar_type()) &&
        t.scalar_type() != torch::kFloat32) {
      return t.to(torch::kFloat32).contiguous();
    }
    // A contiguous view keeps sharing the storage (as upstream's tensors do).
    return t.contiguous();
  }

  StateDict StateDictAt(const PyValue& root, const std::string& key) {
    const PyValue& sd = root.Get(key, what_);
    if (!sd.Is(Kind::kDict)) {
      throw ModelError(what_ + ": '" + key + "' is a " + sd.Describe() +
                       ", not a state dict");
    }
    StateDict out;
    for (const auto& [k, v] : sd.Node().entries) {
      if (!k.Is(Kind::kString)) {
        k.AsString(what_ + ": a key of '" + key + "'");  // throws
      }
      const std::string& name = k.Node().str_value;
      std::string where = key;
      where += "['";
      where += name;
      where += "']";
      if (!v.Is(Kind::kTensor)) v.AsTensor(what_ + ": " + where);  // throws
      if (!out.emplace(name, MakeTensor(v.Node().tensor, where)).second) {
        throw ModelError(what_ + ": " + where + " appears twice");
      }
    }
    return out;
  }

  std::string what_;
  ZipArchive zip_;
  std::string root_;
  bool big_endian_ = false;
  std::unordered_map<std::string, torch::Tensor> storages_;
};

}  // namespace

Checkpoint LoadCheckpoint(const std::string& path,
                          const LoadCheckpointOptions& options) {
  const std::string what = "checkpoint '" + path + "'";
  CheckMagic(path, what);
  try {
    return CheckpointReader(path, what).Read(options);
  } catch (const c10::Error& e) {
    throw ModelError(what + ": LibTorch error: " + e.what_without_backtrace());
  }
}

}  // namespace vanelia
