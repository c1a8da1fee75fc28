#!/usr/bin/env bash
# bench/libtorch_versions.sh: the same workloads on both LibTorch sources in one run (issue 17):
# vizrun built against Debian's LibTorch 1.13 (build/) and against PyPI's torch 2.x (build-pypi/),
# and the tuned Python loop on Debian's python3-torch 1.13 and on PyPI's torch. Prints a Markdown
# section for docs/performance.md to stdout.
#
#   bench/libtorch_versions.sh > bench/out/versions/section.md
#
# Workloads: filter ascent on VGG16 at 128 px (4 layers x FILTERS x STEPS, fp32 and bf16) and
# Grad-CAM on VGG16 with top at 224 px over IMAGES pictures (pytorch-grad-cam where a Python has
# it). Every program runs as its own process under /usr/bin/time -v; within each of REPEATS
# rounds all variants run back to back, and the report takes medians.
# Knobs: REPEATS (3), FILTERS (8), STEPS (8), IMAGES (64), DEBIAN_BUILD (build), PYPI_BUILD
# (build-pypi), DEBIAN_PY (/usr/bin/python3), PYPI_PY (~/.cache/vizrun/venv-torch/bin/python),
# PGC_DEBIAN_PY (a Python on torch 1.13 with grad-cam, see bench/run.sh; skipped when absent),
# BENCH_OUT (bench/out/versions).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
REPEATS=${REPEATS:-3} FILTERS=${FILTERS:-8} STEPS=${STEPS:-8} IMAGES=${IMAGES:-64}
debian_vizrun="$root/${DEBIAN_BUILD:-build}/bin/vizrun"
pypi_vizrun="$root/${PYPI_BUILD:-build-pypi}/bin/vizrun"
DEBIAN_PY=${DEBIAN_PY:-/usr/bin/python3}
PYPI_PY=${PYPI_PY:-$HOME/.cache/vizrun/venv-torch/bin/python}
PGC_DEBIAN_PY=${PGC_DEBIAN_PY:-/tmp/benchvenv/bin/python}
out=${BENCH_OUT:-$root/bench/out/versions}
for exe in "$debian_vizrun" "$pypi_vizrun" "$DEBIAN_PY" "$PYPI_PY"; do
  [ -x "$exe" ] || { echo "libtorch_versions.sh: $exe is missing (scripts/setup.sh, scripts/setup.sh --torch pypi)" >&2; exit 2; }
done
mkdir -p "$out"
imgs="$out/images_$IMAGES"
[ -d "$imgs" ] || { mkdir -p "$imgs"; "$DEBIAN_PY" bench/py/make_images.py "$imgs" "$IMAGES"; }
results="$out/results.jsonl"
: > "$results"
started=$(date -u +%FT%TZ) load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# measure REP WORKLOAD VARIANT -- command...: one process under /usr/bin/time -v.
measure() {
  local rep=$1 workload=$2 variant=$3; shift 4
  local tag="$out/r${rep}_${workload}_${variant}"
  /usr/bin/time -v -o "$tag.time" "$@" > "$tag.out" 2> "$tag.err" || { echo "failed: $tag (see $tag.err)" >&2; return 0; }
  printf '{"rep": %d, "workload": "%s", "variant": "%s", "file": "%s"}\n' "$rep" "$workload" "$variant" "$tag" >> "$results"
}

layers=block1_conv2,block3_conv1,block4_conv1,block5_conv3
for rep in $(seq 1 "$REPEATS"); do
  for p in fp32 bf16; do
    flag=""; [ $p = bf16 ] && flag=--bf16
    for src in debian pypi; do
      exe=$debian_vizrun py=$DEBIAN_PY
      [ $src = pypi ] && exe=$pypi_vizrun py=$PYPI_PY
      rm -rf "$out/run_${rep}_${src}_$p"
      measure "$rep" ascent "vizrun_${src}_$p" -- "$exe" run bench/configs/ascent_vgg16.yaml -q --out "$out/run_${rep}_${src}_$p" \
        --set precision=$p --set techniques.0.options.size=128 --set techniques.0.options.filters="$FILTERS" \
        --set techniques.0.options.steps="$STEPS"
      measure "$rep" ascent "python_${src}_$p" -- env PYTHONPATH=bench/py "$py" bench/py/ascent.py --mode tuned --model vgg16 \
        --size 128 --layers "$layers" --filters "$FILTERS" --steps "$STEPS" --batch 8 $flag
    done
  done
  for src in debian pypi; do
    exe=$debian_vizrun pgc=$PGC_DEBIAN_PY
    [ $src = pypi ] && exe=$pypi_vizrun pgc=$PYPI_PY
    rm -rf "$out/run_${rep}_${src}_gradcam"
    measure "$rep" gradcam "vizrun_$src" -- "$exe" run bench/configs/gradcam_vgg16.yaml -q --out "$out/run_${rep}_${src}_gradcam" \
      --set "techniques.0.options.images=[$imgs/*.png]"
    if [ -x "$pgc" ] && "$pgc" -c 'import pytorch_grad_cam' 2> /dev/null; then
      measure "$rep" gradcam "pgc_$src" -- env PYTHONPATH=bench/py "$pgc" bench/py/gradcam_bench.py --images "$imgs/*.png" \
        --threads "$(nproc)"
    fi
  done
done

versions() {
  echo "- Debian LibTorch: $(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null || echo '?'); python3-torch $("$DEBIAN_PY" -c 'import torch; print(torch.__version__)')"
  echo "- PyPI torch: $("$PYPI_PY" -c 'import torch; print(torch.__version__)') (the LibTorch of build-pypi and the Python programs' torch)"
}
"$DEBIAN_PY" bench/libtorch_versions_report.py "$out" "$started" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$FILTERS" "$STEPS" "$IMAGES" "$(versions)"
