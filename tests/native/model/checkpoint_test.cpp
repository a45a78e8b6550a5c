// Tests of LoadCheckpoint: the real tiny MUSt3R checkpoints, hand-built
// archives (zip + hand-assembled pickle bytes) for the safety cases, the
// storage dtypes, the torch >= 2.1 byteorder record and every error path.
#include "vanelia/model/checkpoint/checkpoint.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/model/checkpoint/model_config.hpp"
#include "vanelia/model/checkpoint/state_dict.hpp"
#include "vanelia/model/checkpoint/zip_archive.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

namespace vanelia {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kDataDir =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/must3r/checkpoints/";

fs::path TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("vanelia_model_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// ---------------------------------------------------------------------------
// Pickle bytes, opcode by opcode (Lib/pickletools.py names).
class PickleWriter {
 public:
  PickleWriter& Proto(int version) {
    b_ += '\x80';
    b_ += static_cast<char>(version);
    return *this;
  }

  PickleWriter& Op(int opcode) {
    b_ += static_cast<char>(opcode);
    return *this;
  }

  PickleWriter& Raw(const std::string& bytes) {
    b_ += bytes;
    return *this;
  }

  PickleWriter& Mark() { return Op('('); }

  PickleWriter& Str(const std::string& s) {  // BINUNICODE
    Op('X');
    U32(static_cast<uint32_t>(s.size()));
    return Raw(s);
  }

  PickleWriter& Int(int32_t v) {  // BININT
    Op('J');
    return U32(static_cast<uint32_t>(v));
  }

  PickleWriter& Float(double v) {  // BINFLOAT, big endian
    Op('G');
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    for (int i = 7; i >= 0; --i)
      b_ += static_cast<char>((bits >> (8 * i)) & 0xFF);
    return *this;
  }

  PickleWriter& Global(const std::string& module, const std::string& name) {
    return Op('c').Raw(module + "\n" + name + "\n");
  }

  PickleWriter& U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b_ += static_cast<char>((v >> (8 * i)) & 0xFF);
    return *this;
  }

  PickleWriter& U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) b_ += static_cast<char>((v >> (8 * i)) & 0xFF);
    return *this;
  }

  // torch._utils._rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu',
  // numel), offset, sizes, strides, False, OrderedDict())
  PickleWriter& Tensor(const std::string& storage_type,
                       const std::string& key,
                       int numel,
                       const std::vector<int>& sizes,
                       const std::vector<int>& strides,
                       int offset = 0) {
    Global("torch._utils", "_rebuild_tensor_v2").Mark();
    Mark().Str("storage").Global("torch", storage_type).Str(key).Str("cpu");
    Int(numel).Op('t').Op('Q').Int(offset).Mark();
    for (int s : sizes) Int(s);
    Op('t').Mark();
    for (int s : strides) Int(s);
    Op('t').Op(0x89).Global("collections", "OrderedDict").Op(')').Op('R');
    return Op('t').Op('R');
  }

  // OrderedDict() with a BUILD'ed _metadata, then items appended by `body`.
  template <typename Body>
  PickleWriter& OrderedDict(Body body) {
    Global("collections", "OrderedDict").Op(')').Op('R').Mark();
    body(*this);
    Op('u');
    Op('}').Str("_metadata").Global("collections", "OrderedDict").Op(')');
    return Op('R').Op('s').Op('b');
  }

  // argparse.Namespace via NEWOBJ + BUILD(dict).
  template <typename Body>
  PickleWriter& Namespace(Body body) {
    Global("argparse", "Namespace").Op(')').Op(0x81).Op('}').Mark();
    body(*this);
    return Op('u').Op('b');
  }

  std::string Finish() { return b_ + "."; }

  const std::string& bytes() const { return b_; }

 private:
  std::string b_;
};

// A zip archive of stored entries, as torch.save writes them.
std::string ZipBytes(
    const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  std::string central;
  const auto put = [](std::string* s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      s->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  for (const auto& [name, data] : entries) {
    const uint32_t crc = Crc32(data.data(), data.size());
    const uint64_t offset = out.size();
    put(&out, 0x04034b50, 4);
    put(&out, 20, 2);
    put(&out, 0, 2);
    put(&out, 0, 2);
    put(&out, 0, 4);
    put(&out, crc, 4);
    put(&out, data.size(), 4);
    put(&out, data.size(), 4);
    put(&out, name.size(), 2);
    put(&out, 0, 2);
    out += name;
    out += data;
    put(&central, 0x02014b50, 4);
    put(&central, 20, 2);
    put(&central, 20, 2);
    put(&central, 0, 2);
    put(&central, 0, 2);
    put(&central, 0, 4);
    put(&central, crc, 4);
    put(&central, data.size(), 4);
    put(&central, data.size(), 4);
    put(&central, name.size(), 2);
    put(&central, 0, 2);
    put(&central, 0, 2);
    put(&central, 0, 2);
    put(&central, 0, 2);
    put(&central, 0, 4);
    put(&central, offset, 4);
    central += name;
  }
  const uint64_t cd_offset = out.size();
  out += central;
  put(&out, 0x06054b50, 4);
  put(&out, 0, 4);
  put(&out, entries.size(), 2);
  put(&out, entries.size(), 2);
  put(&out, central.size(), 4);
  put(&out, cd_offset, 4);
  put(&out, 0, 2);
  return out;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
std::string RawBytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()),
                     v.size() * sizeof(T));
}

