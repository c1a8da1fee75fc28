#!/usr/bin/env bash
# Installs vizrun's build dependencies from Debian/Ubuntu packages and builds it
# (Release, ccache when present). Safe to run again.
#
#   scripts/setup.sh                 Debian's libtorch-dev (LibTorch 1.13, CPU), into ./build
#   scripts/setup.sh --torch pypi    the LibTorch inside PyPI's torch wheel (2.x, CUDA), into ./build-pypi
#
# For --torch pypi (docs/building.md):
#   VIZRUN_TORCH_VERSION  the torch wheel pinned (default below; the version this was tested with)
#   VIZRUN_TORCH_VENV     where the virtual environment lives (default ./.venv-torch); one that
#                         already holds that torch version is reused, so CI installs the wheel once
#   VIZRUN_TORCH_PYTHON   a Python whose torch is already installed (a cluster's, a GPU image's):
#                         used as it is, whatever its version, and nothing is installed
#   VIZRUN_BUILD_DIR      the build folder (default ./build-pypi)
#   VIZRUN_JOBS           parallel compile jobs (default: all cores)
#   VIZRUN_TARGETS        build only these targets (space-separated; default: everything)
#   VIZRUN_CONFIGURE_ONLY =1: install and configure, build nothing (CI builds under a time limit)
#   VIZRUN_CUDA_TOOLKIT   =pypi: take nvcc from PyPI even where the machine has a CUDA toolkit
set -euo pipefail
cd "$(dirname "$0")/.."

torch_source=debian
while (($#)); do
  case "$1" in
    --torch) torch_source=${2:-}; shift 2 || { echo "setup.sh: --torch needs debian or pypi" >&2; exit 2; } ;;
    --torch=*) torch_source=${1#--torch=}; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1' (expected --torch debian|pypi)" >&2; exit 2 ;;
  esac
done
case "$torch_source" in
  debian|pypi) ;;
  *) echo "setup.sh: --torch expects debian or pypi, got '$torch_source'" >&2; exit 2 ;;
esac

packages=(
  cmake ninja-build g++ ccache pkg-config git
  libopenblas0-pthread    # OpenBLAS as libblas.so.3: dense layers (Grad-CAM's fc1/fc2) 8-14x faster than the reference BLAS (docs/performance.md)
  libyaml-cpp-dev         # experiment files
  libboost-dev libboost-filesystem-dev  # Boost.DLL plugin loading
  libopenimageio-dev      # image decoding and PNG output
  nlohmann-json3-dev libvalijson-dev    # JSON Schema validation, manifest
  libeigen3-dev           # sparse solve of ROAD's imputation (faithfulness metrics)
  libcli11-dev            # command line
  libssl-dev              # sha256 of inputs and outputs
  libhdf5-dev             # Keras .h5 weights
  libzip-dev              # Keras 3 .keras model files are zip archives (the keras model plugin)
  libcurl4-openssl-dev    # `weights: imagenet` downloads
  catch2                  # tests
  dataset-fashion-mnist   # the shipped demo model's test set
)
if [ "$torch_source" = debian ]; then
  packages+=(libtorch-dev)  # LibTorch: models and autograd
elif ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  packages+=(python3-venv)  # the virtual environment that holds PyPI's torch
fi
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

