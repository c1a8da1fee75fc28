#!/usr/bin/env bash
# The Fourier + decorrelated colour + standard_transforms recipe, vizrun's feature_vis
# against torch-lucent's render_vis (torch from PyPI), same layer (VGG16 block4_conv3 =
# torchvision features_22, one channel), same picture size (upsampled to 224 as
# render_vis does), batch and steps, random weights, all cores, one after the other.
#   bench/feature_vis_vs_lucent.sh [SIZE] [STEPS] [BATCH]     (defaults 128 64 4)
# Needs build/bin/vizrun with the vgg16 and feature_vis plugins, and a Python with
# torch-lucent (LUCENT_PY, default ~/.cache/vizrun/venv-torch/bin/python).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size=${1:-128} steps=${2:-64} batch=${3:-4}
vizrun="${VIZRUN:-$root/build/bin/vizrun}"
py="${LUCENT_PY:-$HOME/.cache/vizrun/venv-torch/bin/python}"
out="$(mktemp -d)"
cat > "$out/fv.yaml" <<YAML
experiment: fv_bench
seed: 0
device: cpu
precision: fp32
model: {plugin: vgg16, weights: random, options: {include_top: false}}
techniques:
  - plugin: feature_vis
    id: fv
    options:
      size: $size
      steps: $steps
      input_size: 224
      renders: [{name: bench, batch: $batch, objective: [{type: channel, layer: block4_conv3, channel: 0}]}]
YAML
t0=$(date +%s.%N)
"$vizrun" run "$out/fv.yaml" --out "$out/run" > "$out/vizrun.log" 2>&1
t1=$(date +%s.%N)
viz=$(python3 -c "import json,glob; m=json.load(open(glob.glob('$out/run/**/manifest.json', recursive=True)[0])); print(m)" 2>/dev/null | grep -o "'seconds': [0-9.]*" | head -1 | cut -d' ' -f2 || true)
echo "{\"impl\": \"vizrun\", \"size\": $size, \"batch\": $batch, \"steps\": $steps, \"render_seconds\": ${viz:-null}, \"process_seconds\": $(echo "$t1 - $t0" | bc)}"
"$py" "$root/bench/py/lucent_render.py" --size "$size" --steps "$steps" --batch "$batch"