struct ArchiveSpec {
  std::string stem = "ckpt";
  std::string pickle;
  std::map<std::string, std::string> storages;  // key -> bytes
  std::string version = "3\n";
  std::string byteorder;  // "" = no record (torch < 2.1)
  std::vector<std::pair<std::string, std::string>> extra;  // full names
};

std::string WriteArchive(const fs::path& dir, const ArchiveSpec& spec) {
  std::vector<std::pair<std::string, std::string>> entries;
  entries.emplace_back(spec.stem + "/data.pkl", spec.pickle);
  if (!spec.byteorder.empty()) {
    entries.emplace_back(spec.stem + "/byteorder", spec.byteorder);
  }
  for (const auto& [k, v] : spec.storages) {
    entries.emplace_back(spec.stem + "/data/" + k, v);
  }
  if (!spec.version.empty())
    entries.emplace_back(spec.stem + "/version", spec.version);
  for (const auto& e : spec.extra) entries.push_back(e);
  const std::string path = (dir / (spec.stem + ".pth")).string();
  WriteBytes(path, ZipBytes(entries));
  return path;
}

const char kEncoderString[] =
    "Dust3rEncoder(img_size=(128, 128), patch_size=16, embed_dim=64, depth=2, "
    "num_heads=4, patch_embed='ManyAR_PatchEmbed', pos_embed='RoPE100')";
const char kDecoderString[] =
    "CausalMUSt3R(img_size=(128, 128), patch_size=16, enc_embed_dim=64, "
    "embed_dim=48, depth=3, num_heads=4, output_dim=1792, "
    "feedback_type='single_mlp', memory_mode=\"kv\", mem_dropout=0.1)";

// {'args': Namespace(encoder=..., decoder=..., <extra>), 'encoder':
//  OrderedDict(w=tensor), 'decoder': OrderedDict(w=tensor)}, where the
// callbacks may replace any value by another pickle fragment.
struct Must3rPickle {
  std::function<void(PickleWriter&)> encoder_string = [](PickleWriter& p) {
    p.Str(kEncoderString);
  };
  std::function<void(PickleWriter&)> extra_arg = nullptr;
  std::function<void(PickleWriter&)> encoder_tensor = [](PickleWriter& p) {
    p.Tensor("FloatStorage", "0", 6, {2, 3}, {3, 1});
  };
  int protocol = 2;

  std::string Build() const {
    PickleWriter p;
    p.Proto(protocol).Op('}').Mark().Str("args");
    p.Namespace([&](PickleWriter& q) {
      q.Str("encoder");
      encoder_string(q);
      q.Str("decoder").Str(kDecoderString);
      q.Str("epoch").Int(97).Str("lr").Float(1e-4);
      if (extra_arg) {
        q.Str("seed");
        extra_arg(q);
      }
    });
    p.Str("encoder").OrderedDict([&](PickleWriter& q) {
      q.Str("w");
      encoder_tensor(q);
    });
    p.Str("decoder").OrderedDict([&](PickleWriter& q) {
      q.Str("w").Tensor("FloatStorage", "1", 3, {3}, {1});
    });
    p.Op('u');
    return p.Finish();
  }
};

ArchiveSpec Must3rArchive(const Must3rPickle& pickle) {
  ArchiveSpec spec;
  spec.pickle = pickle.Build();
  spec.storages["0"] = RawBytes(std::vector<float>{1, 2, 3, 4, 5, 6});
  spec.storages["1"] = RawBytes(std::vector<float>{-1, -2, -3});
  return spec;
}

std::string MessageOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ModelError";
  return "";
}

// ---------------------------------------------------------------------------
// The real tiny checkpoints.

