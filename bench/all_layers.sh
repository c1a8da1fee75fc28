#!/usr/bin/env bash
# End-to-end timing of configs/vgg16_all_layers.yaml (13 layers x 64 filters, 50 steps,
# 128 px) with random weights, in bf16 and fp32: wall time and peak RSS from
# /usr/bin/time -v, and the load average before and after (the machine is shared).
# Usage: bench/all_layers.sh [OUT_DIR] [precisions...]   (called by bench/run.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/bench/out}"; shift || true
precisions=("${@:-bf16 fp32}")
vizrun="${VIZRUN:-$root/build-perf/bin/vizrun}"
mkdir -p "$out"
for p in ${precisions[@]}; do
  log="$out/all_layers_$p"
  rm -rf "$out/all_layers_run_$p"
  echo "load_before $(cut -d' ' -f1-3 /proc/loadavg)" > "$log.load"
  /usr/bin/time -v -o "$log.time" "$vizrun" run "$root/configs/vgg16_all_layers.yaml" \
    --set model.weights=random --set precision=$p --out "$out/all_layers_run_$p" > "$log.log" 2>&1
  echo "load_after $(cut -d' ' -f1-3 /proc/loadavg)" >> "$log.load"
done
