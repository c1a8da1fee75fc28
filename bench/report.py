"""Reads bench/run.sh's results and prints docs/performance.md (Markdown) to stdout.
Usage: report.py OUT_DIR COMMAND"""
import glob, json, os, re, statistics, subprocess, sys
import numpy as np
from PIL import Image

out, command = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(f"{out}/results.jsonl")]
meta = json.load(open(f"{out}/meta.json"))
med = statistics.median


def peak_rss_mb(tag):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tag + ".time").read())
    return int(m.group(1)) / 1024 if m else float("nan")


def dicts(obj):
    if isinstance(obj, dict):
        yield obj
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            yield from dicts(v)


def run_dir(tag):
    m = re.search(r"--out (\S+)", " ".join(open(tag + ".time").read().split("\n")[0:1]))
    return m.group(1) if m else None


def layer_times(row):
    """{layer: (seconds, image_steps)} of one measured process."""
    tag = row["file"]
    if row["variant"].startswith("vizrun") or row["workload"] == "lever":
        d = run_dir(tag)
        man = json.load(open(f"{d}/manifest.json"))
        res = {}
        for x in dicts(man):
            if "image_steps_per_second" in x and "layer" in x and "seconds" in x:
                res[x["layer"]] = (x["seconds"], x["seconds"] * x["image_steps_per_second"])
        return res
    res = {}
    for line in open(tag + ".out"):
        j = json.loads(line)
        if "layer" in j:
            res[j["layer"]] = (j["seconds"], j["image_steps"])
    return res


def gradcam_rate(row):
    tag = row["file"]
    if row["variant"].startswith("pgc"):
        j = json.loads(open(tag + ".out").read().strip().splitlines()[-1])
        return j["rate"], j["images"]
    man = json.load(open(f"{run_dir(tag)}/manifest.json"))
    t = man["techniques"][0]
    n = len([i for i in man.get("inputs", [])]) or None
    imgs = len(glob.glob(os.path.join(out, "images_flat" if row["workload"] == "gradcam_flat" else "images", "*.png")))
    return imgs / t["wall_seconds"], imgs


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"