void ExpectMatchesSummary(const StateDict& sd, const nlohmann::json& summary) {
  ASSERT_EQ(sd.size(), summary.size());
  for (const auto& [key, s] : summary.items()) {
    SCOPED_TRACE(key);
    const auto it = sd.find(key);
    ASSERT_NE(it, sd.end());
    const torch::Tensor& t = it->second;
    EXPECT_EQ(t.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(t.is_contiguous());
    EXPECT_EQ(t.sizes().vec(), s["shape"].get<std::vector<int64_t>>());
    const torch::Tensor flat = t.reshape({-1});
    EXPECT_EQ(flat[0].item<float>(), s["first"].get<float>());
    EXPECT_EQ(flat[-1].item<float>(), s["last"].get<float>());
    const double sum = t.to(torch::kFloat64).sum().item<double>();
    EXPECT_NEAR(sum, s["sum"].get<double>(), 1e-9 * (1 + std::abs(sum)));
  }
}

TEST(LoadCheckpoint, TinyCheckpointsMatchTorchLoad) {
  for (const std::string name : {"tiny_kv", "tiny_normy"}) {
    SCOPED_TRACE(name);
    const Checkpoint ckpt = LoadCheckpoint(kDataDir + name + ".pth");
    EXPECT_EQ(ckpt.layout, CheckpointLayout::kMust3r);
    EXPECT_EQ(ckpt.archive_root, name);
    EXPECT_EQ(ckpt.format_version, 3);
    EXPECT_FALSE(ckpt.big_endian);
    EXPECT_TRUE(ckpt.model.empty());
    std::ifstream f(kDataDir + name + "_tensors.json");
    const nlohmann::json summary = nlohmann::json::parse(f);
    ExpectMatchesSummary(ckpt.encoder, summary["encoder"]);
    ExpectMatchesSummary(ckpt.decoder, summary["decoder"]);
  }
  // The copies are the fixture bytes (sha256 from the fixture manifests).
  EXPECT_EQ(Sha256OfFile(kDataDir + "tiny_kv.pth"),
            "81d14a33ff06e00fa65e648413e3e2ed9a395f01a1b2238b92d65339c4377afd");
  EXPECT_EQ(Sha256OfFile(kDataDir + "tiny_normy.pth"),
            "8200a9a57f33a900fe71f128df2d9db84adf869f27ef2873fd53a651434f5066");
}

// tiny_kv_torch2.pth: tiny_kv.pth loaded with torch.load and written back
// with torch.save by torch 2.11 (on the GPU machine); torch >= 2.1 adds a
// `byteorder` record. Same tensors, bit for bit, and the same config.
TEST(LoadCheckpoint, Torch2SavedCopyMatchesOriginal) {
  const Checkpoint a = LoadCheckpoint(kDataDir + "tiny_kv.pth");
  const Checkpoint b = LoadCheckpoint(kDataDir + "tiny_kv_torch2.pth");
  EXPECT_NE(ReadFile(kDataDir + "tiny_kv_torch2.pth")
                .find("tiny_kv_torch2/byteorder"),
            std::string::npos);
  EXPECT_EQ(b.layout, CheckpointLayout::kMust3r);
  EXPECT_EQ(b.archive_root, "tiny_kv_torch2");
  EXPECT_FALSE(b.big_endian);
  for (const auto& [name, sa, sb] :
       {std::tuple{"encoder", &a.encoder, &b.encoder},
        std::tuple{"decoder", &a.decoder, &b.decoder}}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(sa->size(), sb->size());
    for (const auto& [key, ta] : *sa) {
      const auto it = sb->find(key);
      ASSERT_NE(it, sb->end()) << key;
      EXPECT_TRUE(torch::equal(ta, it->second)) << key;
    }
  }
  EXPECT_EQ(ParseMust3rConfig(a).decoder_string_converted,
            ParseMust3rConfig(b).decoder_string_converted);
}

TEST(LoadCheckpoint, NamespaceFieldsOfMixedTypes) {
  const Checkpoint ckpt = LoadCheckpoint(kDataDir + "tiny_kv.pth");
  const PyValue& args = ckpt.args;
  ASSERT_TRUE(args.Is(PyNode::Kind::kNamespace));
  EXPECT_EQ(args.Get("epoch", "args").AsInt("epoch"), 97);
  EXPECT_DOUBLE_EQ(args.Get("lr", "args").AsFloat("lr"), 1e-4);
  const auto& betas = args.Get("betas", "args").AsSequence("betas");
  ASSERT_EQ(betas.size(), 2u);
  EXPECT_DOUBLE_EQ(betas[1].AsFloat("betas[1]"), 0.95);
  const auto& res = args.Get("resolution", "args").AsSequence("resolution");
  ASSERT_EQ(res.size(), 5u);
  EXPECT_EQ(res[0].AsSequence("r")[0].AsInt("r"), 512);
  EXPECT_TRUE(args.Get("causal", "args").AsBool("causal"));
  EXPECT_TRUE(args.Get("chkpt", "args").IsNone());
  EXPECT_EQ(args.Get("amp", "args").AsString("amp"), "bf16");
  EXPECT_THAT(
      MessageOf([&] { args.Get("epoch", "args").AsString("args.epoch"); }),
      HasSubstr("args.epoch: expected str, got int 97"));
  EXPECT_THAT(MessageOf([&] { args.Get("nope", "args"); }),
              HasSubstr("no 'nope'"));
  // Each OrderedDict carries its BUILD'ed _metadata attribute.
  const PyValue* enc = ckpt.root.Find("encoder");
  ASSERT_NE(enc, nullptr);
  EXPECT_TRUE(enc->Node().ordered_dict);
  ASSERT_EQ(enc->Node().attrs.size(), 1u);
  EXPECT_EQ(enc->Node().attrs[0].first, "_metadata");
  EXPECT_TRUE(enc->Node().attrs[0].second.Node().ordered_dict);
}

// ---------------------------------------------------------------------------
// Safety: pickles that would run os.system('touch MARKER') under Python.

// Each variant pushes the value `os.system('touch <marker>')` (or an object
// built from it) through a different opcode path.
using Payload = std::function<void(PickleWriter&)>;

std::map<std::string, Payload> Exploits(const std::string& marker) {
  const std::string cmd = "touch " + marker;
  std::map<std::string, Payload> m;
  m["GLOBAL+REDUCE"] = [cmd](PickleWriter& p) {
    p.Global("os", "system").Str(cmd).Op(0x85).Op('R');
  };
  m["STACK_GLOBAL"] = [cmd](PickleWriter& p) {
    p.Op(0x8c).Op(2).Raw("os").Op(0x94).Op(0x8c).Op(6).Raw("system");
    p.Op(0x94).Op(0x93).Op(0x94).Str(cmd).Op(0x85).Op('R');
  };
  m["INST"] = [cmd](PickleWriter& p) {
    p.Mark().Str(cmd).Op('i').Raw("os\nsystem\n");
  };
  m["OBJ"] = [cmd](PickleWriter& p) {
    p.Mark().Global("os", "system").Str(cmd).Op('o');
  };
  m["REDUCE+BUILD"] = [cmd](PickleWriter& p) {  // __setstate__ never called
    p.Global("os", "system").Str(cmd).Op(0x85).Op('R');
    p.Op('}').Str("x").Global("os", "system").Str(cmd).Op(0x85).Op('R');
    p.Op('s').Op('b');
  };
  m["NEWOBJ_EX"] = [cmd](PickleWriter& p) {
    p.Global("subprocess", "Popen").Str(cmd).Op(0x85).Op('}').Op(0x92);
  };
  return m;
}

void MaybeDump(const std::string& name, const std::string& pickle) {
  // VANELIA_DUMP_PICKLES=<dir> writes the pickles so that a reviewer can
  // confirm with Python that they really do run the command.
  if (const char* dir = std::getenv("VANELIA_DUMP_PICKLES")) {
    WriteBytes(std::string(dir) + "/" + name + ".pkl", pickle);
  }
}

TEST(LoadCheckpointSafety, GlobalInStateDictFailsNamingItAndRunsNothing) {
  const fs::path dir = TempDir("safety_sd");
  const fs::path marker = dir / "MARKER";
  for (const auto& [name, payload] : Exploits(marker.string())) {
    SCOPED_TRACE(name);
    Must3rPickle pickle;
    pickle.protocol = 4;
    pickle.encoder_tensor = payload;
    ArchiveSpec spec = Must3rArchive(pickle);
    MaybeDump("state_dict_" + name, spec.pickle);
    const std::string path = WriteArchive(dir, spec);
    const std::string msg = MessageOf([&] { LoadCheckpoint(path); });
    EXPECT_THAT(msg, HasSubstr("encoder['w']"));
    EXPECT_THAT(
        msg,
        HasSubstr(name == "NEWOBJ_EX" ? "'subprocess.Popen'" : "'os.system'"));
    EXPECT_THAT(msg, HasSubstr("expected tensor"));
    EXPECT_FALSE(fs::exists(marker));
  }
}

TEST(LoadCheckpointSafety, GlobalInConfigFieldFailsNamingItAndRunsNothing) {
  const fs::path dir = TempDir("safety_cfg");
  const fs::path marker = dir / "MARKER";
  for (const auto& [name, payload] : Exploits(marker.string())) {
    SCOPED_TRACE(name);
    Must3rPickle pickle;
    pickle.encoder_string = payload;
    ArchiveSpec spec = Must3rArchive(pickle);
    MaybeDump("config_" + name, spec.pickle);
    const std::string path = WriteArchive(dir, spec);
    const Checkpoint ckpt = LoadCheckpoint(path);  // args are inert data
    const std::string msg = MessageOf([&] { ParseMust3rConfig(ckpt); });
    EXPECT_THAT(msg, HasSubstr("args.encoder: expected str, got placeholder"));
    EXPECT_THAT(
        msg,
        HasSubstr(name == "NEWOBJ_EX" ? "'subprocess.Popen'" : "'os.system'"));
    EXPECT_FALSE(fs::exists(marker));
  }
}

TEST(LoadCheckpointSafety, GlobalInUnusedFieldStaysInert) {
  const fs::path dir = TempDir("safety_unused");
  const fs::path marker = dir / "MARKER";
  Must3rPickle pickle;
  pickle.extra_arg = Exploits(marker.string())["GLOBAL+REDUCE"];
  const std::string path = WriteArchive(dir, Must3rArchive(pickle));
  const Checkpoint ckpt = LoadCheckpoint(path);
  const ModelConfig config = ParseMust3rConfig(ckpt);
  EXPECT_EQ(config.decoder.embed_dim, 48);
  const PyValue& seed = ckpt.args.Get("seed", "args");
  EXPECT_TRUE(seed.IsPlaceholder());
  EXPECT_EQ(seed.Node().str_value, "os.system");
  EXPECT_THAT(seed.Describe(), HasSubstr("never called"));
  EXPECT_FALSE(fs::exists(marker));
}

TEST(LoadCheckpointSafety, NonStoragePersistentIdIsRefused) {
  const fs::path dir = TempDir("safety_persid");
  Must3rPickle pickle;
  pickle.encoder_tensor = [](PickleWriter& p) {
    p.Mark().Str("module").Global("os", "system").Op('t').Op('Q');
  };
  const std::string path = WriteArchive(dir, Must3rArchive(pickle));
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(path); }),
              HasSubstr("unsupported persistent id"));
}

