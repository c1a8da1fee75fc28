#!/usr/bin/env bash
# Rewrites schemas/plugins/<name>.json from the plugins in ./build (a test checks
# that these files match what the plugins declare).
set -euo pipefail
cd "$(dirname "$0")/.."
vizrun=build/bin/vizrun
mkdir -p schemas/plugins
for plugin in build/lib/vizrun/plugins/*.vizplugin.so; do
  name=$(basename "$plugin" .vizplugin.so)
  "$vizrun" plugins "$name" --schema > "schemas/plugins/$name.json"
  echo "schemas/plugins/$name.json"
done
