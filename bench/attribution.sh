#!/usr/bin/env bash
# bench/attribution.sh: every attribution method's images/s and peak RSS, vizrun against
# captum (PyPI, in VENV_PY: torch 2.x, all cores), on VGG16 with top (random weights) at
# 224 px, top-1 class, over IMAGES pictures (64). Writes bench/out/attribution.jsonl and
# prints a table.
#
#   bench/attribution.sh                                # build/ must hold vizrun and the plugins
#   IMAGES=4 METHODS="saliency occlusion" bench/attribution.sh   # a quick check
#
# Knobs: IMAGES (64), METHODS (all), BUILD (build), VENV_PY (~/.cache/vizrun/venv-torch/bin/python),
# BENCH_OUT (bench/out).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
IMAGES=${IMAGES:-64}
METHODS=${METHODS:-"saliency gradient_x_input integrated_gradients smoothgrad guided_backprop guided_gradcam occlusion"}
build="${BUILD:-$root/build}"
VENV_PY=${VENV_PY:-$HOME/.cache/vizrun/venv-torch/bin/python}
out="${BENCH_OUT:-$root/bench/out}/attribution_$IMAGES"
vizrun="$build/bin/vizrun"
mkdir -p "$out/images"
if [ -z "$(ls "$out/images")" ]; then "$VENV_PY" bench/py/make_images.py "$out/images" "$IMAGES" > /dev/null; fi
results="$out/attribution.jsonl"
: > "$results"
peak_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
for m in $METHODS; do
  vm=$m; [ "$m" = smoothgrad ] && vm="smoothgrad(saliency)"
  rm -rf "$out/run_$m"
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$out/vizrun_$m.time" "$vizrun" run bench/configs/attribution_vgg16.yaml --out "$out/run_$m" \
    --set "techniques.0.options.images=[$out/images/*.png]" --set "techniques.0.options.methods=[\"$vm\"]" \
    > "$out/vizrun_$m.out" 2>&1
  end=$(date +%s.%N)
  rate=$(awk "BEGIN {printf \"%.4f\", $IMAGES / ($end - $start)}")  # includes start-up and model creation
  echo "{\"tool\": \"vizrun\", \"method\": \"$m\", \"images\": $IMAGES, \"rate\": $rate, \"peak_rss_mb\": $(peak_mb "$out/vizrun_$m.time")}" >> "$results"
  /usr/bin/time -v -o "$out/captum_$m.time" "$VENV_PY" bench/py/attribution_bench.py --images "$out/images/*.png" \
    --method "$m" > "$out/captum_$m.out" 2> "$out/captum_$m.err"
  tail -n 1 "$out/captum_$m.out" | sed 's/^{/{"tool": "captum", /' >> "$results"
done
"$VENV_PY" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["method"], {})[r["tool"]] = r
print(f"{'method':22} {'vizrun img/s':>12} {'captum img/s':>12} {'speed-up':>8} {'vizrun MB':>9} {'captum MB':>9}")
for m, t in by.items():
    v, c = t.get("vizrun", {}), t.get("captum", {})
    ratio = v.get("rate", 0) / c["rate"] if c.get("rate") else float("nan")
    print(f"{m:22} {v.get('rate', 0):12.2f} {c.get('rate', 0):12.2f} {ratio:8.2f} {v.get('peak_rss_mb', 0):9.0f} {c.get('peak_rss_mb', 0):9.0f}")
PY
