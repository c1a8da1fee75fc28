#!/usr/bin/env python3
"""Golden fixtures of the attribution technique (tests/fixtures/techniques/attribution/).

Interpreter: ~/.cache/vizrun/venv-torch/bin/python (torch 2.x, captum 0.9.0). CI never
runs this. Reference: captum 0.9.0 on the tiny net (tiny_net.py, the weights of
tests/fixtures/techniques/tiny_net) for two inputs in model space (x / 255) and one
target class per input; the model's output is the logits.

  saliency_abs / saliency_signed     Saliency(abs=True / False)
  input_x_gradient                   InputXGradient
  ig_<method>                        IntegratedGradients, 8 steps, black baseline (zeros)
  ig_noise_trapezoid                 the same from the uniform-noise baseline ig_baseline
  nt_<kind>_<inner>                  NoiseTunnel(<inner>) with 4 samples, stdev 0.1; its
                                     noise draws are recorded (nt_noise_<kind>_<inner>,
                                     {B * samples, C, H, W}, image-major as captum adds them)
  guided_backprop                    GuidedBackprop (hooks on the nn.ReLU modules)
  guided_gradcam_conv2               GuidedGradCam on conv2 (post-ReLU), nearest upsampling
  occlusion_w8_s4 / occlusion_w6_s4  Occlusion, windows (3, w, w), strides (3, s, s), baseline 0
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from tiny_net import load_weights, picture  # noqa: E402
from captum.attr import (GuidedBackprop, GuidedGradCam, InputXGradient, IntegratedGradients,  # noqa: E402
                         NoiseTunnel, Occlusion, Saliency)

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "../../fixtures/techniques")
out_dir = os.path.join(fixtures, "attribution")
os.makedirs(out_dir, exist_ok=True)
net = load_weights(os.path.join(fixtures, "tiny_net"))


def save(name, t):
    np.save(os.path.join(out_dir, name + ".npy"), np.ascontiguousarray(t.detach().numpy().astype(np.float32)))


rng = np.random.default_rng(11)
photo = np.load(os.path.join(fixtures, "gradcam/photo.npy"))
second = np.round(picture(4, rng)).astype(np.float32)  # a checkerboard
x = torch.from_numpy(np.stack([photo, second])) / 255.0
with torch.no_grad():
    logits = net(x)
target = torch.tensor([int(logits[0].argmax()), 3])
print("logits", logits.numpy().round(3), "targets", target.tolist())
save("input", x)
np.save(os.path.join(out_dir, "target.npy"), target.numpy().astype(np.int64))

save("saliency_abs", Saliency(net).attribute(x, target=target, abs=True))
save("saliency_signed", Saliency(net).attribute(x, target=target, abs=False))
save("input_x_gradient", InputXGradient(net).attribute(x, target=target))

ig = IntegratedGradients(net)
for method in ["riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre"]:
    save("ig_" + method, ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=8, method=method))
torch.manual_seed(3)
baseline = torch.rand_like(x)
save("ig_baseline", baseline)
save("ig_noise_trapezoid", ig.attribute(x, baselines=baseline, target=target, n_steps=8, method="riemann_trapezoid"))


class Recorder(torch.nn.Module):
    """The tiny net, keeping every input it is called with (NoiseTunnel's noisy batches)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.seen = []

    def forward(self, z):
        self.seen.append(z.detach().clone())
        return self.inner(z)


samples = 4
for kind, inner_name in [("smoothgrad", "saliency"), ("smoothgrad_sq", "input_x_gradient"), ("vargrad", "saliency")]:
    rec = Recorder(net)
    inner = Saliency(rec) if inner_name == "saliency" else InputXGradient(rec)
    torch.manual_seed(5)
    kwargs = {"abs": True} if inner_name == "saliency" else {}
    result = NoiseTunnel(inner).attribute(x, nt_type=kind, nt_samples=samples, stdevs=0.1, target=target, **kwargs)
    assert len(rec.seen) == 1, "one noisy batch expected"
    noise = rec.seen[0] - x.repeat_interleave(samples, dim=0)
    save(f"nt_noise_{kind}_{inner_name}", noise)
    save(f"nt_{kind}_{inner_name}", result)

save("guided_backprop", GuidedBackprop(net).attribute(x, target=target))
save("guided_gradcam_conv2", GuidedGradCam(net, net.conv2).attribute(x, target=target))

occ = Occlusion(net)
save("occlusion_w8_s4", occ.attribute(x, sliding_window_shapes=(3, 8, 8), strides=(3, 4, 4), baselines=0, target=target))
save("occlusion_w6_s4", occ.attribute(x, sliding_window_shapes=(3, 6, 6), strides=(3, 4, 4), baselines=0, target=target))
print("wrote", sorted(os.listdir(out_dir)))

# --- A real backend: the torchscript plugin on tests/fixtures/models/torchscript/resnet_small.pt
# (traced by tests/oracles/models/torchscript_oracle.py), a 64 x 64 PNG (no resize),
# torchvision preprocessing ((x / 255 - mean) / std), class 3. The black baseline is a
# photo of zeros, preprocessed: -mean / std.
from PIL import Image  # noqa: E402

smooth = np.asarray(Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((64, 64), Image.BILINEAR))
Image.fromarray(smooth).save(os.path.join(out_dir, "photo64.png"))
ts = torch.jit.load(os.path.join(fixtures, "../models/torchscript/resnet_small.pt")).eval()
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
pixels = torch.from_numpy(np.asarray(Image.open(os.path.join(out_dir, "photo64.png")).convert("RGB"), np.float32))
xt = (pixels.permute(2, 0, 1)[None] / 255.0 - mean) / std
black = (torch.zeros_like(xt) - mean) / std
t3 = torch.tensor([3])
save("ts_saliency_signed", Saliency(ts).attribute(xt, target=t3, abs=False))
save("ts_ig_trapezoid", IntegratedGradients(ts).attribute(xt, baselines=black, target=t3, n_steps=8,
                                                          method="riemann_trapezoid"))
save("ts_occlusion_w16_s8", Occlusion(ts).attribute(xt, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8),
                                                    baselines=0, target=t3))