if [ "$torch_source" = debian ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j"$(nproc)"
  echo "built: $(pwd)/build/bin/vizrun"
  exit 0
fi

# --- PyPI's torch: the wheel's LibTorch (C++11 ABI, CUDA runtime, cuDNN) ------------
torch_version=${VIZRUN_TORCH_VERSION:-2.15.0}
venv=${VIZRUN_TORCH_VENV:-$PWD/.venv-torch}
build_dir=${VIZRUN_BUILD_DIR:-build-pypi}
jobs=${VIZRUN_JOBS:-$(nproc)}
python=${VIZRUN_TORCH_PYTHON:-$venv/bin/python}
have=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
if [ -n "${VIZRUN_TORCH_PYTHON:-}" ]; then
  [ -n "$have" ] || { echo "setup.sh: VIZRUN_TORCH_PYTHON=$python cannot import torch" >&2; exit 2; }
  echo "using torch $have of $python"
elif [ "${have%%+*}" != "$torch_version" ]; then
  echo "installing torch==$torch_version into $venv (found: ${have:-none})"
  [ -x "$python" ] || python3 -m venv "$venv"
  "$python" -m pip install -q --disable-pip-version-check "torch==$torch_version"
else
  echo "reusing torch $have in $venv"
fi
have=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)

# The wheel's Caffe2 config needs a CUDA toolkit (nvcc, headers, libraries) when the
# wheel has CUDA. The machine's is used where there is one (nvcc on PATH, or NVIDIA's
# installer's /usr/local/cuda); where there is none (or VIZRUN_CUDA_TOOLKIT=pypi), PyPI's
# nvcc of the wheel's own CUDA version is put into the venv beside the wheel's runtime.
pypi_cuda_toolkit() {
  [ -z "${VIZRUN_TORCH_PYTHON:-}" ] || {
    echo "setup.sh: no CUDA toolkit (nvcc) here, and VIZRUN_TORCH_PYTHON's environment is not ours to add one to" >&2
    return 1; }
  local runtime cu lib
  runtime=$("$python" -m pip show nvidia-cuda-runtime 2>/dev/null | sed -n 's/^Version: //p')
  [ -n "$runtime" ] || { echo "setup.sh: the wheel has CUDA but no nvidia-cuda-runtime package" >&2; return 1; }
  "$python" -m pip install -q --disable-pip-version-check \
    "nvidia-cuda-nvcc==$runtime" "nvidia-nvvm==$runtime" "nvidia-cuda-crt==$runtime" >&2
  cu=$("$python" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu" + "'"${runtime%%.*}"'"))')
  # CMake looks for the unversioned names a toolkit has (libcudart.so, ...); the wheels
  # ship the versioned ones only.
  for lib in "$cu"/lib/lib*.so.*; do
    local plain=${lib%%.so.*}.so
    [ -e "$plain" ] || ln -s "$(basename "$lib")" "$plain"
  done
  echo "$cu"
}
cuda_args=()
has_cuda=$("$python" -c 'import torch; print(1 if torch.version.cuda else 0)' 2>/dev/null || echo 0)
if [ "$has_cuda" = 1 ]; then
  toolkit=""
  if [ "${VIZRUN_CUDA_TOOLKIT:-}" = pypi ]; then
    toolkit=$(pypi_cuda_toolkit)
  elif command -v nvcc >/dev/null; then
    :
  elif [ -x /usr/local/cuda/bin/nvcc ]; then
    toolkit=/usr/local/cuda
  else
    toolkit=$(pypi_cuda_toolkit)
  fi
  if [ -n "$toolkit" ]; then
    echo "CUDA toolkit for the wheel's CMake config: $toolkit"
    cuda_args+=(-DCUDAToolkit_ROOT="$toolkit" -DCUDA_TOOLKIT_ROOT_DIR="$toolkit" -DCMAKE_CUDA_COMPILER="$toolkit/bin/nvcc")
  fi
fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix" "${cuda_args[@]}"
if [ "${VIZRUN_CONFIGURE_ONLY:-0}" = 1 ]; then
  echo "configured against torch $have ($torch_prefix): $(pwd)/$build_dir"
  exit 0
fi
read -r -a targets <<<"${VIZRUN_TARGETS:-}"
target_args=()
((${#targets[@]})) && target_args=(--target "${targets[@]}")
cmake --build "$build_dir" -j"$jobs" "${target_args[@]}"
echo "built against torch $have ($torch_prefix): $(pwd)/$build_dir/bin/vizrun"