TEST(LoadCheckpointSafety, DeepNestingDoesNotOverflowTheStack) {
  // ((((...]lll...: 300000 nested lists; freeing them must not recurse.
  const int depth = 300000;
  std::string pickle = "\x80\x02";
  pickle += std::string(depth, '(');
  pickle += ']';
  pickle += std::string(depth, 'l');
  pickle += '.';
  const PyValue v = Unpickle(pickle, "nested");
  EXPECT_TRUE(v.Is(PyNode::Kind::kList));
}

// ---------------------------------------------------------------------------
// Dtypes, byteorder, newer-torch records, protocol-4 opcodes.

uint16_t ToHalf(float f) {
  return torch::tensor({f})
      .to(torch::kFloat16)
      .view(torch::kInt16)
      .item<int16_t>();
}

uint16_t ToBFloat16(float f) {
  return torch::tensor({f})
      .to(torch::kBFloat16)
      .view(torch::kInt16)
      .item<int16_t>();
}

TEST(LoadCheckpoint, HalfAndBFloat16StoragesAreCastToFloat32) {
  const fs::path dir = TempDir("dtypes");
  const std::vector<float> half_values = {1.5f, -2.25f, 65504.f, 0.0009765625f};
  const std::vector<float> bf16_values = {1.0f, 3.140625f, -1048576.f, 0.5f};
  Must3rPickle pickle;
  pickle.encoder_tensor = [](PickleWriter& p) {
    p.Tensor("HalfStorage", "0", 4, {2, 2}, {2, 1});
  };
  ArchiveSpec spec = Must3rArchive(pickle);
  std::vector<uint16_t> h, b;
  for (float f : half_values) h.push_back(ToHalf(f));
  for (float f : bf16_values) b.push_back(ToBFloat16(f));
  spec.storages["0"] = RawBytes(h);
  const std::string path = WriteArchive(dir, spec);
  const Checkpoint ckpt = LoadCheckpoint(path);
  const torch::Tensor w = ckpt.encoder.at("w");
  EXPECT_EQ(w.scalar_type(), torch::kFloat32);
  EXPECT_EQ(w.sizes().vec(), (std::vector<int64_t>{2, 2}));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(w.reshape({-1})[i].item<float>(), half_values[i]);
  }

  // bfloat16, as a transposed (non-contiguous) view with an offset.
  Must3rPickle bf;
  bf.encoder_tensor = [](PickleWriter& p) {
    p.Tensor("BFloat16Storage", "0", 5, {2, 2}, {1, 2}, 1);
  };
  ArchiveSpec spec2 = Must3rArchive(bf);
  std::vector<uint16_t> b5 = {ToBFloat16(7.f)};
  b5.insert(b5.end(), b.begin(), b.end());
  spec2.storages["0"] = RawBytes(b5);
  spec2.stem = "bf16";
  const Checkpoint ckpt2 = LoadCheckpoint(WriteArchive(dir, spec2));
  const torch::Tensor w2 = ckpt2.encoder.at("w");
  EXPECT_EQ(w2.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(w2.is_contiguous());
  // storage[1 + i + 2j] at (i, j)
  EXPECT_EQ(w2[0][0].item<float>(), bf16_values[0]);
  EXPECT_EQ(w2[1][0].item<float>(), bf16_values[1]);
  EXPECT_EQ(w2[0][1].item<float>(), bf16_values[2]);
  EXPECT_EQ(w2[1][1].item<float>(), bf16_values[3]);
}

