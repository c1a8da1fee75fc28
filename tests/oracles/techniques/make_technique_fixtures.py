#!/usr/bin/env python3
"""Golden fixtures for the Grad-CAM and filter-ascent tests (tests/fixtures/techniques/).

Interpreter: a venv made from Debian's python3 with --system-site-packages (python3-torch
1.13) plus PyPI `grad-cam` (installed with --no-deps), opencv-python-headless<4.11,
matplotlib<3.10, numpy<2, ttach, tqdm, scipy, scikit-learn. CI never runs this.

gradcam/: pytorch-grad-cam's GradCAM on the tiny net's conv2 (post-ReLU, 32x32 like
the input, so its resize to the input is the identity) for
  - the top predicted class, score = logit (ClassifierOutputTarget);
  - class 3, score = softmax probability (a custom target);
ascent/: a plain one-filter-at-a-time PyTorch implementation of the filter-ascent
recipe from fixed start pictures: first-step gradients and loss curves.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from tiny_net import load_weights, picture  # noqa: E402
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "../../fixtures/techniques")
net = load_weights(os.path.join(fixtures, "tiny_net"))
# Parameters keep requires_grad: pytorch-grad-cam needs a graph from them, as a user's model has.

# --- Grad-CAM -------------------------------------------------------------------
rng = np.random.default_rng(7)
photo = np.clip(np.full((3, 32, 32), 110.0) + rng.normal(0, 10, (3, 32, 32)), 0, 255)
photo[:, :, :14] = picture(1, rng)[:, :, :14]          # vertical stripes on the left
yy, xx = np.mgrid[0:32, 0:32]
blob = np.exp(-((yy - 22) ** 2 + (xx - 24) ** 2) / (2 * 4.0 ** 2))
photo[0] += 120 * blob                                   # a red blob lower right
photo = np.clip(np.round(photo), 0, 255).astype(np.float32)
os.makedirs(os.path.join(fixtures, "gradcam"), exist_ok=True)
np.save(os.path.join(fixtures, "gradcam/photo.npy"), photo)

x = torch.from_numpy(photo)[None] / 255.0
with torch.no_grad():
    logits = net(x)[0]
top = int(logits.argmax())
print("logits", logits.numpy().round(3), "top", top)


class ProbabilityTarget:
    def __init__(self, c):
        self.c = c

    def __call__(self, out):
        return torch.softmax(out, -1)[..., self.c] if out.dim() == 1 else torch.softmax(out, -1)[:, self.c]


def plain_cam(target_fn):
    feats = {}
    h = net.conv2.register_forward_hook(lambda m, i, o: feats.__setitem__("a", o))
    xi = x.clone().requires_grad_(True)
    out = net(xi)
    h.remove()
    a = feats["a"]
    g, = torch.autograd.grad(target_fn(out[0]), a)
    w = g.mean((2, 3), keepdim=True)
    return torch.relu((w * a).sum(1))[0].detach().numpy()


cases = [("top_logit", top, ClassifierOutputTarget(top), lambda o: o[top]),
         ("class3_probability", 3, ProbabilityTarget(3), lambda o: torch.softmax(o, -1)[3])]
for name, cls, target, fn in cases:
    with GradCAM(model=net, target_layers=[net.conv2]) as cam:
        heat = cam(input_tensor=x, targets=[target])[0].astype(np.float32)
    raw = plain_cam(fn)
    assert raw.min() == 0.0, "ReLU'd map must touch 0 for pytorch-grad-cam's min-max scaling to equal max scaling"
    assert np.abs(raw / raw.max() - heat).max() < 1e-4
    np.save(os.path.join(fixtures, f"gradcam/{name}.npy"), heat)
    print(name, "class", cls, "peak at", np.unravel_index(heat.argmax(), heat.shape))
np.save(os.path.join(fixtures, "gradcam/top_class.npy"), np.array([top], np.int64))

# --- filter ascent ---------------------------------------------------------------
os.makedirs(os.path.join(fixtures, "ascent"), exist_ok=True)
rng = np.random.default_rng(11)
filters = [0, 5, 9]
start_pixels = rng.random((len(filters), 3, 32, 32)) * 20 + 128          # gray noise in pixel space
start = (start_pixels / 255.0).astype(np.float32)                       # preprocess: x / 255
np.save(os.path.join(fixtures, "ascent/start.npy"), start)
np.save(os.path.join(fixtures, "ascent/filters.npy"), np.array(filters, np.int64))

recipes = {
    # name: (layer, normalisation, step size, border, steps)
    "rms": ("conv3", "rms", 0.02, 0, 8),
    "l2": ("conv3", "l2", 0.5, 1, 8),
}
for name, (layer, norm, step, border, steps) in recipes.items():
    grads, curves = [], []
    for b, f in enumerate(filters):
        img = torch.from_numpy(start[b:b + 1].copy())
        curve = []
        for s in range(steps):
            img.requires_grad_(True)
            act = net.features(img, layer)[:, f]
            if border:
                act = act[:, border:-border, border:-border]
            loss = act.mean()
            g, = torch.autograd.grad(loss, img)
            if s == 0:
                grads.append(g[0].numpy().copy())
            curve.append(float(loss))
            with torch.no_grad():
                if norm == "rms":
                    g = g / (torch.sqrt(torch.mean(g ** 2)) + 1e-5)
                elif norm == "l2":
                    g = g / torch.sqrt(torch.clamp(torch.sum(g ** 2), min=1e-12))
                img = img.detach() + step * g
        curves.append(curve)
    np.save(os.path.join(fixtures, f"ascent/{name}_first_grad.npy"), np.stack(grads).astype(np.float32))
    np.save(os.path.join(fixtures, f"ascent/{name}_losses.npy"), np.array(curves, np.float32).T.copy())
    print(name, "loss curves (filter x step):\n", np.array(curves).round(4))
