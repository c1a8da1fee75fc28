"""Reads bench/gpu.sh's results and prints docs/performance-gpu.md (Markdown) to stdout.
Usage: gpu_report.py OUT_DIR COMMAND. Standard library only."""
import glob, json, os, re, sys

out, command = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(os.path.join(out, "results.jsonl"))]


def dicts(obj):
    if isinstance(obj, dict):
        yield obj
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            yield from dicts(v)


def manifest(row):
    """The manifest of a vizrun workload's run folder (bench/gpu.sh's names), or None."""
    precision = row["variant"][len("vizrun_"):]
    name = f"run_gradcam_{precision}" if row["workload"].startswith("gradcam") else f"run_{row['workload']}_{precision}"
    path = os.path.join(out, name, "manifest.json")
    return json.load(open(path)) if os.path.exists(path) else None


def ascent_layers(row):
    """{layer: (seconds, image-steps per second)} of one process."""
    if row["variant"].startswith("vizrun"):
        man = manifest(row) or {}
        return {x["layer"]: (x["seconds"], x["image_steps_per_second"])
                for x in dicts(man) if "image_steps_per_second" in x and "layer" in x}
    res = {}
    for line in open(row["file"] + ".out"):
        j = json.loads(line)
        if "layer" in j:
            res[j["layer"]] = (j["seconds"], j["rate"])
    return res


env = next((m["environment"] for m in map(manifest, (r for r in rows if r.get("file") and r["variant"].startswith("vizrun")))
            if m), {})
dev, torch_info = env.get("device_info", {}), env.get("torch", {})
print("# Performance on a GPU\n")
print(f"Written by `{command}` (called by `scripts/gpu_check.sh`); one repeat of each workload, times include each")
print("layer's first batch (cuDNN's algorithm choice and CUDA's start-up), as on the CPU (docs/performance.md).\n")
if dev.get("kind") == "cuda":
    print(f"- device: {dev.get('name', '?')} (capability {dev.get('capability', '?')}, "
          f"{dev.get('memory_bytes', 0) / 2**30:.0f} GiB)")
    print(f"- LibTorch {torch_info.get('libtorch', '?')}, CUDA runtime {torch_info.get('cuda_runtime', '?')}, "
          f"cuDNN {torch_info.get('cudnn', '?')}; fp32 without TF32\n")
else:  # DEVICE=cpu: a dry run of the bench itself
    print(f"- device: the CPU, {dev.get('name', '?')} (a dry run: DEVICE=cpu)")
    print(f"- LibTorch {torch_info.get('libtorch', '?')}\n")

print("## Filter ascent (image-steps per second, per layer)\n")
print("| workload | variant | layer | seconds | image-steps/s |")
print("| --- | --- | --- | ---: | ---: |")
for r in rows:
    if r["workload"].startswith("gradcam"):
        continue
    if r["status"] != "ok":
        print(f"| {r['workload']} | {r['variant']} | – | – | {r['status']} |")
        continue
    for layer, (sec, rate) in ascent_layers(r).items():
        print(f"| {r['workload']} | {r['variant']} | {layer} | {sec:.2f} | {rate:.1f} |")

print("\n## Grad-CAM (VGG16 with top, 224 px, batches of 16)\n")
print("| variant | images | wall seconds (technique) | images/s |")
print("| --- | ---: | ---: | ---: |")
images = len(glob.glob(os.path.join(out, "images", "*.png")))
for r in rows:
    if not r["workload"].startswith("gradcam"):
        continue
    man = manifest(r) if r["status"] == "ok" else None
    if not man:
        print(f"| {r['variant']} | {images} | – | {r['status']} |")
        continue
    wall = man["techniques"][0]["wall_seconds"]
    print(f"| {r['variant']} | {images} | {wall:.2f} | {images / wall:.1f} |")