TEST(LoadCheckpoint, OtherStorageTypes) {
  const fs::path dir = TempDir("other_dtypes");

  struct Case {
    const char* storage;
    std::string bytes;
    torch::ScalarType want;
    double first;
  };

  const std::vector<Case> cases = {
      {"DoubleStorage",
       RawBytes(std::vector<double>{0.1, 2, 3}),
       torch::kFloat32,
       0.1f},
      {"LongStorage",
       RawBytes(std::vector<int64_t>{-5, 2, 3}),
       torch::kInt64,
       -5},
      {"IntStorage",
       RawBytes(std::vector<int32_t>{-7, 2, 3}),
       torch::kInt32,
       -7},
      {"ByteStorage", std::string("\xff\x02\x03", 3), torch::kUInt8, 255},
      {"BoolStorage", std::string("\x01\x00\x01", 3), torch::kBool, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.storage);
    Must3rPickle pickle;
    const std::string storage = c.storage;
    pickle.encoder_tensor = [storage](PickleWriter& p) {
      p.Tensor(storage, "0", 3, {3}, {1});
    };
    ArchiveSpec spec = Must3rArchive(pickle);
    spec.storages["0"] = c.bytes;
    const Checkpoint ckpt = LoadCheckpoint(WriteArchive(dir, spec));
    const torch::Tensor w = ckpt.encoder.at("w");
    EXPECT_EQ(w.scalar_type(), c.want);
    EXPECT_EQ(w[0].to(torch::kFloat64).item<double>(), c.first);
  }
}

TEST(LoadCheckpoint, ByteorderRecordOfTorch21) {
  const fs::path dir = TempDir("byteorder");
  // Little: plain bytes; big: each element byte-swapped. Both give 1..6.
  for (const std::string order : {"little", "big"}) {
    SCOPED_TRACE(order);
    ArchiveSpec spec = Must3rArchive(Must3rPickle());
    spec.byteorder = order;
    spec.stem = "order_" + order;
    // Records torch >= 2.1 adds beside it; a loader ignores them.
    spec.extra = {{spec.stem + "/.data/serialization_id", "1234567890"},
                  {spec.stem + "/.format_version", "1"},
                  {spec.stem + "/.storage_alignment", "64"}};
    if (order == "big") {
      for (auto& [k, bytes] : spec.storages) {
        for (size_t i = 0; i < bytes.size(); i += 4) {
          std::reverse(bytes.begin() + i, bytes.begin() + i + 4);
        }
      }
    }
    const Checkpoint ckpt = LoadCheckpoint(WriteArchive(dir, spec));
    EXPECT_EQ(ckpt.big_endian, order == "big");
    EXPECT_TRUE(
        torch::equal(ckpt.encoder.at("w"),
                     torch::arange(1, 7, torch::kFloat32).reshape({2, 3})));
    EXPECT_TRUE(torch::equal(ckpt.decoder.at("w"),
                             -torch::arange(1, 4, torch::kFloat32)));
  }
  ArchiveSpec bad = Must3rArchive(Must3rPickle());
  bad.byteorder = "middle";
  EXPECT_THAT(
      MessageOf([&] { LoadCheckpoint(WriteArchive(dir, bad)); }),
      HasSubstr("byteorder record is 'middle'; must be 'little' or 'big'"));
}

