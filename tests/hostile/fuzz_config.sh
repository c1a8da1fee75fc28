#!/bin/sh
# Builds the YAML-to-JSON fuzz target with AddressSanitizer and UBSan and runs it.
#   tests/hostile/fuzz_config.sh [RUNS] [extra libFuzzer flags]
# RUNS defaults to 200000 (a couple of minutes); a long run: RUNS=-1 with -max_total_time=3600.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-/tmp/vizrun-fuzz-config}
mkdir -p "$out/corpus"
runs=${1:-200000}
[ $# -gt 0 ] && shift
cp "$root"/configs/*.yaml "$out/corpus/" 2>/dev/null || true
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/framework/core" -I"$root/framework/include" \
  "$here/fuzz_config.cpp" "$root/framework/core/config.cpp" "$root/framework/core/text.cpp" "$root/framework/sdk/value.cpp" \
  -lyaml-cpp -o "$out/fuzz_config"
"$out/fuzz_config" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 "$@" "$out/corpus"
