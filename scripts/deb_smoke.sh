#!/usr/bin/env bash
# scripts/deb_smoke.sh BUILD_DIR: makes the .deb of a Debian build (cpack -G DEB), installs
# it and smoke-tests the installed vizrun:
#   - `vizrun plugins` lists every shipped plugin, with VIZRUN_PLUGIN_PATH unset;
#   - `vizrun validate` passes on a shipped config (/usr/share/vizrun/configs/demo.yaml);
#   - the out-of-tree example (examples/saliency) configures with find_package(vizrun)
#     against the installed SDK.
# Install: `dpkg -i` as root (then `dpkg -P` at the end, leaving the machine as it was),
# or with VIZRUN_DEB_INSTALL=extract (and when not root) `dpkg -x` into a clean prefix,
# which exercises the same relative lookups (plugins beside ../lib, the SDK's config).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
mode=${VIZRUN_DEB_INSTALL:-dpkg}
[ "$(id -u)" -eq 0 ] || mode=extract
shipped=(activations filter_ascent gradcam keras resnet50v2 small_convnet torchscript vgg16)

rm -f "$build"/vizrun_*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { tail -20 "$build/cpack.log"; exit 1; }
deb=$(ls "$build"/vizrun_*.deb)
echo "package: $deb, $(du -k "$deb" | cut -f1) KiB"
dpkg-deb --field "$deb" Package Version Installed-Size Depends Recommends | sed 's/^/  /'

prefix=/usr
scratch=$(mktemp -d)
cleanup() {
  if [ "$mode" = dpkg ]; then dpkg -P vizrun >/dev/null 2>&1 || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
if [ "$mode" = dpkg ]; then
  dpkg -i "$deb" >/dev/null
  echo "installed with dpkg -i"
else
  dpkg -x "$deb" "$scratch/root"
  prefix=$scratch/root/usr
  echo "extracted with dpkg -x into $scratch/root"
fi
vizrun=$prefix/bin/vizrun
[ "$mode" = extract ] || [ "$(command -v vizrun)" = /usr/bin/vizrun ] || { echo "vizrun is not on PATH as /usr/bin/vizrun"; exit 1; }

listing=$(env -u VIZRUN_PLUGIN_PATH "$vizrun" plugins)
for p in "${shipped[@]}"; do
  grep -qw "$p" <<<"$listing" || { echo "vizrun plugins does not list $p:"; echo "$listing"; exit 1; }
done
echo "vizrun plugins: lists ${shipped[*]}"
env -u VIZRUN_PLUGIN_PATH "$vizrun" validate "$prefix/share/vizrun/configs/demo.yaml" >"$scratch/validate.out"
echo "vizrun validate share/vizrun/configs/demo.yaml: ok"
cmake -S examples/saliency -B "$scratch/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$scratch/configure.log" 2>&1 ||
  { tail -20 "$scratch/configure.log"; exit 1; }
found=$(grep -E '^vizrun_DIR:PATH=' "$scratch/example/CMakeCache.txt" | cut -d= -f2)
case "$found" in
  "$prefix"/*) echo "examples/saliency configures with find_package(vizrun): $found" ;;
  *) echo "find_package(vizrun) found $found, not the package's"; exit 1 ;;
esac
