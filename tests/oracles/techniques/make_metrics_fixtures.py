#!/usr/bin/env python3
"""Golden fixtures for the faithfulness metrics (tests/fixtures/techniques/metrics/).

Interpreter: ~/.cache/vizrun/venv-torch/bin/python (torch 2.x, grad-cam 1.5.7, scipy,
opencv). CI never runs this.

The tiny net (tiny_net.py) on two 32x32 photos, model input x / 255, target = the top
class of each photo, score = its softmax probability (ClassifierOutputSoftmaxTarget).
Maps: photo 0 gets pytorch-grad-cam's GradCAM of conv2 (scaled to [0, 1] by the library,
at 32x32 already, so no resize), photo 1 a smooth synthetic map (no ties), both saved so
the C++ test scores the same maps.

- pytorch-grad-cam's metrics module, called as users call it: CamMultImageConfidenceChange,
  DropInConfidence, IncreaseInConfidence (also with the logit target),
  ROADMostRelevantFirst / LeastRelevantFirst per percentile, their averages and
  ROADCombined. The NoisyLinearImputer's noise is its only randomness; the fixtures set it
  to 0 (its default argument) so the score is a function of the maps, and the C++ test
  checks the noise separately. The imputed images of photo 0 at percentiles 20 and 80 are
  kept too.
- Deletion and insertion written here from the RISE paper (Petsiuk et al. 2018), not from
  vizrun: pixels ranked by decreasing saliency (stable, ties by raster index), after step
  k of `steps` the first k * HW // steps of them are moved; deletion towards zero (RISE's
  substrate) and towards the blurred image, insertion from the blurred image; the blur is
  a normalised 11x11 Gaussian of sigma 5 per channel with zero padding (RISE's conv2d);
  AUC by the trapezoid rule on [0, 1].
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from tiny_net import load_weights, picture  # noqa: E402
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.metrics import road  # noqa: E402
from pytorch_grad_cam.metrics.cam_mult_image import (CamMultImageConfidenceChange, DropInConfidence,  # noqa: E402
                                                     IncreaseInConfidence)
from pytorch_grad_cam.metrics.perturbation_confidence import (RemoveLeastRelevantFirst,  # noqa: E402
                                                              RemoveMostRelevantFirst)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget  # noqa: E402

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "../../fixtures/techniques")
out_dir = os.path.join(fixtures, "metrics")
os.makedirs(out_dir, exist_ok=True)
net = load_weights(os.path.join(fixtures, "tiny_net"))


def save(name, array, dtype=np.float64):
    np.save(os.path.join(out_dir, name + ".npy"), np.ascontiguousarray(np.asarray(array, dtype=dtype)))


# --- Inputs, targets, maps ---------------------------------------------------------
rng = np.random.default_rng(11)
photo0 = np.load(os.path.join(fixtures, "gradcam/photo.npy"))
photo1 = np.round(0.5 * picture(3, rng) + 0.5 * picture(0, rng)).astype(np.float32)  # a red blob on stripes: not certain
photos = np.stack([photo0, photo1]).astype(np.float32)
x = torch.from_numpy(photos) / 255.0
with torch.no_grad():
    logits = net(x)
classes = logits.argmax(1).numpy()
print("classes", classes, "probabilities", torch.softmax(logits, 1).max(1).values.numpy().round(3))

cam = GradCAM(model=net, target_layers=[net.conv2])
map0 = cam(input_tensor=x[:1], targets=[ClassifierOutputTarget(int(classes[0]))])[0]
yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
map1 = np.exp(-((yy - 14.3) ** 2 + (xx - 17.7) ** 2) / (2 * 6.0 ** 2)) + 0.01 * (yy * 32 + xx) / 1024.0
map1 = ((map1 - map1.min()) / (map1.max() - map1.min())).astype(np.float32)
maps = np.stack([map0, map1]).astype(np.float32)
save("photos", photos, np.float32)
save("maps", maps, np.float32)
save("classes", classes, np.int64)

# --- pytorch-grad-cam's metrics -------------------------------------------------------
# No noise in the imputer (its only randomness); see the docstring.
road.NoisyLinearImputer.__init__.__defaults__ = (0.0, road.neighbors_weights)
prob_targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in classes]
logit_targets = [ClassifierOutputTarget(int(c)) for c in classes]
with torch.no_grad():
    base = torch.softmax(net(x), 1).numpy()[np.arange(2), classes]
save("base_score", base)
save("cam_mult", CamMultImageConfidenceChange()(x, maps, prob_targets, net))
save("cam_mult_logit", CamMultImageConfidenceChange()(x, maps, logit_targets, net))
save("drop_in_confidence", DropInConfidence()(x, maps, prob_targets, net))
save("increase_in_confidence", IncreaseInConfidence()(x, maps, prob_targets, net))
percentiles = [10, 20, 30, 40, 50, 60, 70, 80, 90]
save("percentiles", percentiles)
save("road_morf", np.stack([road.ROADMostRelevantFirst(p)(x, maps, prob_targets, net) for p in percentiles], 1))
save("road_lerf", np.stack([road.ROADLeastRelevantFirst(p)(x, maps, prob_targets, net) for p in percentiles], 1))
save("road_morf_average", road.ROADMostRelevantFirstAverage(percentiles)(x, maps, prob_targets, net))
save("road_lerf_average", road.ROADLeastRelevantFirstAverage(percentiles)(x, maps, prob_targets, net))
save("road_combined", road.ROADCombined(percentiles)(x, maps, prob_targets, net))
imputer = road.NoisyLinearImputer(noise=0.0)
for p in [20, 80]:
    save(f"imputed_morf_{p}", RemoveMostRelevantFirst(p, imputer)(x[0], torch.from_numpy(maps[0])).numpy(), np.float32)
    save(f"imputed_lerf_{p}", RemoveLeastRelevantFirst(p, imputer)(x[0], torch.from_numpy(maps[0])).numpy(), np.float32)
    save(f"mask_morf_{p}", np.float32(maps[0] < np.percentile(maps[0], p)), np.float32)


# --- Deletion and insertion from the RISE paper ---------------------------------------
def gaussian_blur(images, kernel=11, sigma=5.0):
    r = kernel // 2
    g = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    k = torch.from_numpy(np.outer(g, g).astype(np.float32))
    weight = k.expand(images.shape[1], 1, kernel, kernel).contiguous()
    return F.conv2d(images, weight, padding=r, groups=images.shape[1])


def causal_curve(image, saliency, cls, start, finish, steps):
    """Scores after each of `steps` steps moving ranked pixels from `start` to `finish`."""
    hw = saliency.size
    order = np.argsort(-saliency.ravel(), kind="stable")
    cur = start.clone().reshape(3, hw)
    fin = finish.reshape(3, hw)
    scores = []
    for k in range(steps + 1):
        n = k * hw // steps
        cur[:, order[:n]] = fin[:, order[:n]]
        with torch.no_grad():
            scores.append(float(torch.softmax(net(cur.reshape(1, *image.shape)), 1)[0, cls]))
    return np.array(scores)


def auc(curve):
    return float(np.trapz(curve, dx=1.0 / (len(curve) - 1))) if hasattr(np, "trapz") else float(
        np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


for steps in [16, 100]:
    curves = {"deletion_zero": [], "deletion_blur": [], "insertion_blur": []}
    for i in range(2):
        xi = x[i]
        blurred = gaussian_blur(xi[None])[0]
        curves["deletion_zero"].append(causal_curve(xi, maps[i], classes[i], xi, torch.zeros_like(xi), steps))
        curves["deletion_blur"].append(causal_curve(xi, maps[i], classes[i], xi, blurred, steps))
        curves["insertion_blur"].append(causal_curve(xi, maps[i], classes[i], blurred, xi, steps))
    for name, c in curves.items():
        save(f"{name}_{steps}", np.stack(c))
        save(f"{name}_{steps}_auc", [auc(v) for v in c])
save("blurred0", gaussian_blur(x[:1])[0].numpy(), np.float32)
print("written to", os.path.relpath(out_dir))
