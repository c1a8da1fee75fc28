#!/usr/bin/env python3
"""Trains the tiny test convnet and writes its weights to tests/fixtures/techniques/tiny_net/.

Interpreter: Debian's python3-torch 1.13 (/usr/bin/python3 or a venv made from it with
--system-site-packages). CI never runs this; it regenerates a committed fixture.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from tiny_net import save_weights, train  # noqa: E402

torch.set_num_threads(1)
out = os.path.join(os.path.dirname(__file__), "../../fixtures/techniques/tiny_net")
os.makedirs(out, exist_ok=True)
net, acc = train()
print(f"held-out accuracy on synthetic pictures: {acc:.3f}")
save_weights(net, out)
