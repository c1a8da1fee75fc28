#!/usr/bin/env python3
"""Golden fixtures of the CAM family (tests/fixtures/techniques/cam/) from pytorch-grad-cam 1.5.7.

Interpreter: ~/.cache/vizrun/venv-torch/bin/python (torch 2.x, grad-cam 1.5.7, ttach). CI never runs this.
Weights and photo: the tiny net and tests/fixtures/techniques/gradcam/photo.npy; target: the top
class's logit (ClassifierOutputTarget).

raw_<method>_<layer>.npy: the map of each method before pytorch-grad-cam's scaling and resize
  (get_cam_image, then the ReLU), recorded by wrapping scale_cam_image; layer conv3 (16x16, half
  the input) and conv2 (32x32). Score-CAM runs with batch_size 4, Ablation-CAM with 5.
out_<case>.npy: pytorch-grad-cam's final output (at the input's 32x32) for
  multi_<method>: layers [conv2, conv3] combined (each scaled, cv2-resized, averaged, scaled);
  aug_<method>: aug_smooth on conv3; eigen_<method>: eigen_smooth on conv3 (raw map).
Eigen-CAM's sign is numpy's LAPACK SVD sign (Vh[0] as np.linalg.svd returns it); vizrun's
at::linalg_svd calls the same LAPACK routine family; the test compares the sign as well.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from tiny_net import load_weights  # noqa: E402
from pgc_recorder import METHODS, recorded, slug  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "../../fixtures/techniques")
out_dir = os.path.join(fixtures, "cam")
os.makedirs(out_dir, exist_ok=True)
net = load_weights(os.path.join(fixtures, "tiny_net"))
photo = np.load(os.path.join(fixtures, "gradcam/photo.npy"))
x = torch.from_numpy(photo)[None] / 255.0
with torch.no_grad():
    top = int(net(x)[0].argmax())
targets = [ClassifierOutputTarget(top)]



def make(method, layers, **kwargs):
    cam = METHODS[method](model=net, target_layers=layers)
    if method == "scorecam":
        cam.batch_size = 4
    if method == "ablationcam":
        cam.batch_size = 5
    recorded.clear()
    result = cam(input_tensor=x, targets=targets, **kwargs)
    return result[0].astype(np.float32), [r[0] for r in recorded]


for method in METHODS:
    for layer in ["conv2", "conv3"]:
        _, raws = make(method, [getattr(net, layer)])
        np.save(os.path.join(out_dir, f"raw_{slug(method)}_{layer}.npy"), raws[0])
    final, _ = make(method, [net.conv2, net.conv3])
    np.save(os.path.join(out_dir, f"out_multi_{slug(method)}.npy"), final)
    print(method, "conv3 raw max", float(raws[0].max()))
for method in ["gradcam", "scorecam", "eigencam"]:
    final, _ = make(method, [net.conv3], aug_smooth=True)
    np.save(os.path.join(out_dir, f"out_aug_{slug(method)}.npy"), final)
for method in ["gradcam", "gradcam++", "layercam"]:
    _, raws = make(method, [net.conv3], eigen_smooth=True)
    np.save(os.path.join(out_dir, f"raw_eigen_{slug(method)}_conv3.npy"), raws[0])
np.save(os.path.join(out_dir, "top_class.npy"), np.array([top], np.int64))
print("top class", top)
