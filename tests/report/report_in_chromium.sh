#!/usr/bin/env bash
# Usage: report_in_chromium.sh VIZRUN CONFIG OUT_DIR [PLUGIN_DIR]
# Runs CONFIG, then loads every image its index.html references in headless
# Chromium and fails if any does not decode, or lacks a text of REPORT_MUST_CONTAIN;
# saves OUT_DIR/report.png.
set -euo pipefail
vizrun=$1; config=$2; out=$3; plugins=${4:-}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "skipped: no chromium (apt-get install chromium)"; exit 77; }

run="$out/report-run"
rm -rf "$run"
args=("$config" --out "$run" -q)
[ -z "$plugins" ] || args+=(--plugin-path "$plugins")
"$vizrun" "${args[@]}"
[ -s "$run/index.html" ] || { echo "no index.html in $run"; exit 1; }

# Every src in the page, checked by the browser itself.
mapfile -t sources < <(grep -o 'src="[^"]*"' "$run/index.html" | sed 's/^src="//; s/"$//' | sort -u)
[ "${#sources[@]}" -gt 0 ] || { echo "the report references no images"; exit 1; }
{
  echo '<!DOCTYPE html><html><body><div id="out">pending</div>'
  for s in "${sources[@]}"; do echo "<img src=\"$s\">"; done
  echo '<script>window.addEventListener("load", () => { const lines = [];
    for (const img of document.images) lines.push((img.complete && img.naturalWidth > 0 ? "LOAD" + "ED " : "BRO" + "KEN ") +
      img.getAttribute("src") + " " + img.naturalWidth + "x" + img.naturalHeight);
    document.getElementById("out").textContent = lines.join("\n"); });</script></body></html>'
} > "$run/.image-check.html"
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --allow-file-access-from-files
       --user-data-dir="$out/chromium-profile")
timeout 120 "$browser" "${flags[@]}" --virtual-time-budget=20000 --dump-dom "file://$run/.image-check.html" \
  2>/dev/null > "$out/image-check.txt"
loaded=$(grep -o 'LOADED [^ ]*' "$out/image-check.txt" | wc -l)
if grep -q 'BROKEN' "$out/image-check.txt" || [ "$loaded" -ne "${#sources[@]}" ]; then
  echo "images that did not load in Chromium:"; grep 'BROKEN' "$out/image-check.txt" || true
  echo "loaded $loaded of ${#sources[@]}"; exit 1
fi
rm -f "$run/.image-check.html"
echo "all ${#sources[@]} images of the report load in Chromium"

# REPORT_MUST_CONTAIN: '|'-separated texts the page must hold (the comparison view's parts).
IFS='|' read -r -a must <<< "${REPORT_MUST_CONTAIN:-}"
for text in "${must[@]}"; do
  [ -z "$text" ] || grep -qF -- "$text" "$run/index.html" || { echo "the report lacks: $text"; exit 1; }
done

timeout 120 "$browser" "${flags[@]}" --hide-scrollbars --window-size=1280,1600 \
  --screenshot="$out/report.png" "file://$run/index.html" 2>/dev/null
[ "$(stat -c %s "$out/report.png")" -gt 20000 ] || { echo "screenshot missing or blank"; exit 1; }
echo "screenshot: $out/report.png"
