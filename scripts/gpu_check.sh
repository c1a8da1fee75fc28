#!/usr/bin/env bash
# scripts/gpu_check.sh: the check of vizrun's CUDA path (issue 17), prepared to be run as
# it is whenever a machine with an NVIDIA GPU is at hand:
#
#   1. builds vizrun against PyPI's torch (scripts/setup.sh --torch pypi: build-pypi/;
#      the wheel's CMake config needs the CUDA toolkit's nvcc on the machine);
#   2. runs the device tests on the GPU: the framework's [device] tests (a run with
#      `device: cuda` equals the CPU's, the manifest names the GPU, cuda:N is checked)
#      and the numerical oracles of tests/models and tests/techniques with
#      VIZRUN_TEST_DEVICE=cuda (model outputs within 1e-4 relative, technique maps within
#      1e-3; tests/support/oracle_device.h);
#   3. runs bench/ on the GPU (bench/gpu.sh) and writes docs/performance-gpu.md.
#
# Where no GPU is found it says so, builds the same CUDA build and runs the CPU half:
# the same oracles on the CPU, the [device] tests' no-GPU path, the oracles once more
# with VIZRUN_TEST_DEVICE=cuda to show that they skip and why; no bench, no report.
#
# Time: GPU_CHECK_SECONDS (600) covers everything after the build, which on a fresh
# 16-core machine takes ~10 minutes without ccache (the build has no GPU work: build
# first, then start the clock on a leased GPU with SKIP_BUILD=1). Steps 2 and 3 are
# each stopped at what is left; the bench gets what the tests leave (at least 60 s).
# Knobs: SKIP_BUILD=1, GPU_CHECK_SECONDS, VIZRUN_TORCH_PYTHON (a Python whose torch to
# build against instead of the venv, e.g. the GPU image's own) and setup.sh's others.
# Exit status: 0 when every test that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${VIZRUN_BUILD_DIR:-build-pypi}
budget=${GPU_CHECK_SECONDS:-600}
export CTEST_OUTPUT_ON_FAILURE=1
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
failures=0

say() { printf '\n== %s\n' "$*"; }

say "GPU check: $(date -u +%FT%TZ) on $(hostname), $(nproc) cores"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  nvidia-smi -L
else
  echo "nvidia-smi: none here, or it finds no GPU"
fi

# --- 1. the build ----------------------------------------------------------------------
targets="vizrun vgg16 resnet50v2 small_convnet torchscript activations filter_ascent gradcam test_plugins
  framework_tests vizrun_models_tests technique_tests"
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  say "1. build: skipped (SKIP_BUILD=1), using $build"
else
  say "1. build against PyPI's torch into $build"
  build_start=$SECONDS
  if ! VIZRUN_BUILD_DIR=$build VIZRUN_TARGETS="$(echo $targets)" scripts/setup.sh --torch pypi; then
    echo "GPU check: the build failed"
    exit 1
  fi
  echo "build: $((SECONDS - build_start))s"
fi
python=${VIZRUN_TORCH_PYTHON:-${VIZRUN_TORCH_VENV:-$root/.venv-torch}/bin/python}
grep -q 'gpu_info_cuda.cpp' "$build/build.ninja" &&
  echo "this build has CUDA (gpu_info_cuda.cpp; LibTorch $("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null))"

clock=$SECONDS
left() { echo $((budget - (SECONDS - clock))); }

# Does this LibTorch see a GPU? Asked of the build itself: `vizrun validate --device cuda`
# passes on any machine, a tiny run is what resolves the device.
probe=$(mktemp -d)
cat >"$probe/probe.yaml" <<'EOF'
experiment: gpu_probe
seed: 0
model: {plugin: tiny_model, weights: random, options: {size: 12}}
techniques:
  - plugin: layer_means
    options: {layers: [conv1]}
EOF
if "$build/bin/vizrun" "$probe/probe.yaml" -q --device cuda --out "$probe/run" \
  --plugin-path "$build/tests/plugins/good" 2>"$probe/err"; then
  gpu=1
  gpu_name=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["environment"]["device_info"].get("name", "?"))' \
    "$probe/run/manifest.json" 2>/dev/null || echo "a CUDA device")
  say "GPU found: $gpu_name"
else
  gpu=0
  say "NO GPU FOUND: $(tail -1 "$probe/err")"
  echo "Only the CPU half runs here: the CUDA build above, the oracles on the CPU, the device"
  echo "tests' no-GPU path. Run this script on a machine with an NVIDIA GPU for the rest."
fi
rm -rf "$probe"

# run_tests TITLE SECONDS -- command...: a test binary, stopped at SECONDS.
run_tests() {
  local title=$1 limit=$2
  shift 3
  say "$title"
  if [ "$limit" -lt 10 ]; then
    echo "skipped: the budget is spent"
    failures=$((failures + 1))
    return
  fi
  local t0=$SECONDS rc=0
  timeout "$limit" "$@" || rc=$?
  if [ "$rc" -eq 124 ]; then
    echo "-> STOPPED at the budget after $((SECONDS - t0))s"
  else
    echo "-> exit $rc after $((SECONDS - t0))s"
  fi
  [ "$rc" -eq 0 ] || failures=$((failures + 1))
}

fw=$(find "$build" -name framework_tests -type f -perm -u+x | head -1)
models=$(find "$build" -name vizrun_models_tests -type f -perm -u+x | head -1)
techniques=$(find "$build" -name technique_tests -type f -perm -u+x | head -1)

# --- 2. the device tests ---------------------------------------------------------------
if [ "$gpu" = 1 ]; then
  tests_budget=$(($(left) - 120))  # two minutes kept for the bench
  run_tests "2a. framework [device] tests on the GPU" "$tests_budget" -- "$fw" "[device]" --durations yes
  run_tests "2b. model oracles on cuda (VIZRUN_TEST_DEVICE=cuda)" $(($(left) - 120)) -- \
    env VIZRUN_TEST_DEVICE=cuda "$models" "[oracle]" --durations yes
  run_tests "2c. technique oracles on cuda (VIZRUN_TEST_DEVICE=cuda)" $(($(left) - 90)) -- \
    env VIZRUN_TEST_DEVICE=cuda "$techniques" "[oracle]" --durations yes
else
  run_tests "2a. framework [device] tests (the no-GPU path)" "$(left)" -- "$fw" "[device]" --durations yes
  run_tests "2b. oracles with VIZRUN_TEST_DEVICE=cuda: they skip, saying why" "$(left)" -- \
    sh -c "VIZRUN_TEST_DEVICE=cuda '$models' '[oracle]' && VIZRUN_TEST_DEVICE=cuda '$techniques' '[oracle]'"
  run_tests "2c. technique oracles on the CPU" "$(left)" -- "$techniques" "[oracle]" --durations yes
  run_tests "2d. model oracles on the CPU" "$(left)" -- "$models" "[oracle]" --durations yes
fi

# --- 3. the bench ------------------------------------------------------------------------
if [ "$gpu" = 1 ]; then
  bench_budget=$(left)
  [ "$bench_budget" -ge 60 ] || bench_budget=60
  say "3. bench/gpu.sh on the GPU, ${bench_budget}s"
  BUILD=$root/$build PYTHON=$python bench/gpu.sh "$bench_budget" || failures=$((failures + 1))
else
  say "3. bench: not run, no GPU (docs/performance-gpu.md is left as it is)"
fi

say "GPU check done after $((SECONDS - clock))s past the build: gpu=$gpu, failed steps: $failures"
[ "$failures" -eq 0 ]