p = print
p("# Performance\n")
p("Every figure below comes from one run of the command below on the machine described, ")
p("and every comparison is a ratio between programs run back to back in that run (the machine is ")
p("shared, so absolute rates move with the load; medians over the repeats).\n")
p(f"- command: `{command}` (knobs: {', '.join(k + '=' + os.environ.get(k, '') for k in ['REPEATS','FILTERS','STEPS','PLAIN_FILTERS','GRADCAM_IMAGES','FLAT_IMAGES'] if os.environ.get(k))} defaults otherwise; see the top of bench/run.sh)")
p(f"- date: {meta.get('started')} to {meta.get('finished')} (UTC)")
p(f"- load average (1, 5, 15 min) at start: {meta.get('load_start')}, at end: {meta.get('load_end')}")
cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
bf16 = "yes" if "avx512_bf16" in sh("grep -o avx512_bf16 /proc/cpuinfo | head -1") else "no"
mem = sh("free -g | awk '/Mem:/{print $2}'")
torch_v = sh("dpkg-query -W -f='${Version}' libtorch1.13")
pytorch_v = sh("dpkg-query -W -f='${Version}' python3-torch")
blas = os.path.basename(os.path.dirname(os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")))
p(f"- CPU: {cpu}, nproc {sh('nproc')}, AVX512-BF16: {bf16}, memory {mem} GB, no GPU")
p(f"- LibTorch: {torch_v} (Debian; python3-torch {pytorch_v} for the Python programs), system BLAS: {blas}")
p(f"- vizrun {sh('git -C ' + os.path.dirname(os.path.abspath(__file__)) + ' rev-parse --short HEAD')}, Release build\n")

if os.path.exists(f"{out}/note.md"):
    p(open(f"{out}/note.md").read())
p("Programs: **plain** = the seeds' recipe in Python PyTorch as a user writes it (one filter at a time, ")
p("model truncated at the layer, torch defaults: here 1 thread, contiguous, fp32); **tuned** = the same in ")
p("Python with all cores, channels-last, 8 filters per batch, frozen parameters (`bf16`: CPU autocast); ")
p("**vizrun** = the real `vizrun` binary and filter_ascent plugin (bench/configs/, random weights, batches of 8); ")
p("**bare** = bench/bare_ascent.cpp, the same batched forward + input gradient in a tight LibTorch loop ")
p("(hand-written network, same selected-filter convolution as vizrun). Rates are image-steps/s, ")
p("each layer's time including its first batch (no untimed warm-up anywhere).\n")

targets = []
V = ["plain", "tuned_fp32", "tuned_bf16", "vizrun_fp32", "vizrun_bf16", "bare_fp32", "bare_bf16"]
for w in ["vgg16_128", "vgg16_150", "resnet50v2_180"]:
    wr = [r for r in rows if r["workload"] == w]
    if not wr:
        continue
    per = {}  # variant -> layer -> [rates]; variant -> [total rates]; rss
    for r in wr:
        t = layer_times(r)
        for layer, (s, n) in t.items():
            per.setdefault(r["variant"], {}).setdefault(layer, []).append(n / s)
        if t:
            per.setdefault(r["variant"], {}).setdefault("(all layers)", []).append(
                sum(n for _, n in t.values()) / sum(s for s, _ in t.values()))
        per.setdefault("rss_" + r["variant"], []).append(peak_rss_mb(r["file"]))
    layers = [l for l in per.get("vizrun_fp32", {}) if l != "(all layers)"] + ["(all layers)"]
    name = {"vgg16_128": "VGG16, 128 px", "vgg16_150": "VGG16, 150 px", "resnet50v2_180": "ResNet50V2 conv3_block4_out, 180 px"}[w]
    p(f"## Filter ascent: {name}\n")
    p("| layer | " + " | ".join(V) + " | vizrun fp32 / plain | vizrun bf16 / plain | vizrun / tuned fp32 | vizrun / tuned bf16 | overhead over bare fp32 | bf16 |")
    p("|" + "---|" * (len(V) + 7))
    for l in layers:
        m = {v: med(per[v][l]) if v in per and l in per[v] else float("nan") for v in V}
        if any(x != x for x in m.values()):
            continue
        cells = [f"{m[v]:.1f}" for v in V]
        cells += [f"{m['vizrun_fp32']/m['plain']:.2f}x", f"{m['vizrun_bf16']/m['plain']:.2f}x",
                  f"{m['vizrun_fp32']/m['tuned_fp32']:.2f}x", f"{m['vizrun_bf16']/m['tuned_bf16']:.2f}x",
                  f"{(m['bare_fp32']/m['vizrun_fp32']-1)*100:+.1f}%", f"{(m['bare_bf16']/m['vizrun_bf16']-1)*100:+.1f}%"]
        p(f"| {l} | " + " | ".join(cells) + " |")
    allm = {v: med(per[v]["(all layers)"]) for v in V if v in per and "(all layers)" in per[v]}
    if len(allm) == len(V):
        for prec in ["fp32", "bf16"]:
            r = allm[f"vizrun_{prec}"] / allm[f"tuned_{prec}"]
            targets.append((f"{name}: vizrun {prec} >= tuned PyTorch {prec}", f"{r:.2f}x", r >= 1))
            o = allm[f"bare_{prec}"] / allm[f"vizrun_{prec}"] - 1
            targets.append((f"{name}: vizrun {prec} overhead over bare <= 5%", f"{o*100:+.1f}%", o <= 0.05))
    p("\nPeak RSS (MB, median): " + ", ".join(f"{v} {med(per['rss_' + v]):.0f}" for v in V if 'rss_' + v in per))
    # bf16 vs fp32 pictures (first repeat)
    diffs = {}
    d32, d16 = f"{out}/run_1_{w}_fp32", f"{out}/run_1_{w}_bf16"
    for f32 in glob.glob(f"{d32}/**/filter_*.png", recursive=True):
        f16 = f32.replace(d32, d16)
        if os.path.exists(f16):
            layer = os.path.basename(os.path.dirname(f32))
            a = np.asarray(Image.open(f32), np.float64)
            b = np.asarray(Image.open(f16), np.float64)
            diffs.setdefault(layer, []).append(np.abs(a - b).mean())
    if diffs:
        p("\nbf16 against fp32 pictures (same start, same steps), mean absolute difference in grey levels of 255: " +
          ", ".join(f"{l} {np.mean(v):.2f}" for l, v in diffs.items()))
    p("")

g = [r for r in rows if r["workload"] == "gradcam"]
if g:
    rates, rss = {}, {}
    for r in g:
        rates.setdefault(r["variant"], []).append(gradcam_rate(r)[0])
        rss.setdefault(r["variant"], []).append(peak_rss_mb(r["file"]))
    n = gradcam_rate(g[0])[1]
    p(f"## Grad-CAM: VGG16 with top, 224 px, {n} images, top-1 class, batches of 16\n")
    p("| program | images/s | vizrun / it | peak RSS MB |\n|---|---|---|---|")
    for v, label in [("vizrun", "vizrun gradcam (fp32, all cores; decode, three outputs per image written)"),
                     ("pgc_default", "pytorch-grad-cam, torch defaults (1 thread)"),
                     ("pgc_2threads", "pytorch-grad-cam, all cores")]:
        if v in rates:
            p(f"| {label} | {med(rates[v]):.2f} | {med(rates['vizrun'])/med(rates[v]):.2f}x | {med(rss[v]):.0f} |")
    r = med(rates["vizrun"]) / med(rates["pgc_default"])
    targets.append(("Grad-CAM: vizrun >= 1.5x pytorch-grad-cam (torch defaults)", f"{r:.2f}x", r >= 1.5))
    if "pgc_2threads" in rates:
        r2 = med(rates["vizrun"]) / med(rates["pgc_2threads"])
        targets.append(("Grad-CAM against pytorch-grad-cam with all cores (beyond the issue's baseline: torch defaults)",
                        f"{r2:.2f}x", None))
    fl = [r for r in rows if r["workload"] == "gradcam_flat"]
    if fl:
        rf, nf = gradcam_rate(fl[0])
        flat_mb, small_mb = peak_rss_mb(fl[0]['file']), med(rss['vizrun'])
        p(f"\nMemory over many images: vizrun on {nf} images peaks at {flat_mb:.0f} MB "
          f"against {small_mb:.0f} MB on {n} ({rf:.2f} images/s).")
        targets.append((f"Grad-CAM memory flat: peak RSS on {nf} images within 10% of {n} images",
                        f"{flat_mb / small_mb:.2f}x", flat_mb <= 1.1 * small_mb))
    p("")

lv = {r["variant"]: r for r in rows if r["workload"] == "lever"}
if "reference" in lv:
    ref = layer_times(lv["reference"])
    p("## Levers (vizrun, VGG16 128 px fp32, one repeat each: each lever switched off alone)\n")
    ls = list(ref)
    p("| configuration | " + " | ".join(ls) + " | all layers |\n|" + "---|" * (len(ls) + 2))
    def total(t):
        return sum(n for _, n in t.values()) / sum(s for s, _ in t.values())
    p("| all levers on (reference) | " + " | ".join(f"{ref[l][1]/ref[l][0]:.1f}" for l in ls) + f" | {total(ref):.1f} |")
    for v, label in [("target_filters_only", "target_filters_only: false (whole target layer, then gather)"),
                     ("channels_last", "channels_last: false"), ("reuse_memory", "reuse_memory: false"),
                     ("batch_size", "batch_size: 1 (one filter at a time)")]:
        if v in lv:
            t = layer_times(lv[v])
            p(f"| {label} | " + " | ".join(f"{t[l][1]/t[l][0]:.1f} ({ref[l][1]/ref[l][0]/(t[l][1]/t[l][0]):.2f}x)" for l in ls if l in t)
              + f" | {total(t):.1f} ({total(ref)/total(t):.2f}x) |")
    p("\n(in brackets: what the lever gives, reference / without it)")
    p("")
mb = {b: json.load(open(f"{out}/blas_{b}.json"))["ms"] for b in ["blas", "openblas-pthread"] if os.path.exists(f"{out}/blas_{b}.json")}
if len(mb) == 2:
    p(f"## BLAS (dense layers)\n\nVGG16's fc1 + fc2, forward and input gradient for 16 images, 2 threads "
      f"(bench/py/blas_bench.py, python3-torch = the same LibTorch): reference libblas {mb['blas']:.0f} ms, "
      f"OpenBLAS (libopenblas0-pthread) {mb['openblas-pthread']:.0f} ms: {mb['blas']/mb['openblas-pthread']:.1f}x. "
      "scripts/setup.sh installs libopenblas0-pthread.\n")
bl = {r["variant"]: r for r in rows if r["workload"] == "blas"}
if len(bl) == 2:
    a, b = gradcam_rate(bl["blas"])[0], gradcam_rate(bl["openblas-pthread"])[0]
    p(f"Grad-CAM through vizrun with LD_LIBRARY_PATH pointing at either library: {a:.2f} against {b:.2f} images/s "
      f"({b/a:.2f}x). This A/B does not isolate the BLAS: LibTorch's dependencies also load libopenblas.so.0 "
      "(ldd lists both), and vizrun's sgemm resolves to OpenBLAS either way.\n")
if os.path.exists(f"{out}/check.jsonl"):
    p("## Same mathematics as the plain recipe (fp32)\n")
    p("Same VGG16 weights (torchvision's random init handed to vizrun as safetensors), same start picture; "
      "first-step RMS-normalised gradient read back from vizrun's one-step result, loss curves from `loss_curves: true`.\n")
    p("| layer | filters | first-step gradient max abs error (scale) | loss curve max relative error (10 steps) |\n|---|---|---|---|")
    for line in open(f"{out}/check.jsonl"):
        j = json.loads(line)
        p(f"| {j['layer']} | {j['filters']} | {j['first_grad_max_abs_err']:.2g} ({j['grad_scale']:.2g}) | {j['loss_curve_max_rel_err']:.2g} |")
    p("")
p("## configs/vgg16_all_layers.yaml end to end (random weights, 13 layers x 64 filters, 50 steps, 128 px)\n")
p("| precision | wall time | peak RSS | load average before / after | status |\n|---|---|---|---|---|")
for prec in ["bf16", "fp32"]:
    tf = f"{out}/all_layers_{prec}.time"
    if not os.path.exists(tf) or "Elapsed" not in open(tf).read():
        logf = f"{out}/all_layers_{prec}.log"
        done = re.findall(r"filter_ascent: (\S+) done in ([\d.]+) s \(([\d.]+) image-steps/s\)", open(logf).read()) if os.path.exists(logf) else []
        if done:
            p(f"| {prec} | not finished in this run: {len(done)} of 13 layers in {sum(float(d[1]) for d in done):.0f} s "
              f"({', '.join(f'{d[0]} {float(d[1]):.0f} s' for d in done)}) | | | stopped |")
        else:
            p(f"| {prec} | not measured in this run | | | |")
        continue
    txt = open(tf).read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", txt).group(1)
    load = open(f"{out}/all_layers_{prec}.load").read().split("\n")
    status = "complete" if "Exit status: 0" in txt else "failed"
    logf = f"{out}/all_layers_{prec}.log"
    done = re.findall(r"filter_ascent: (\S+) done in ([\d.]+) s \(([\d.]+) image-steps/s\)", open(logf).read())
    if "Exit status: 0" not in txt and "interrupted" in open(logf).read():
        status = (f"stopped (SIGTERM) after {len(done)} of 13 layers: " +
                  ", ".join(f"{d[0]} {float(d[1]):.0f} s ({d[2]}/s)" for d in done))
    parts = [float(x) for x in wall.split(":")]
    minutes = (parts[0] * 60 + parts[1] + parts[2] / 60) if len(parts) == 3 else (parts[0] + parts[1] / 60)
    limit = 12 if prec == "bf16" else 30
    if status == "complete":
        targets.append((f"configs/vgg16_all_layers.yaml in {prec}: under {limit} minutes", f"{minutes:.1f} min", minutes < limit))
        targets.append((f"configs/vgg16_all_layers.yaml in {prec}: peak RSS under 8 GB",
                        f"{peak_rss_mb(tf[:-5]) / 1024:.2f} GB", peak_rss_mb(tf[:-5]) < 8 * 1024))
    p(f"| {prec} | {wall} | {peak_rss_mb(tf[:-5]) / 1024:.2f} GB | {load[0].split(' ', 1)[-1]} / {load[1].split(' ', 1)[-1] if len(load) > 1 else '?'} | {status} |")
    if os.path.exists(f"{out}/all_layers_fp32.skipped") and prec == "bf16":
        pass
p("")
p("## Targets of issue 6 in this run\n")
p("| target | figure | met |\n|---|---|---|")
for t, f, ok in targets:
    p(f"| {t} | {f} | {'(for information)' if ok is None else 'yes' if ok else 'no'} |")
p("")
p("## Notes\n")
p("- **Selected-filter lever** (`ModelBackend::forward_channels`, SDK 1.1): filter ascent watches one filter per "
  "picture, so the target convolution needs only those filters. GraphBackend runs the graph up to the layer's "
  "input (kept channels-last) and convolves it with the N selected kernels (an N x N block of which picture b keeps "
  "entry (b, b); oneDNN's grouped convolution with one group per picture measured 3-10x slower than this block), "
  "adds their biases and the activation. Forward and backward through the target layer then cost N filters instead "
  "of all of them: a large share of the work at block1_conv2 (the target is half the network), little at block5_conv3. "
  "It applies to conv2d layers with element-wise activations while 2N <= filters; other layers (ResNet50V2's "
  "conv3_block4_out is an `add`) take the SDK's default, forward and gather, so ResNet gains nothing from it. "
  "The two paths give bitwise-identical maps and input gradients here (tests/models/test_forward_channels.cpp "
  "requires 1e-5); `target_filters_only: false` switches it off.")
p("- **bf16**: CPU autocast (AVX512-BF16 here); other CPUs fall back to fp32 with a notice. Pictures drift from fp32 "
  "more on deep layers (differences above), as bf16 rounding compounds over the steps.")
p("- **cuda**: the code paths are device-agnostic (tensors follow the model's device, no CPU-only calls on the hot "
  "path), but no GPU was available: cuda is untested.")
p("- **bf16 weights**: under autocast the graph convolves with bf16 copies of its weights made once per experiment "
  "(autocast would round frozen weights again on every call); same rounding, tested bitwise. It measured within "
  "noise of re-rounding (about 10 ms of a 250 ms step at block5_conv3), and bare_ascent does the same.")
p("- **channels-last and gradients**: the picture is channels-last by default (filter_ascent's `channels_last`), which "
  "selects oneDNN's NHWC kernels for the whole network; the model option adds nothing measurable on top. Input "
  "gradients agree with NCHW to 2e-6 except where the other summation order flips a max-pool winner or a ReLU at a "
  "near-tie (tests/models/test_architectures.cpp counts the flips; Python PyTorch flips the same way).")
p("- **Folded layers** (ResNet50V2's `fold_layers`, on by default): a convolution read only by an inference "
  "BatchNorm runs with the BatchNorm folded into its kernels and bias, and a symmetric ZeroPadding2D read only by a "
  "valid convolution becomes its padding; every layer stays tappable. In Python's profile of the tuned ResNet loop "
  "BatchNorm forward and backward took 10 % and padding copies 5 %. Interleaved A/B at conv3_block4_out, 180 px, "
  "fp32, 32 filters x 10 steps (`vizrun run bench/configs/ascent_resnet50v2.yaml --set model.options.fold_layers=true|false`, "
  "4 runs each): medians 45.9 against 43.9 image-steps/s (1.05x). Keras oracles still agree to 3e-6.")
p("- **Overhead over bare**: a negative figure means the bare loop ran slower than vizrun in that run (noise, or "
  "vizrun's memory reuse); the claim is only that vizrun adds no measurable cost around the same tensor work.")
p("- Absolute rates move with the machine's load (load averages above); every ratio compares programs run back to "
  "back under the same load.")
