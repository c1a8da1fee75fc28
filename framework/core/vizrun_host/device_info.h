#pragma once
/// \file device_info.h
/// What a run computed on, for the manifest: the LibTorch build (version, CUDA
/// runtime and cuDNN it was built with, GPUs visible) and the device itself (a GPU's
/// name, compute capability and memory, or the CPU's model name).

#include <nlohmann/json.hpp>

#include <string>

namespace vizrun::host {

/// {libtorch, cuda_runtime, cudnn, gpus, cuda_visible_devices}; versions "" when the
/// build has no CUDA.
nlohmann::json torch_build_info();

/// {kind, name, ...} of "cpu", "cuda" or "cuda:N".
nlohmann::json device_info(const std::string& device);

/// A GPU's {name, capability, memory_bytes}; null in a LibTorch build without CUDA.
/// (gpu_info_cuda.cpp with a CUDA LibTorch, gpu_info_none.cpp otherwise: the one
/// place the two LibTorch flavours differ.)
nlohmann::json gpu_info(int index);

}  // namespace vizrun::host
