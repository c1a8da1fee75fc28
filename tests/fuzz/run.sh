#!/usr/bin/env bash
# Runs every libFuzzer target (or the ones named) for SECONDS each, starting from the
# committed seeds, and prints executions and findings per target. Exit status 1 when
# any target found something (the input is saved as <build>/fuzz-artifacts/<target>-*).
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]        (default 30 s; CI runs it short)
#
# BUILD (default build-fuzz) is configured with Clang and built first if needed.
# VIZRUN_FUZZ_PLUGIN_DIR (default build/tests/plugins/good, the test plugins of a normal
# build) is where fuzz_sweep finds the plugins its jobs are validated against.
# The corpus each target grows is kept in <build>/fuzz-corpus/<target>, so a later run
# goes on from there. See README.md for the longer run and the results.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_config fuzz_override fuzz_sweep fuzz_safetensors fuzz_keras_h5 fuzz_keras_h5_layout fuzz_architecture fuzz_keras_model fuzz_options)
build=${BUILD:-build-fuzz}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
    -DVIZRUN_FUZZ=ON -DVIZRUN_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target "${targets[@]}"

export VIZRUN_FUZZ_PLUGIN_DIR=${VIZRUN_FUZZ_PLUGIN_DIR:-$PWD/build/tests/plugins/good}
supp=$PWD/tests/sanitizers
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:suppressions=$supp/asan.supp}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp}
export OMP_NUM_THREADS=1   # LibTorch's thread pool: one core per fuzzer

mkdir -p "$build/fuzz-artifacts"
status=0
printf '%-20s %8s %12s %10s  %s\n' TARGET SECONDS EXECUTIONS EXEC/S RESULT > "$build/fuzz-summary.txt"
for target in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/$target
  work=$build/fuzz-corpus/$target
  mkdir -p "$work"
  args=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -malloc_limit_mb=16384
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-")
  case $target in
    fuzz_config|fuzz_override|fuzz_sweep) args+=(-dict=tests/fuzz/dict/yaml.dict -max_len=2048) ;;
    fuzz_architecture) args+=(-dict=tests/fuzz/dict/architecture.dict -max_len=2048) ;;
    fuzz_keras_model) args+=(-dict=tests/fuzz/dict/keras_model.dict -max_len=65536) ;;
    fuzz_options) args+=(-dict=tests/fuzz/dict/json.dict -max_len=65536) ;;
    fuzz_safetensors) args+=(-dict=tests/fuzz/dict/safetensors.dict) ;;
  esac
  # libhdf5 has no frame pointers: the slow unwinder sees through it, so lsan.supp can
  # name the one libhdf5 function whose leak is suppressed instead of the whole library.
  extra=""
  [ "$target" = fuzz_keras_h5 ] && extra=":fast_unwind_on_malloc=0"
  log=$build/fuzz-$target.log
  start=$(date +%s)
  if ASAN_OPTIONS="$ASAN_OPTIONS$extra" "$build/bin/$target" "${args[@]}" "$work" "$seeds" >"$log" 2>&1; then
    result="no finding"
  else
    result="FINDING (see $log)"
    status=1
  fi
  elapsed=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
  runs=${runs:-0}
  printf '%-20s %8s %12s %10s  %s\n' "$target" "$elapsed" "$runs" $(( runs / (elapsed > 0 ? elapsed : 1) )) "$result" \
    >> "$build/fuzz-summary.txt"
  tail -1 "$build/fuzz-summary.txt"
done
cat "$build/fuzz-summary.txt"
exit $status
