// NumPy .npy files as LibTorch tensors for the model tests: the array of
// testing/npy.hpp copied into a CPU tensor of the same dtype and shape.
//
//   torch::Tensor x =
//   LoadNpyTensor("tests/data/must3r/tiny_kv/s1_init/enc_x.npy");
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "testing/npy.hpp"

namespace vanelia::testing {

inline torch::Tensor NpyToTensor(const NpyArray& a) {
  torch::Dtype dtype = torch::kFloat32;
  switch (a.dtype) {
    case NpyDtype::kFloat32:
      dtype = torch::kFloat32;
      break;
    case NpyDtype::kFloat64:
      dtype = torch::kFloat64;
      break;
    case NpyDtype::kInt64:
      dtype = torch::kInt64;
      break;
    case NpyDtype::kInt32:
      dtype = torch::kInt32;
      break;
    case NpyDtype::kUInt8:
      dtype = torch::kUInt8;
      break;
    case NpyDtype::kBool:
      dtype = torch::kBool;
      break;
  }
  // clone() copies: the tensor does not keep `a`'s buffer.
  return torch::from_blob(const_cast<uint8_t*>(a.data.data()), a.shape, dtype)
      .clone();
}

inline torch::Tensor LoadNpyTensor(const std::string& path) {
  return NpyToTensor(ReadNpy(path));
}

}  // namespace vanelia::testing
