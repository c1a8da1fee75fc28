#!/usr/bin/env bash
# bench/run.sh: every benchmark of docs/performance.md in one run, on this machine.
#
#   bench/run.sh            # builds build-perf (with bare_ascent), runs, writes docs/performance.md
#
# Needs: Debian's python3-torch/python3-torchvision/python3-psutil (the same LibTorch
# 1.13 as vizrun), a venv for pytorch-grad-cam:
#   /usr/bin/python3 -m venv --system-site-packages /tmp/benchvenv
#   /tmp/benchvenv/bin/pip install --no-deps grad-cam ttach
#   /tmp/benchvenv/bin/pip install "opencv-python-headless<4.11" "matplotlib<3.10" "scipy<1.12" tqdm
#   (then `pip uninstall numpy` in the venv if pip pulled one: Debian's numpy 1.24 must win)
# Knobs (environment): REPEATS (3), FILTERS (8), STEPS (8), PLAIN_FILTERS (2),
# GRADCAM_IMAGES (64), FLAT_IMAGES (1000), ALL_LAYERS (1: also run
# configs/vgg16_all_layers.yaml end to end in bf16 and fp32, ~40 min), BENCH_OUT (bench/out).
# Every workload runs as its own process under /usr/bin/time -v (peak RSS); all variants of
# a workload run back to back within each repeat, and the report takes medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CCACHE_BASEDIR="$root"
build="$root/build-perf"
out="${BENCH_OUT:-$root/bench/out}"
REPEATS=${REPEATS:-3} FILTERS=${FILTERS:-8} STEPS=${STEPS:-8} PLAIN_FILTERS=${PLAIN_FILTERS:-2}
GRADCAM_IMAGES=${GRADCAM_IMAGES:-64} FLAT_IMAGES=${FLAT_IMAGES:-1000} ALL_LAYERS=${ALL_LAYERS:-1}
PY=/usr/bin/python3
VENV_PY=${VENV_PY:-/tmp/benchvenv/bin/python}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVIZRUN_BUILD_BENCH=ON > /dev/null
  cmake --build "$build" -j"$(nproc)" > /dev/null
  cmake --build "$build" --target bare_ascent > /dev/null
fi
vizrun="$build/bin/vizrun"
bare="$build/bin/bare_ascent"
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
echo "{\"started\": \"$(date -u +%FT%TZ)\", \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" > "$out/meta.json"

# measure NAME REP WORKLOAD VARIANT -- command...: runs under /usr/bin/time -v.
measure() {
  local rep=$1 workload=$2 variant=$3; shift 4
  local tag="$out/r${rep}_${workload}_${variant}"
  /usr/bin/time -v -o "$tag.time" "$@" > "$tag.out" 2> "$tag.err" || { echo "failed: $tag" >&2; return 0; }
  echo "{\"rep\": $rep, \"workload\": \"$workload\", \"variant\": \"$variant\", \"file\": \"$tag\"}" >> "$results"
}

vgg_layers=block1_conv2,block3_conv1,block4_conv1,block5_conv3
imgs="$out/images"; flat="$out/images_flat"
if [ ! -d "$flat" ]; then
  mkdir -p "$imgs" "$flat"
  "$PY" bench/py/make_images.py "$flat" "$FLAT_IMAGES"
  for f in $(ls "$flat" | head -n "$GRADCAM_IMAGES"); do ln -sf "$flat/$f" "$imgs/$f"; done
fi

ascent_variants() {  # rep workload model size layers config
  local rep=$1 w=$2 model=$3 size=$4 layers=$5 cfg=$6
  measure "$rep" "$w" plain -- "$PY" bench/py/ascent.py --mode plain --model "$model" --size "$size" --layers "$layers" --filters "$PLAIN_FILTERS" --steps "$STEPS"
  measure "$rep" "$w" tuned_fp32 -- "$PY" bench/py/ascent.py --mode tuned --model "$model" --size "$size" --layers "$layers" --filters "$FILTERS" --steps "$STEPS" --batch 8
  measure "$rep" "$w" tuned_bf16 -- "$PY" bench/py/ascent.py --mode tuned --model "$model" --size "$size" --layers "$layers" --filters "$FILTERS" --steps "$STEPS" --batch 8 --bf16
  for p in fp32 bf16; do
    rm -rf "$out/run_${rep}_${w}_$p"
    measure "$rep" "$w" "vizrun_$p" -- "$vizrun" run "bench/configs/$cfg" --out "$out/run_${rep}_${w}_$p" \
      --set precision=$p --set techniques.0.options.size=$size --set techniques.0.options.filters=$FILTERS \
      --set techniques.0.options.steps=$STEPS
    local flag=""; [ $p = bf16 ] && flag=--bf16
    measure "$rep" "$w" "bare_$p" -- "$bare" --model "$model" --size "$size" --layers "$layers" --filters "$FILTERS" --steps "$STEPS" --batch 8 $flag
  done
}