TEST(Unpickle, Protocol4OpcodesAndWhitelistedData) {
  PickleWriter p;
  p.Proto(4).Op(0x95).U64(0);                  // FRAME
  p.Op(0x8c).Op(1).Raw("a").Op(0x94).Op('0');  // SHORT_BINUNICODE, MEMOIZE
  p.Op(')').Op(0x94).Op('0');                  // memo 1: ()
  p.Op(']').Op(0x94).Mark();                   // memo 2: the list
  p.Op(0x8d).U64(3).Raw("abc");                // BINUNICODE8
  p.Op(0x8a).Op(2).Raw(std::string("\x00\x80", 2));  // LONG1 -32768
  p.Op(0x8a).Op(9).Raw(std::string(9, '\x01'));      // LONG1 too large: inert
  p.Op('B').U32(2).Raw(std::string("\x00\xff", 2));  // BINBYTES
  p.Op(0x8f).Mark().Int(1).Int(2).Op(0x90);          // EMPTY_SET + ADDITEMS
  p.Mark().Int(3).Op(0x91);                          // FROZENSET
  p.Op('h').Op(1);                                   // BINGET ()
  p.Op(0x88).Op(0x89).Op('N').Op('e');               // True False None; APPENDS
  // numpy scalar float64 (protocol-2 style bytes via _codecs.encode).
  p.Global("numpy.core.multiarray", "scalar").Global("numpy", "dtype");
  p.Str("f8").Op(0x89).Op(0x88).Op(0x87).Op('R');
  p.Mark().Int(3).Str("<").Op('N').Op('N').Op('N').Int(-1).Int(-1).Int(0);
  p.Op('t').Op('b');
  p.Global("_codecs", "encode").Str("\xc3\xb6\x01\x02\x03\x04\x05\x06\x07");
  p.Str("latin1").Op(0x86).Op('R').Op(0x86).Op('R');
  p.Op('a');
  // numpy int64 scalar
  p.Global("numpy.core.multiarray", "scalar").Global("numpy", "dtype");
  p.Str("i8").Op(0x89).Op(0x88).Op(0x87).Op('R');
  p.Op('C').Op(8).Raw(std::string("\xfe\xff\xff\xff\xff\xff\xff\xff", 8));
  p.Op(0x86).Op('R').Op('a');
  // NEWOBJ_EX of a whitelisted class: argparse.Namespace
  p.Global("argparse", "Namespace").Op(')').Op('}').Op(0x92).Op('a');
  p.Op('h').Op(2).Op(0x86);  // (list, list) - the memoised list again
  const PyValue v = Unpickle(p.Finish(), "test");
  ASSERT_TRUE(v.Is(PyNode::Kind::kTuple));
  const auto& items = v.AsSequence("t")[0].AsSequence("list");
  // the memo returned the same list object
  EXPECT_EQ(v.AsSequence("t")[0].SharedNode(),
            v.AsSequence("t")[1].SharedNode());
  ASSERT_EQ(items.size(), 13u);
  EXPECT_EQ(items[0].AsString("s"), "abc");
  EXPECT_EQ(items[1].AsInt("l"), -32768);
  EXPECT_TRUE(items[2].IsPlaceholder());
  EXPECT_EQ(items[3].Node().str_value, std::string("\x00\xff", 2));
  EXPECT_EQ(items[4].Node().items.size(), 2u);
  EXPECT_EQ(items[5].Node().items.size(), 1u);
  EXPECT_TRUE(items[6].Is(PyNode::Kind::kTuple));
  EXPECT_TRUE(items[7].AsBool("b"));
  EXPECT_FALSE(items[8].AsBool("b"));
  EXPECT_TRUE(items[9].IsNone());
  // bytes f6 01 02 .. 07 as a little-endian double
  const unsigned char raw[8] = {0xf6, 1, 2, 3, 4, 5, 6, 7};
  double expected;
  std::memcpy(&expected, raw, 8);
  EXPECT_EQ(items[10].AsFloat("numpy"), expected);
  EXPECT_EQ(items[11].AsInt("numpy int"), -2);
  EXPECT_TRUE(items[12].Is(PyNode::Kind::kNamespace));
}

TEST(Unpickle, MalformedStreamsAreModelErrors) {
  EXPECT_THAT(MessageOf([] { Unpickle("", "p"); }), HasSubstr("empty pickle"));
  EXPECT_THAT(MessageOf([] { Unpickle("\x80\x02N", "p"); }),
              HasSubstr("truncated"));
  EXPECT_THAT(MessageOf([] { Unpickle("\x80\x02\xff.", "p"); }),
              HasSubstr("unknown opcode 0xff"));
  EXPECT_THAT(MessageOf([] { Unpickle("\x80\x02NN.", "p"); }),
              HasSubstr("STOP with 2 values"));
  EXPECT_THAT(MessageOf([] { Unpickle("\x80\x02h\x05.", "p"); }),
              HasSubstr("memo key 5 was never stored"));
  EXPECT_THAT(MessageOf([] { Unpickle("\x80\x02X\xff\xff\xff\x7f.", "p"); }),
              HasSubstr("exceeds"));
  EXPECT_THAT(MessageOf([] { Unpickle("\x80\x02t.", "p"); }),
              HasSubstr("no MARK"));
  EXPECT_THAT(MessageOf([] { Unpickle("\x80\x02Na.", "p"); }),
              HasSubstr("stack underflow"));
}

