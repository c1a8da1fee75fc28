#!/usr/bin/env bash
# bench/cam.sh: every CAM method of the cam plugin against pytorch-grad-cam on VGG16 with
# top at 224 px (random weights on both sides), images/s and peak RSS, one process per run
# under /usr/bin/time -v.
#
#   IMAGES=64 bench/cam.sh                  # the issue's workload (a quiet machine, all cores)
#   IMAGES=4 METHODS="gradcam scorecam" bench/cam.sh   # a quick check
#
# Knobs: IMAGES (64), METHODS (all nine), VIZRUN (build/bin/vizrun), PGC_PY (the python with
# torch 2.x, torchvision and grad-cam 1.5.7: ~/.cache/vizrun/venv-torch/bin/python),
# MAKE_PY (/usr/bin/python3, draws the pictures), BENCH_OUT (bench/out/cam).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
IMAGES=${IMAGES:-64}
METHODS=${METHODS:-"gradcam gradcam++ xgradcam hirescam layercam eigencam eigengradcam scorecam ablationcam"}
VIZRUN=${VIZRUN:-$root/build/bin/vizrun}
PGC_PY=${PGC_PY:-$HOME/.cache/vizrun/venv-torch/bin/python}
MAKE_PY=${MAKE_PY:-/usr/bin/python3}
out=${BENCH_OUT:-$root/bench/out/cam}
imgs="$out/images_$IMAGES"
mkdir -p "$out"
[ -d "$imgs" ] || { mkdir -p "$imgs"; "$MAKE_PY" bench/py/make_images.py "$imgs" "$IMAGES"; }
peak() { awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$1"; }
secs() { awk -F': ' '/Elapsed \(wall/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$1"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-13s %12s %10s %12s %10s %8s\n" method vizrun_img/s rss_MB pgc_img/s rss_MB speedup
for m in $METHODS; do
  slug=${m//+/p}
  rm -rf "$out/run_$slug"
  /usr/bin/time -v -o "$out/$slug.vizrun.time" "$VIZRUN" run bench/configs/cam_vgg16.yaml -q --out "$out/run_$slug" \
    --set "techniques.0.options.images=[$imgs/*.png]" --set "techniques.0.options.methods=[$m]" \
    > "$out/$slug.vizrun.log" 2>&1 || { echo "vizrun failed on $m: $out/$slug.vizrun.log" >&2; continue; }
  /usr/bin/time -v -o "$out/$slug.pgc.time" "$PGC_PY" bench/py/cam_bench.py --images "$imgs/*.png" --method "$m" \
    > "$out/$slug.pgc.json" 2> "$out/$slug.pgc.log" || { echo "pytorch-grad-cam failed on $m: $out/$slug.pgc.log" >&2; continue; }
  # Both rates include process start, model construction and decoding (wall time of the process).
  vs=$(secs "$out/$slug.vizrun.time"); ps=$(secs "$out/$slug.pgc.time")
  awk -v m="$m" -v n="$IMAGES" -v vs="$vs" -v ps="$ps" -v vr="$(peak "$out/$slug.vizrun.time")" -v pr="$(peak "$out/$slug.pgc.time")" \
    'BEGIN {printf "%-13s %12.3f %10d %12.3f %10d %7.2fx\n", m, n/vs, vr, n/ps, pr, ps/vs}'
done
