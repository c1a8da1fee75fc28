"""Reads bench/libtorch_versions.sh's results and prints its Markdown section.
Usage: libtorch_versions_report.py OUT STARTED LOAD_START LOAD_END FILTERS STEPS IMAGES VERSIONS"""
import glob, json, os, re, statistics, subprocess, sys

out, started, load_start, load_end, filters, steps, images, versions = sys.argv[1:9]
rows = [json.loads(line) for line in open(os.path.join(out, "results.jsonl"))]
med = statistics.median


def peak_rss_mb(tag):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(tag + ".time").read())
    return int(m.group(1)) / 1024


def manifest(tag):
    m = re.search(r"--out (\S+)", open(tag + ".time").readline())
    return json.load(open(os.path.join(m.group(1), "manifest.json")))


def dicts(obj):
    if isinstance(obj, dict):
        yield obj
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            yield from dicts(v)


def ascent_rates(row):
    """{layer: image-steps/s}, each layer's time including its first batch."""
    if row["variant"].startswith("vizrun"):
        return {x["layer"]: x["image_steps_per_second"] for x in dicts(manifest(row["file"]))
                if "image_steps_per_second" in x and "layer" in x}
    rates = {}
    for line in open(row["file"] + ".out"):
        j = json.loads(line)
        if "layer" in j:
            rates[j["layer"]] = j["image_steps"] / j["seconds"]
    return rates


def gradcam_rate(row):
    if row["variant"].startswith("pgc"):
        return json.loads(open(row["file"] + ".out").read().strip().splitlines()[-1])["rate"]
    return int(images) / manifest(row["file"])["techniques"][0]["wall_seconds"]


def by_variant(workload):
    groups = {}
    for r in rows:
        if r["workload"] == workload:
            groups.setdefault(r["variant"], []).append(r)
    return groups


def harmonic_total(rates):
    """All layers together: total image-steps over total seconds (layers have equal work)."""
    return len(rates) / sum(1 / r for r in rates)


cpu = subprocess.run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2", shell=True, capture_output=True,
                     text=True).stdout.strip()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print("## Both LibTorch sources: Debian's 1.13 against PyPI's 2.x (issue 17)\n")
print(f"- command: `bench/libtorch_versions.sh` (REPEATS={len({r['rep'] for r in rows})}, FILTERS={filters}, "
      f"STEPS={steps}, IMAGES={images}), vizrun {commit}, Release builds `build/` and `build-pypi/`")
print(f"- date: {started} to {os.popen('date -u +%FT%TZ').read().strip()}; load average at start {load_start}, "
      f"at end {load_end}")
print(f"- CPU: {cpu}, nproc {os.cpu_count()}, no GPU (both builds on the CPU)")
print(versions)
print("\nFilter ascent, VGG16 at 128 px, 8 filters per batch, image-steps/s (median of the repeats; "
      "Python = bench/py/ascent.py `--mode tuned`):\n")
ascent = {v: [ascent_rates(r) for r in rs] for v, rs in by_variant("ascent").items()}
order = [f"{prog}_{src}_{p}" for p in ("fp32", "bf16") for prog in ("vizrun", "python") for src in ("debian", "pypi")]
order = [v for v in order if v in ascent]
layers = list(ascent[order[0]][0].keys())
print("| layer | " + " | ".join(order) + " | vizrun fp32 pypi / debian | vizrun bf16 pypi / debian |")
print("|---" * (len(order) + 3) + "|")
table = {}
for layer in layers + ["(all layers)"]:
    cells = []
    for v in order:
        per_rep = [harmonic_total(list(x.values())) if layer == "(all layers)" else x[layer] for x in ascent[v]]
        table[(layer, v)] = med(per_rep)
        cells.append(f"{table[(layer, v)]:.1f}")
    ratios = [f"{table[(layer, f'vizrun_pypi_{p}')] / table[(layer, f'vizrun_debian_{p}')]:.2f}x"
              if (layer, f"vizrun_pypi_{p}") in table and (layer, f"vizrun_debian_{p}") in table else "-"
              for p in ("fp32", "bf16")]
    print(f"| {layer} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
print("\nPeak RSS (MB, median): " + ", ".join(
    f"{v} {med(peak_rss_mb(r['file']) for r in by_variant('ascent')[v]):.0f}" for v in order))
print(f"\nGrad-CAM, VGG16 with top at 224 px, {images} pictures, top-1 class, batches of 16, all cores "
      "(decoding included):\n")
print("| program | images/s | peak RSS MB |")
print("|---|---|---|")
names = {"vizrun_debian": "vizrun, Debian LibTorch 1.13", "vizrun_pypi": "vizrun, PyPI LibTorch",
         "pgc_debian": "pytorch-grad-cam, torch 1.13", "pgc_pypi": "pytorch-grad-cam, PyPI torch"}
for v, rs in by_variant("gradcam").items():
    print(f"| {names.get(v, v)} | {med(gradcam_rate(r) for r in rs):.2f} | {med(peak_rss_mb(r['file']) for r in rs):.0f} |")
