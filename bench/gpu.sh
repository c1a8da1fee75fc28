#!/usr/bin/env bash
# bench/gpu.sh: bench/'s workloads on a CUDA device, and docs/performance-gpu.md.
#
#   bench/gpu.sh [SECONDS]     (default 300; scripts/gpu_check.sh passes what its budget left)
#
# vizrun built against PyPI's torch (build-pypi, scripts/setup.sh --torch pypi) runs
# filter ascent (VGG16 at 224 px, ResNet50V2 at 180 px) and Grad-CAM (VGG16, 224 px) on
# the GPU in fp32 and bf16, and the tuned Python loop of bench/py/ascent.py runs the
# same ascent on the same GPU with the same torch. One repeat each: the point is where
# the GPU stands, not small differences. A workload starts only while SECONDS are left,
# and each is stopped at what is left; what did not run is listed as skipped.
# Knobs (environment): BUILD (build-pypi), PYTHON (the torch the build used: .venv-torch),
# DEVICE (cuda), FILTERS (64), STEPS (20), GRADCAM_IMAGES (256), BENCH_OUT (bench/out-gpu),
# REPORT (docs/performance-gpu.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
budget=${1:-300}
BUILD=${BUILD:-$root/build-pypi}
PYTHON=${PYTHON:-$root/.venv-torch/bin/python}
DEVICE=${DEVICE:-cuda}
FILTERS=${FILTERS:-64} STEPS=${STEPS:-20} GRADCAM_IMAGES=${GRADCAM_IMAGES:-256}
out=${BENCH_OUT:-$root/bench/out-gpu}
report=${REPORT:-$root/docs/performance-gpu.md}
vizrun=$BUILD/bin/vizrun
start=$SECONDS
[ -x "$vizrun" ] || { echo "bench/gpu.sh: no $vizrun: build it first (scripts/setup.sh --torch pypi)" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out/images"
results=$out/results.jsonl
: >"$results"

left() { echo $((budget - (SECONDS - start))); }

# measure WORKLOAD VARIANT -- command...: one timed process, stopped at the budget's end.
measure() {
  local workload=$1 variant=$2 tag="$out/${1}_${2}"
  shift 3
  local rest
  rest=$(left)
  if [ "$rest" -lt 20 ]; then
    echo "  skipped $workload/$variant: the budget is spent"
    echo "{\"workload\": \"$workload\", \"variant\": \"$variant\", \"status\": \"skipped\"}" >>"$results"
    return 0
  fi
  local t0=$SECONDS rc=0
  timeout "$rest" "$@" >"$tag.out" 2>"$tag.err" || rc=$?
  local status=ok
  [ "$rc" -eq 0 ] || status="exit $rc"
  [ "$rc" -eq 124 ] && status="stopped at the budget"
  echo "  $workload/$variant: $status after $((SECONDS - t0))s"
  echo "{\"workload\": \"$workload\", \"variant\": \"$variant\", \"status\": \"$status\", \"wall\": $((SECONDS - t0)), \"file\": \"$tag\"}" >>"$results"
}

# The Python loop needs torchvision (bench/py/nets.py) beside the build's torch.
python_ok=1
if ! PYTHONPATH=bench/py "$PYTHON" -c 'import torch, torchvision' 2>/dev/null; then
  python_ok=0
  echo "  the Python loop is skipped: $PYTHON has no torchvision"
fi

ascent() {  # workload model size layers config
  local w=$1 model=$2 size=$3 layers=$4 cfg=$5
  for p in fp32 bf16; do
    measure "$w" "vizrun_$p" -- "$vizrun" run "bench/configs/$cfg" --out "$out/run_${w}_$p" -q --device "$DEVICE" \
      --set precision=$p --set techniques.0.options.size="$size" --set techniques.0.options.filters="$FILTERS" \
      --set techniques.0.options.steps="$STEPS" --set "techniques.0.options.layers=[$layers]"
    if [ "$python_ok" = 1 ]; then
      local flag=()
      [ $p = bf16 ] && flag=(--bf16)
      measure "$w" "python_tuned_$p" -- env PYTHONPATH=bench/py "$PYTHON" bench/py/ascent.py --mode tuned --device "$DEVICE" \
        --model "$model" --size "$size" --layers "$layers" --filters "$FILTERS" --steps "$STEPS" --batch 8 "${flag[@]}"
    fi
  done
}

echo "bench on $DEVICE, ${budget}s: filter ascent ($FILTERS filters x $STEPS steps), Grad-CAM ($GRADCAM_IMAGES images)"
ascent vgg16_224 vgg16 224 block1_conv2,block3_conv1,block4_conv1,block5_conv3 ascent_vgg16.yaml
ascent resnet50v2_180 resnet50v2 180 conv3_block4_out ascent_resnet50v2.yaml
for i in $(seq 1 "$GRADCAM_IMAGES"); do cp data/images/chelsea.png "$out/images/img_$i.png"; done
for p in fp32 bf16; do
  measure gradcam_vgg16 "vizrun_$p" -- "$vizrun" run bench/configs/gradcam_vgg16.yaml --out "$out/run_gradcam_$p" -q \
    --device "$DEVICE" --set precision=$p --set "techniques.0.options.images=[$out/images/*.png]"
done
PYTHONPATH=bench/py "$PYTHON" bench/gpu_report.py "$out" "bench/gpu.sh $budget" >"$report"
echo "wrote $report"