// ---------------------------------------------------------------------------
// Archive errors.

TEST(LoadCheckpointErrors, EmptyMissingNotZipLegacyTruncated) {
  const fs::path dir = TempDir("errors");
  const std::string empty = (dir / "empty.pth").string();
  WriteBytes(empty, "");
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(empty); }),
              HasSubstr("the file is empty"));
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint((dir / "nope.pth").string()); }),
              HasSubstr("cannot open"));
  const std::string text = (dir / "text.pth").string();
  WriteBytes(text, "this is not a checkpoint\n");
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(text); }),
              HasSubstr("not a zip archive"));
  const std::string legacy = (dir / "legacy.pth").string();
  WriteBytes(legacy, std::string("\x80\x02\x8a\x0a", 4) + std::string(40, 'x'));
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(legacy); }),
              HasSubstr("legacy (non-zip) torch.save format"));
  // The real checkpoint cut in half, and cut just before its end record.
  const std::string bytes = ReadFile(kDataDir + "tiny_kv.pth");
  const std::string half = (dir / "half.pth").string();
  WriteBytes(half, bytes.substr(0, bytes.size() / 2));
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(half); }),
              HasSubstr("truncated zip archive"));
  const std::string cut = (dir / "cut.pth").string();
  WriteBytes(cut, bytes.substr(0, bytes.size() - 30));
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(cut); }), HasSubstr("truncated"));
  // A flipped byte inside a storage: CRC mismatch.
  std::string corrupt = bytes;
  const size_t at = corrupt.find("tiny_kv/data/0") + 200;
  corrupt[at] = static_cast<char>(corrupt[at] ^ 0x55);
  const std::string bad_crc = (dir / "crc.pth").string();
  WriteBytes(bad_crc, corrupt);
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(bad_crc); }),
              HasSubstr("CRC-32 mismatch"));
}

TEST(LoadCheckpointErrors, CompressedEntryIsRefused) {
  const fs::path dir = TempDir("deflate");
  std::string zip = ZipBytes({{"ckpt/data.pkl", "x"}, {"ckpt/version", "3\n"}});
  // Mark data.pkl as deflated (method 8) in its central directory header.
  const size_t central = zip.find("PK\x01\x02");
  ASSERT_NE(central, std::string::npos);
  zip[central + 10] = 8;
  const std::string path = (dir / "deflate.pth").string();
  WriteBytes(path, zip);
  EXPECT_THAT(MessageOf([&] { LoadCheckpoint(path); }),
              HasSubstr("entry 'ckpt/data.pkl' is compressed (method 8); only "
                        "stored entries are supported"));
}

TEST(LoadCheckpointErrors, WrongArchiveLayouts) {
  const fs::path dir = TempDir("layouts");
  const ArchiveSpec good = Must3rArchive(Must3rPickle());
  {
    const std::string path = (dir / "flat.pth").string();
    WriteBytes(path, ZipBytes({{"data.pkl", good.pickle}}));
    EXPECT_THAT(
        MessageOf([&] { LoadCheckpoint(path); }),
        HasSubstr("wrong archive layout: entry 'data.pkl' is not inside"));
  }
  {
    ArchiveSpec two = good;
    two.extra = {{"other/data.pkl", good.pickle}};
    EXPECT_THAT(MessageOf([&] { LoadCheckpoint(WriteArchive(dir, two)); }),
                HasSubstr("2 top folders ('ckpt', 'other')"));
  }
  {
    const std::string path = (dir / "nopkl.pth").string();
    WriteBytes(path, ZipBytes({{"ckpt/version", "3\n"}}));
    EXPECT_THAT(MessageOf([&] { LoadCheckpoint(path); }),
                HasSubstr("no 'ckpt/data.pkl'"));
  }
  {
    ArchiveSpec s = good;
    s.version = "";
    EXPECT_THAT(MessageOf([&] { LoadCheckpoint(WriteArchive(dir, s)); }),
                HasSubstr("no 'ckpt/version' record"));
    s.version = "99\n";
    EXPECT_THAT(MessageOf([&] { LoadCheckpoint(WriteArchive(dir, s)); }),
                HasSubstr("archive version '99' unsupported"));
  }
  {
    ArchiveSpec s = good;
    s.storages.erase("1");
    EXPECT_THAT(MessageOf([&] { LoadCheckpoint(WriteArchive(dir, s)); }),
                HasSubstr("storage '1' has no entry 'ckpt/data/1'"));
  }
  {
    ArchiveSpec s = good;
    s.storages["1"] = RawBytes(std::vector<float>{1, 2});
    EXPECT_THAT(
        MessageOf([&] { LoadCheckpoint(WriteArchive(dir, s)); }),
        HasSubstr("storage '1' has 8 bytes; the pickle says 3 x float32"));
  }
  {
    Must3rPickle p;
    p.encoder_tensor = [](PickleWriter& q) {
      q.Tensor("FloatStorage", "0", 6, {3, 3}, {3, 1});
    };
    EXPECT_THAT(
        MessageOf([&] { LoadCheckpoint(WriteArchive(dir, Must3rArchive(p))); }),
        HasSubstr("reaches element 8 of storage '0' of 6 elements"));
  }
  {
    Must3rPickle p;  // sizes x strides beyond 64 bits
    p.encoder_tensor = [](PickleWriter& q) {
      const int big = 2147483647;
      q.Tensor("FloatStorage", "0", 6, {big, big, big}, {big, big, big});
    };
    EXPECT_THAT(
        MessageOf([&] { LoadCheckpoint(WriteArchive(dir, Must3rArchive(p))); }),
        HasSubstr("overflow 64 bits"));
  }
  {
    ArchiveSpec s = good;
    s.pickle = std::string("\x80\x02]q\x00.", 6);
    EXPECT_THAT(MessageOf([&] { LoadCheckpoint(WriteArchive(dir, s)); }),
                HasSubstr("the top level is a list of 0 items, not a dict"));
  }
}

