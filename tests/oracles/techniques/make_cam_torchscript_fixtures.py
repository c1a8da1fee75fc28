#!/usr/bin/env python3
"""CAM fixtures on a real backend (tests/fixtures/techniques/cam/ts_*.npy) from pytorch-grad-cam 1.5.7.

Interpreter: ~/.cache/vizrun/venv-torch/bin/python (torch 2.x, torchvision, grad-cam 1.5.7). CI never runs this.

The model is tests/fixtures/models/torchscript/resnet_small.pt (a narrow torchvision ResNet-18
layout, traced by tests/oracles/models/torchscript_oracle.py). pytorch-grad-cam needs forward
hooks, which a traced module does not run, so its weights are loaded into the eager model it
was traced from. Input: photo128.png (written here: smooth random colours, 128 x 128, no
resize), torchvision preprocessing; target: class 3's logit (ClassifierOutputTarget).

Layers: layer2 (a residual block's output, 16 x 16) and layer3.0.conv1 (inside a block whose
skip path, the downsample, does not depend on it: what Ablation-CAM's forward from the layer
on must still compute; 8 x 8). Every method's map is recorded before the resize (the ReLU'd map
handed to scale_cam_image) and saved min-max scaled as scale_cam_image scales it:
ts_<method>_<layer>.npy. Score-CAM runs with batch_size 4, Ablation-CAM with 5.
"""
import os
import sys

import numpy as np
import torch
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../models"))
from torchscript_oracle import SmallResNet  # noqa: E402
from pgc_recorder import METHODS, recorded, slug  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

torch.set_num_threads(1)
fixtures = os.path.join(here, "../../fixtures")
out_dir = os.path.join(fixtures, "techniques/cam")
os.makedirs(out_dir, exist_ok=True)

traced = torch.jit.load(os.path.join(fixtures, "models/torchscript/resnet_small.pt")).eval()
net = SmallResNet()
net.load_state_dict(traced.state_dict())
net.eval()

rng = np.random.default_rng(128)
photo = np.asarray(Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((128, 128), Image.BILINEAR))
Image.fromarray(photo).save(os.path.join(out_dir, "photo128.png"))
pixels = torch.from_numpy(np.asarray(Image.open(os.path.join(out_dir, "photo128.png")).convert("RGB"), np.float32))
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
x = (pixels.permute(2, 0, 1)[None] / 255.0 - mean) / std
with torch.no_grad():
    assert torch.allclose(traced(x), net(x), atol=1e-5), "the eager model differs from the traced one"
targets = [ClassifierOutputTarget(3)]
LAYERS = {"layer2": lambda m: m.layer2, "layer3.0.conv1": lambda m: m.layer3[0].conv1}


def scaled(raw):  # scale_cam_image without the resize
    raw = raw - np.min(raw)
    return (raw / (1e-7 + np.max(raw))).astype(np.float32)


for method, cls in METHODS.items():
    for layer, pick in LAYERS.items():
        cam = cls(model=net, target_layers=[pick(net)])
        if method == "scorecam":
            cam.batch_size = 4
        if method == "ablationcam":
            cam.batch_size = 5
        recorded.clear()
        cam(input_tensor=x, targets=targets)
        raw = recorded[0][0]
        np.save(os.path.join(out_dir, f"ts_{slug(method)}_{layer}.npy"), scaled(raw))
        print(f"{method:13s} {layer:15s} shape {raw.shape} raw max {raw.max():.4g}")
