"""Filter ascent in Python PyTorch, timed per layer. Prints one JSON line per layer.

  plain: the recipe as a user writes it: one filter at a time, the model truncated at
         the target layer, torch defaults (threads, contiguous layout, fp32).
  tuned: all cores, channels-last, `--batch` filters per batch (picture b watches
         filter b), parameters frozen; `--bf16` adds autocast to bfloat16.
`--device cuda` runs either on the GPU (bench/gpu.sh); the clock then waits for the GPU.
Start pictures: gray noise (uniform x 20 + 128) in pixel space, preprocessed.
Every layer's time includes its first batch (no untimed warm-up), as vizrun's does."""
import argparse, json, os, resource, time
import torch
import nets


def rms_step(x, g, step):
    g = g / (g.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-5)
    x.add_(g, alpha=step)


def build(model_name, layer, seed):
    if model_name == "vgg16":
        return nets.vgg16_truncated(nets.vgg16_features(seed), layer), nets.caffe
    assert layer == "conv3_block4_out"
    return nets.ResNet50V2ToConv3Block4(seed), nets.tf_mode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["plain", "tuned"], required=True)
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--layers", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    device = torch.device(a.device)
    if a.mode == "tuned" and device.type == "cpu":
        torch.set_num_threads(os.cpu_count())
    if device.type == "cuda":  # fp32 means fp32, as in vizrun (no TF32 convolutions)
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    fmt = torch.channels_last if a.mode == "tuned" else torch.contiguous_format
    for layer in a.layers.split(","):
        model, prep = build(a.model, layer, 0)
        model = model.to(device)
        if a.mode == "tuned":
            model = model.to(memory_format=torch.channels_last)
            for p in model.parameters():
                p.requires_grad_(False)
        batch = 1 if a.mode == "plain" else a.batch
        t0 = time.perf_counter()
        for first in range(0, a.filters, batch):
            filters = list(range(first, min(a.filters, first + batch)))
            n = len(filters)
            x = prep(torch.rand(n, 3, a.size, a.size) * 20 + 128).to(device).contiguous(memory_format=fmt)
            x.requires_grad_(True)
            rows, idx = torch.arange(n, device=device), torch.tensor(filters, device=device)
            for _ in range(a.steps):
                if a.bf16:
                    with torch.autocast(device.type, dtype=torch.bfloat16):
                        act = model(x)
                else:
                    act = model(x)
                if a.mode == "plain":
                    loss = act[0, filters[0]].mean()
                else:
                    loss = act[rows, idx].float().mean(dim=(1, 2)).sum()
                (g,) = torch.autograd.grad(loss, x)
                with torch.no_grad():
                    rms_step(x, g.float(), 1.0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        sec = time.perf_counter() - t0
        print(json.dumps({"layer": layer, "seconds": sec, "image_steps": a.filters * a.steps,
                          "rate": a.filters * a.steps / sec, "threads": torch.get_num_threads(),
                          "device": str(device)}), flush=True)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


if __name__ == "__main__":
    main()
