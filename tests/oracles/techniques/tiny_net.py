"""The tiny convnet the technique tests use, in plain PyTorch.

Same layers, names and maths as tests/techniques/tiny_model.cpp:
  conv1 3->8, conv2 8->12 (3x3, pad 1, ReLU), pool1 (max 2x2), conv3 12->16 (3x3,
  pad 1, ReLU), gap (global average), logits (dense 16->5). Inputs are RGB pixels
  in [0, 255]; preprocess is x / 255. Weights are trained here on synthetic
  32x32 pictures of five kinds, so filters mean something (edges, stripes, colour).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["horizontal", "vertical", "diagonal", "red_blob", "checker"]


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(8, 12, 3, padding=1), nn.ReLU())
        self.conv3 = nn.Sequential(nn.Conv2d(12, 16, 3, padding=1), nn.ReLU())
        self.logits = nn.Linear(16, 5)

    def features(self, x, upto):
        x = self.conv1(x)
        if upto == "conv1":
            return x
        x = self.conv2(x)
        if upto == "conv2":
            return x
        x = F.max_pool2d(x, 2)
        if upto == "pool1":
            return x
        x = self.conv3(x)
        if upto == "conv3":
            return x
        raise ValueError(upto)

    def forward(self, x):
        return self.logits(self.features(x, "conv3").mean((2, 3)))


def picture(kind, rng, size=32):
    """One synthetic RGB picture in [0, 255] (float32 {3, H, W})."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(4, 9)
    phase = rng.uniform(0, 2 * np.pi)
    img = np.full((3, size, size), 110.0, np.float32) + rng.normal(0, 12, (3, size, size)).astype(np.float32)
    if kind == 0:
        img += 80 * np.sin(2 * np.pi * yy / period + phase)
    elif kind == 1:
        img += 80 * np.sin(2 * np.pi * xx / period + phase)
    elif kind == 2:
        img += 80 * np.sin(2 * np.pi * (xx + yy) / (period * 1.4) + phase)
    elif kind == 3:
        cy, cx = rng.uniform(8, 24, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(3, 6) ** 2))
        img[0] += 140 * blob
        img[1] -= 60 * blob
        img[2] -= 60 * blob
    else:
        cell = int(rng.integers(3, 6))
        img += 70 * (((yy // cell + xx // cell) % 2) * 2 - 1)
    return np.clip(img, 0, 255)


def train(seed=0, steps=400):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = TinyNet()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(steps):
        labels = rng.integers(0, 5, 64)
        x = torch.from_numpy(np.stack([picture(int(k), rng) for k in labels])) / 255.0
        loss = F.cross_entropy(net(x), torch.from_numpy(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        labels = rng.integers(0, 5, 256)
        x = torch.from_numpy(np.stack([picture(int(k), rng) for k in labels])) / 255.0
        acc = (net(x).argmax(1).numpy() == labels).mean()
    return net.eval(), float(acc)


def save_weights(net, folder):
    for name in ["conv1", "conv2", "conv3"]:
        conv = getattr(net, name)[0]
        np.save(f"{folder}/{name}_weight.npy", conv.weight.detach().numpy().astype(np.float32))
        np.save(f"{folder}/{name}_bias.npy", conv.bias.detach().numpy().astype(np.float32))
    np.save(f"{folder}/logits_weight.npy", net.logits.weight.detach().numpy().astype(np.float32))
    np.save(f"{folder}/logits_bias.npy", net.logits.bias.detach().numpy().astype(np.float32))


def load_weights(folder):
    net = TinyNet()
    with torch.no_grad():
        for name in ["conv1", "conv2", "conv3"]:
            conv = getattr(net, name)[0]
            conv.weight.copy_(torch.from_numpy(np.load(f"{folder}/{name}_weight.npy")))
            conv.bias.copy_(torch.from_numpy(np.load(f"{folder}/{name}_bias.npy")))
        net.logits.weight.copy_(torch.from_numpy(np.load(f"{folder}/logits_weight.npy")))
        net.logits.bias.copy_(torch.from_numpy(np.load(f"{folder}/logits_bias.npy")))
    return net.eval()
