#!/usr/bin/env python3
"""Traced PyTorch CNNs and their outputs, for the torchscript backend.

Interpreter: Debian's /usr/bin/python3 with python3-torch and python3-torchvision
(apt-get install python3-torchvision), or any Python with torch + torchvision:
    /usr/bin/python3 tests/oracles/models/torchscript_oracle.py

Models (seeded random weights, reduced widths so the files stay small):
- resnet_small: torchvision's ResNet with BasicBlocks [1, 1, 1, 1] and widths
  16-32-64-128 (torchvision.models.resnet.ResNet with a custom width: the module
  paths are torchvision's: conv1, layer1.0.conv2, layer4, fc);
- mobilenet_small: torchvision's mobilenet_v3_small with width_mult 0.1
  (depthwise convolutions, hardswish, squeeze-excitation, in-place activations).
Each is put in eval mode, traced with torch.jit.trace on a 1x3x64x64 input and saved.

For each model the fixture records, at several module paths (pytorch-grad-cam's
target_layers names), the module's output (forward hooks on the eager model) and
the gradient with respect to the input of the mean of channel 0 of that output.
Input: the formula pixels of common.py at 64x64, preprocessed as torchvision does
((x / 255 - mean) / std). Writes tests/fixtures/models/torchscript/*.pt and
tests/fixtures/models/torchscript_<model>.json.
"""
import json
import os
import sys

import torch
import torchvision
from torchvision.models.resnet import BasicBlock, ResNet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dump, input_pixels, summarize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "models")
SIZE = 64


class SmallResNet(ResNet):
    def __init__(self):
        super().__init__(BasicBlock, [1, 1, 1, 1], num_classes=10, width_per_group=64)
        # Narrow every stage (torchvision's module names and structure stay).
        widths = [8, 16, 32, 64]
        self.inplanes = widths[0]
        self.conv1 = torch.nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(widths[0])
        self.layer1 = self._make_layer(BasicBlock, widths[0], 1)
        self.layer2 = self._make_layer(BasicBlock, widths[1], 1, stride=2)
        self.layer3 = self._make_layer(BasicBlock, widths[2], 1, stride=2)
        self.layer4 = self._make_layer(BasicBlock, widths[3], 1, stride=2)
        self.fc = torch.nn.Linear(widths[3], 10)


def randomize_statistics(model, generator):
    """BatchNorm running statistics away from 0/1, so folding mistakes would show."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=generator) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) * 0.5 + 0.75)


def summarize_nchw(t):
    t = t.detach()
    return summarize(t.permute(0, 2, 3, 1).numpy() if t.dim() == 4 else t.numpy(), samples=300)


def module_at(model, path):
    m = model
    for part in path.split("."):
        m = getattr(m, part)
    return m


def record(name, model, taps, classes):
    generator = torch.Generator().manual_seed(7)
    randomize_statistics(model, generator)
    model.eval()
    pixels = torch.from_numpy(input_pixels(SIZE, SIZE)).permute(0, 3, 1, 2)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (pixels / 255.0 - mean) / std

    traced = torch.jit.trace(model, torch.zeros(1, 3, SIZE, SIZE))
    pt = os.path.join(OUT, "torchscript", name + ".pt")
    traced.save(pt)

    out = {"model": name, "torch_version": torch.__version__, "torchvision_version": torchvision.__version__,
           "input": [3, SIZE, SIZE], "classes": classes, "taps": {}}
    for path in taps:
        captured = {}
        # A clone: a later in-place op (mobilenet's Hardswish(inplace=True) after
        # classifier.0) would otherwise overwrite what the hook saw.
        handle = module_at(model, path).register_forward_hook(lambda m, i, o: captured.__setitem__("y", o.clone()))
        xi = x.clone().requires_grad_(True)
        logits = model(xi)
        handle.remove()
        y = captured["y"]
        grad, = torch.autograd.grad(y[:, 0].mean(), xi)
        out["taps"][path] = {"output": summarize_nchw(y), "grad_channel0_mean": summarize_nchw(grad)}
    with torch.no_grad():
        out["logits"] = summarize_nchw(model(x))
    dump(os.path.join(OUT, "torchscript_%s.json" % name), out)
    print(name, os.path.getsize(pt), "bytes")


def main():
    torch.manual_seed(0)
    record("resnet_small", SmallResNet(), ["conv1", "layer1.0.conv2", "layer2", "layer3.0", "layer4", "avgpool", "fc"], 10)
    torch.manual_seed(1)
    mobilenet = torchvision.models.mobilenet_v3_small(width_mult=0.1, num_classes=10)
    record("mobilenet_small", mobilenet, ["features.0", "features.1.block.0", "features.4", "features.12", "classifier.0"], 10)


if __name__ == "__main__":
    main()
