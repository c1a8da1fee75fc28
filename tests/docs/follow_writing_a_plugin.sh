#!/usr/bin/env bash
# Follows docs/writing-a-plugin.md literally: every block the page marks with
# `<!-- test: file NAME -->` is written to the plugin's project folder, and every block
# marked `<!-- test: in vizrun -->` or `<!-- test: in project -->` is run, in page order,
# in a vizrun checkout or in the project folder. HOME is a fresh folder, so
# `--prefix $HOME/.local` installs into it. One exception, said here: the test runs
# inside a build that CTest made, so `scripts/setup.sh` (install packages, build) is
# not run again; the checkout's `build` is that build.
# The files must also equal examples/saliency's, so the example is the page.
#
# usage: follow_writing_a_plugin.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
src=$1 build=$2 work=$3
doc=$src/docs/writing-a-plugin.md

rm -rf "$work"
mkdir -p "$work/home" "$work/vizrun" "$work/vizrun/examples/saliency"
checkout=$work/vizrun project=$work/vizrun/examples/saliency
# A checkout as the page sees it: its sources, its build, and the project folder in
# examples/ beside the demo model (the experiment's paths are relative to it).
for entry in configs data scripts; do ln -s "$src/$entry" "$checkout/$entry"; done
ln -s "$src/examples/fashion_mnist" "$checkout/examples/fashion_mnist"
ln -s "$build" "$checkout/build"

# Split the page into marked blocks: block_N.kind holds "file NAME" or "in WHERE".
awk -v out="$work/blocks" '
  BEGIN { system("mkdir -p " out) }
  /^<!-- test: .* -->$/ { mark = $0; sub(/^<!-- test: /, "", mark); sub(/ -->$/, "", mark); want = 1; next }
  want && /^```/ { n++; inside = 1; want = 0; print mark > (out "/block_" n ".kind"); close(out "/block_" n ".kind"); printf "" > (out "/block_" n); next }
  inside && /^```$/ { inside = 0; close(out "/block_" n); next }
  inside { print >> (out "/block_" n) }
' "$doc"

count=$(ls "$work/blocks"/block_*.kind | wc -l)
[ "$count" -ge 5 ] || { echo "FAIL: expected at least 5 marked blocks in $doc, found $count"; exit 1; }

export HOME=$work/home
# Not a step of the page: the compiler cache, when there is one, keeps the test quick.
command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=ccache
for i in $(seq 1 "$count"); do
  kind=$(cat "$work/blocks/block_$i.kind")
  body=$work/blocks/block_$i
  case $kind in
    "file "*)
      name=${kind#file }
      cp "$body" "$project/$name"
      echo "== wrote $name ($(wc -l <"$body") lines)"
      ;;
    "in vizrun"|"in project")
      where=$checkout; [ "$kind" = "in project" ] && where=$project
      echo "== running block $i ($kind)"
      # The commands as the page gives them, except scripts/setup.sh (see above).
      grep -v '^scripts/setup.sh' "$body" > "$body.sh"
      (cd "$where" && set -x && . "$body.sh")
      # What a reader exports stays exported for the next block.
      eval "$(grep '^export ' "$body" || true)"
      ;;
    *) echo "FAIL: unknown mark '$kind' in $doc"; exit 1 ;;
  esac
done

# The page is the example: its files equal examples/saliency's (CMakeLists.txt as a prefix).
cmp "$project/saliency.cpp" "$src/examples/saliency/saliency.cpp"
cmp "$project/saliency.yaml" "$src/examples/saliency/saliency.yaml"
lines=$(wc -l <"$project/CMakeLists.txt")
head -n "$lines" "$src/examples/saliency/CMakeLists.txt" | cmp - "$project/CMakeLists.txt"

# The run went through: one complete manifest with a map and an array per photo.
manifest=$(ls "$project"/runs/*/*/manifest.json | head -1)
cat > "$work/check.cmake" <<'CMAKE'
file(READ ${MANIFEST} m)
string(JSON status GET "${m}" status)
string(JSON plugin GET "${m}" techniques 0 plugin)
string(JSON tstatus GET "${m}" techniques 0 status)
string(JSON outputs LENGTH "${m}" techniques 0 outputs)
string(JSON explained LENGTH "${m}" techniques 0 records explained)
if(NOT status STREQUAL "complete" OR NOT plugin STREQUAL "saliency" OR NOT tstatus STREQUAL "complete"
   OR NOT explained EQUAL 4 OR NOT outputs EQUAL 8)
  message(FATAL_ERROR "unexpected run: ${status} ${plugin} ${tstatus}, ${explained} explained, ${outputs} files")
endif()
message(STATUS "followed: ${explained} photos explained, ${outputs} files")
CMAKE
cmake -D MANIFEST="$manifest" -P "$work/check.cmake"
