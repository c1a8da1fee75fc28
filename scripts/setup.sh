#!/usr/bin/env bash
# Installs vizrun's build dependencies from Debian/Ubuntu packages and builds it
# (Release, ccache when present) into ./build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ ccache pkg-config git
  libtorch-dev            # LibTorch: models and autograd
  libopenblas0-pthread    # OpenBLAS as libblas.so.3: dense layers (Grad-CAM's fc1/fc2) 8-14x faster than the reference BLAS (docs/performance.md)
  libyaml-cpp-dev         # experiment files
  libboost-dev libboost-filesystem-dev  # Boost.DLL plugin loading
  libopenimageio-dev      # image decoding and PNG output
  nlohmann-json3-dev libvalijson-dev    # JSON Schema validation, manifest
  libcli11-dev            # command line
  libssl-dev              # sha256 of inputs and outputs
  libhdf5-dev             # Keras .h5 weights
  libzip-dev              # Keras 3 .keras model files are zip archives (the keras model plugin)
  libcurl4-openssl-dev    # `weights: imagenet` downloads
  catch2                  # tests
  dataset-fashion-mnist   # the shipped demo model's test set
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo "built: $(pwd)/build/bin/vizrun"
