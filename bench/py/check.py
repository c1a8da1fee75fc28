"""fp32 agreement of vizrun's filter_ascent with the plain PyTorch recipe, on the same
VGG16 weights (torchvision's random init, handed to vizrun as safetensors) and the
same start picture (a PNG, `init: {image: ...}`):
  - the first step's RMS-normalised gradient, read back from vizrun's one-step result
    ((x1 - x0) / step_size, saved with save_arrays), within 1e-4;
  - the loss curves of 10 steps (`loss_curves: true` in the manifest) within 1%.
Usage: check.py VIZRUN OUT_DIR  -> prints one JSON line per layer."""
import glob, json, os, subprocess, sys
import numpy as np
import torch
from PIL import Image
import nets

LAYERS = ["block1_conv2", "block3_conv1", "block4_conv1", "block5_conv3"]
FILTERS, SIZE, STEPS = 4, 128, 10


def find_key(obj, key):
    if isinstance(obj, dict):
        if isinstance(obj.get(key), dict):
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


def run_vizrun(vizrun, out, name, weights, start, steps, extra):
    cfg = f"""experiment: check_{name}
seed: 0
device: cpu
precision: fp32
model: {{plugin: vgg16, weights: {weights}, options: {{include_top: false}}}}
techniques:
  - plugin: filter_ascent
    id: ascent
    options: {{layers: [{', '.join(LAYERS)}], filters: {FILTERS}, size: {SIZE}, steps: {steps}, step_size: 1.0,
               init: {{image: {start}}}, gradient_normalization: rms, batch_size: {FILTERS}, {extra}}}
"""
    path = f"{out}/check_{name}.yaml"
    open(path, "w").write(cfg)
    run = f"{out}/check_run_{name}"
    subprocess.run(["rm", "-rf", run], check=True)
    subprocess.run([vizrun, "run", path, "--out", run, "-q"], check=True)
    return run


def main():
    vizrun, out = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    model = nets.vgg16_features(0)
    weights = f"{out}/vgg16_torchvision_seed0.safetensors"
    nets.save_safetensors(weights, {k: v for k, v in model.state_dict().items() if k.startswith("features.")})
    rng = np.random.default_rng(1)
    start = f"{out}/check_start.png"
    Image.fromarray((rng.random((SIZE, SIZE, 3)) * 20 + 128).astype(np.uint8)).save(start)
    one = run_vizrun(vizrun, out, "one_step", weights, start, 1, "save_arrays: true")
    curves_run = run_vizrun(vizrun, out, "curves", weights, start, STEPS, "loss_curves: true")
    manifest = json.load(open(f"{curves_run}/manifest.json"))
    curves = find_key(manifest, "loss_curves")
    pixels = torch.from_numpy(np.asarray(Image.open(start).convert("RGB"), np.float32)).permute(2, 0, 1)[None]
    x0 = nets.caffe(pixels)
    for layer in LAYERS:
        trunc = nets.vgg16_truncated(model, layer)
        g_err, g_scale, l_err = 0.0, 0.0, 0.0
        for f in range(FILTERS):
            npy = glob.glob(f"{one}/**/{layer}/filter_{f:04d}.npy", recursive=True)
            x1 = torch.from_numpy(np.load(npy[0]))[None]
            x = x0.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(trunc(x)[0, f].mean(), x)
            g = g / (g.pow(2).mean().sqrt() + 1e-5)
            g_err = max(g_err, (x1 - x0 - g).abs().max().item())
            g_scale = max(g_scale, g.abs().max().item())
            # loss curve, plain recipe
            x = x0.clone()
            ref = []
            for _ in range(STEPS):
                x.requires_grad_(True)
                loss = trunc(x)[0, f].mean()
                (g,) = torch.autograd.grad(loss, x)
                ref.append(loss.item())
                x = (x + g / (g.pow(2).mean().sqrt() + 1e-5)).detach()
            viz = next(c["loss"] for c in curves[layer] if c["filter"] == f)
            ref = np.array(ref)
            l_err = max(l_err, float(np.max(np.abs(np.array(viz) - ref) / np.maximum(np.abs(ref), 1e-3))))
        print(json.dumps({"layer": layer, "filters": FILTERS, "first_grad_max_abs_err": g_err, "grad_scale": g_scale,
                          "loss_curve_max_rel_err": l_err, "steps": STEPS}), flush=True)


if __name__ == "__main__":
    main()
