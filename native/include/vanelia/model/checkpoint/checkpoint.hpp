// Safe loading of PyTorch checkpoints (MUSt3R, DUSt3R) without Python.
//
// A torch.save file is a zip archive `<stem>/data.pkl` (a pickle),
// `<stem>/data/<key>` (raw storage bytes), `<stem>/version`, and since torch
// 2.1 `<stem>/byteorder` ("little" | "big"). The pickle is read by our
// restricted unpickler (pickle.hpp), which executes nothing: globals outside a
// data-only whitelist become inert placeholders. Tensors referenced by the
// pickle are materialised from the archive as CPU tensors.
//
//   Checkpoint ckpt = LoadCheckpoint("MUSt3R_512.pth");   // throws ModelError
//   ModelConfig config = ParseMust3rConfig(ckpt);          // model_config.hpp
//   LoadStateDictStrict(*encoder, ckpt.encoder, "encoder"); // state_dict.hpp
//
// Layouts:
//   MUSt3R: {'args': Namespace(encoder='Dust3rEncoder(...)',
//            decoder='CausalMUSt3R(...)', ...), 'encoder': sd, 'decoder': sd}
//   DUSt3R: {'args': Namespace(model='AsymmetricCroCo3DStereo(...)', ...),
//            'model': sd}
// LoadCheckpoint accepts either (any top-level dict); the parsers in
// model_config.hpp check which one they got.
#pragma once

#include "vanelia/model/checkpoint/pickle.hpp"
#include "vanelia/model/checkpoint/state_dict.hpp"

#include <string>

namespace vanelia {

enum class CheckpointLayout {
  kMust3r,  // 'encoder' + 'decoder' state dicts
  kDust3r,  // 'model' state dict
  kOther,   // a dict with neither (LoadCheckpoint still succeeds)
};

struct Checkpoint {
  std::string path;
  CheckpointLayout layout = CheckpointLayout::kOther;
  // The whole unpickled top-level object (a dict), tensors left as TensorRef.
  PyValue root;
  // root['args'] (argparse.Namespace), or None when absent.
  PyValue args;
  // The state dicts found at the top level, as float32 CPU tensors.
  StateDict encoder;  // MUSt3R 'encoder'
  StateDict decoder;  // MUSt3R 'decoder'
  StateDict model;    // DUSt3R 'model'
  // Archive facts, for diagnostics.
  std::string archive_root;    // the zip's top folder (usually the file stem)
  int64_t format_version = 0;  // the `version` record
  bool big_endian = false;     // the `byteorder` record said "big"
};

struct LoadCheckpointOptions {
  // Also materialise tensors in top-level dicts other than encoder/decoder/
  // model (optimizer state etc.) - never needed for inference.
  bool load_other_tensors = false;
};

// Reads `path`. Throws ModelError for: a missing/empty/non-zip/truncated file,
// a wrong archive layout (no single top folder, no data.pkl, unsupported
// version, unknown byteorder), a malformed pickle, a persistent id that is not
// a storage, a storage entry missing or of the wrong size, a tensor view out
// of its storage, a state-dict entry that is not a tensor (e.g. a placeholder:
// the message names the global), or a top level that is not a dict.
Checkpoint LoadCheckpoint(
    const std::string& path,
    const LoadCheckpointOptions& options = LoadCheckpointOptions());

}  // namespace vanelia
