#!/usr/bin/env python3
"""Golden outputs of torchvision's VGG16 for closed-form weights, for the
safetensors path of the vgg16 backend.

Interpreter: Debian's /usr/bin/python3 with python3-torchvision (apt-get install
python3-torchvision), or any Python with torch + torchvision:
    /usr/bin/python3 tests/oracles/models/torchvision_vgg16_oracle.py

Weights: the p-th tensor of torchvision's vgg16 state_dict (in state_dict order,
LibTorch layout) gets formula(p, shape, role) from common.py, role "kernel" for
4-D and 2-D weights (fan_in = numel / shape[0] here: LibTorch layout) and "bias"
for biases. The C++ test writes the same tensors under torchvision's names into a
safetensors file and loads it into vizrun's vgg16.
Input: the formula pixels, preprocessed in torchvision's way ((x/255 - mean) / std).
Writes tests/fixtures/models/torchvision_vgg16.json.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dump, input_pixels, summarize, unit  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "models")


def torch_formula(p, shape, role):
    n = int(np.prod(shape))
    u = unit(p, n)
    if role == "kernel":
        fan_in = n // shape[0]
        v = (u - 0.5) * 2.0 * math.sqrt(3.0) * math.sqrt(2.0 / fan_in)
    else:
        v = (u - 0.5) * 0.2
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def main():
    torch.set_grad_enabled(False)
    model = torchvision.models.vgg16().eval()
    state = model.state_dict()
    for p, (name, t) in enumerate(state.items()):
        state[name] = torch_formula(p, list(t.shape), "kernel" if name.endswith("weight") else "bias")
    model.load_state_dict(state)
    pixels = torch.from_numpy(input_pixels(224, 224)).permute(0, 3, 1, 2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (pixels / 255.0 - mean) / std
    taps = {3: "block1_conv2", 15: "block3_conv3", 29: "block5_conv3", 30: "block5_pool"}
    record = {"model": "vgg16", "variant": "torchvision", "torchvision_version": torchvision.__version__,
              "state_dict": [[k, list(v.shape)] for k, v in state.items()], "layers": {}}
    y = x
    for i, layer in enumerate(model.features):
        y = layer(y)
        if i in taps:
            record["layers"][taps[i]] = summarize(y.numpy().transpose(0, 2, 3, 1))
    logits = model(x)
    record["layers"]["predictions"] = summarize(logits.numpy())
    dump(os.path.join(OUT, "torchvision_vgg16.json"), record)
    print("torchvision vgg16", len(state), "tensors")


if __name__ == "__main__":
    main()