one_repeat() {
  local rep=$1
  ascent_variants "$rep" vgg16_128 vgg16 128 "$vgg_layers" ascent_vgg16.yaml
  ascent_variants "$rep" vgg16_150 vgg16 150 "$vgg_layers" ascent_vgg16.yaml
  ascent_variants "$rep" resnet50v2_180 resnet50v2 180 conv3_block4_out ascent_resnet50v2.yaml
  rm -rf "$out/run_${rep}_gradcam"
  measure "$rep" gradcam vizrun -- "$vizrun" run bench/configs/gradcam_vgg16.yaml --out "$out/run_${rep}_gradcam" \
    --set "techniques.0.options.images=[$imgs/*.png]"
  measure "$rep" gradcam pgc_default -- "$VENV_PY" bench/py/gradcam_bench.py --images "$imgs/*.png"
  measure "$rep" gradcam pgc_2threads -- "$VENV_PY" bench/py/gradcam_bench.py --images "$imgs/*.png" --threads "$(nproc)"
}

one_repeat 1

# Levers (one repeat each, VGG16 128 px fp32): each option switched off alone.
for lever in target_filters_only=false channels_last=false reuse_memory=false batch_size=1; do
  name=${lever%%=*}
  rm -rf "$out/run_lever_$name"
  measure 1 lever "$name" -- "$vizrun" run bench/configs/ascent_vgg16.yaml --out "$out/run_lever_$name" \
    --set techniques.0.options.filters=$FILTERS --set techniques.0.options.steps=$STEPS --set "techniques.0.options.$lever"
done
rm -rf "$out/run_lever_reference"
measure 1 lever reference -- "$vizrun" run bench/configs/ascent_vgg16.yaml --out "$out/run_lever_reference" \
  --set techniques.0.options.filters=$FILTERS --set techniques.0.options.steps=$STEPS
# BLAS: Grad-CAM with Debian's reference BLAS against OpenBLAS (libopenblas0-pthread).
for blas in blas openblas-pthread; do
  rm -rf "$out/run_blas_$blas"
  measure 1 blas "$blas" -- env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/$blas "$vizrun" run bench/configs/gradcam_vgg16.yaml \
    --out "$out/run_blas_$blas" --set "techniques.0.options.images=[$imgs/*.png]"
done
for blas in blas openblas-pthread; do
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/$blas "$PY" bench/py/blas_bench.py > "$out/blas_$blas.json"
done
# Grad-CAM memory over FLAT_IMAGES pictures.
rm -rf "$out/run_flat"
measure 1 gradcam_flat vizrun -- "$vizrun" run bench/configs/gradcam_vgg16.yaml --out "$out/run_flat" \
  --set "techniques.0.options.images=[$flat/*.png]"
# fp32 agreement with the plain recipe.
"$PY" bench/py/check.py "$vizrun" "$out/check" > "$out/check.jsonl"
for rep in $(seq 2 "$REPEATS"); do one_repeat "$rep"; done
if [ "$ALL_LAYERS" = 1 ]; then bench/all_layers.sh "$out" bf16 fp32; fi
echo "{\"started\": $(cat "$out/meta.json" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["started"]))'), \"finished\": \"$(date -u +%FT%TZ)\", \"load_start\": $(cat "$out/meta.json" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["load"]))'), \"load_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" > "$out/meta.json"
"$PY" bench/report.py "$out" "bench/run.sh" > docs/performance.md
echo "wrote docs/performance.md"