// A DUSt3R-layout checkpoint: {'args': Namespace(model=...), 'model': sd}.
std::string WriteDust3rArchive(const fs::path& dir) {
  PickleWriter p;
  p.Proto(2).Op('}').Mark().Str("args");
  p.Namespace([](PickleWriter& q) {
    q.Str("model").Str(
        "AsymmetricCroCo3DStereo(pos_embed='RoPE100', "
        "patch_embed_cls='ManyAR_PatchEmbed', img_size=(512, 512), "
        "head_type='linear', output_mode='pts3d', depth_mode=('exp', -inf, "
        "inf), conf_mode=('exp', 1, inf), enc_embed_dim=64, enc_depth=2, "
        "enc_num_heads=4, dec_embed_dim=48, dec_depth=2, dec_num_heads=4)");
  });
  p.Str("model").OrderedDict([](PickleWriter& q) {
    q.Str("mask_token").Tensor("FloatStorage", "0", 3, {1, 1, 3}, {3, 3, 1});
  });
  p.Op('u');
  ArchiveSpec spec;
  spec.stem = "dust3r";
  spec.pickle = p.Finish();
  spec.storages["0"] = RawBytes(std::vector<float>{1, 2, 3});
  return WriteArchive(dir, spec);
}

TEST(LoadCheckpointErrors, Dust3rCheckpointGivenAsMust3r) {
  const fs::path dir = TempDir("dust3r");
  const Checkpoint ckpt = LoadCheckpoint(WriteDust3rArchive(dir));
  EXPECT_EQ(ckpt.layout, CheckpointLayout::kDust3r);
  EXPECT_EQ(ckpt.model.at("mask_token").sizes().vec(),
            (std::vector<int64_t>{1, 1, 3}));
  EXPECT_THAT(MessageOf([&] { ParseMust3rConfig(ckpt); }),
              HasSubstr("is a DUSt3R checkpoint (args.model = "
                        "'AsymmetricCroCo3DStereo("));
  const Dust3rConfig config = ParseDust3rConfig(ckpt);
  EXPECT_EQ(config.encoder.embed_dim, 64);
  EXPECT_EQ(config.resolution, 512);
  EXPECT_EQ(config.encoder.patch_embed, PatchEmbedKind::kDust3r);
  EXPECT_TRUE(std::isinf(config.depth_min) && config.depth_min < 0);
  EXPECT_EQ(config.conf_min, 1.0);
  // And the other way round.
  const Checkpoint must3r = LoadCheckpoint(kDataDir + "tiny_kv.pth");
  EXPECT_THAT(MessageOf([&] { ParseDust3rConfig(must3r); }),
              HasSubstr("is a MUSt3R checkpoint"));
}

// ---------------------------------------------------------------------------
// Strict state-dict loading.

struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    register_buffer("scale", torch::ones({2}));
  }

  torch::nn::Linear fc{nullptr};
};

TORCH_MODULE(TinyNet);

TEST(LoadStateDictStrict, CopiesOrNamesEveryMismatch) {
  TinyNet net;
  StateDict sd = {
      {"fc.weight", torch::arange(6, torch::kFloat32).reshape({2, 3})},
      {"fc.bias", torch::tensor({7.f, 8.f})},
      {"scale", torch::tensor({2.f, 3.f})}};
  LoadStateDictStrict(*net, sd, "tiny");
  EXPECT_TRUE(torch::equal(net->fc->weight, sd["fc.weight"]));
  EXPECT_TRUE(torch::equal(net->named_buffers()["scale"], sd["scale"]));
  EXPECT_TRUE(net->fc->weight.requires_grad());  // still a parameter

  StateDict bad = sd;
  bad.erase("fc.bias");
  bad["fc.weight"] = torch::zeros({3, 3});
  bad["extra.w"] = torch::zeros({4});
  const std::string msg =
      MessageOf([&] { LoadStateDictStrict(*net, bad, "tiny"); });
  EXPECT_THAT(
      msg, HasSubstr("tiny: state dict does not match the model (3 problems)"));
  EXPECT_THAT(msg, HasSubstr("missing key 'fc.bias' [2]"));
  EXPECT_THAT(msg,
              HasSubstr("key 'fc.weight' has shape [3, 3] in the file but [2, "
                        "3] in the model"));
  EXPECT_THAT(msg, HasSubstr("unexpected key 'extra.w' [4]"));
}

}  // namespace
}  // namespace vanelia
