#!/usr/bin/env python3
"""Golden fixtures for the SDK image helpers (tests/fixtures/techniques/image/),
computed independently with numpy, matplotlib, OpenCV and Pillow.

Interpreter: the same venv as make_technique_fixtures.py. CI never runs this.
"""
import os

import cv2
import numpy as np
from matplotlib import colormaps
from PIL import Image

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../fixtures/techniques/image")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(3)


def save(name, array):
    np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(array))


# standardize: the book's per-channel recipe; a constant channel shows the offset.
maps = rng.normal(3, 2, (5, 6, 7)).astype(np.float32)
maps[2] = 1.5                                # constant channel
maps[4] *= 1e-3                              # small but not constant
expected = []
for ch in maps.astype(np.float64):
    if ch.max() == ch.min():
        expected.append(np.full_like(ch, 128.0))
        continue
    ch = (ch - ch.mean()) / ch.std() * 64 + 128
    expected.append(np.clip(ch, 0, 255))
save("standardize_in", maps)
save("standardize_out", np.array(expected, np.float32))

# deprocess_pattern: the book (std 0.1) and keras.io (std 0.15, crop 3) recipes.
pattern = rng.normal(20, 30, (3, 20, 24))


def deprocess(x, std, crop):
    x = x.copy().transpose(1, 2, 0)
    x -= x.mean()
    x /= x.std() + 1e-5
    x *= std
    if crop:
        x = x[crop:-crop, crop:-crop, :]
    x += 0.5
    x = np.clip(x, 0, 1) * 255
    return np.clip(x, 0, 255).astype("uint8")


save("deprocess_in", pattern)
save("deprocess_book", deprocess(pattern, 0.1, 0))
save("deprocess_kerasio", deprocess(pattern, 0.15, 3))

# colormaps: matplotlib renders bytes=True; the book quantises uint8(255 * h) for cv2.
unit = np.concatenate([np.linspace(0, 1, 257), rng.random(500), [0.0, 1.0, 0.5, 1 / 256, 255 / 256]]).astype(np.float32)
save("colormap_in", unit)
for name in ["viridis", "magma", "inferno"]:
    save(f"colormap_{name}", colormaps[name](unit.astype(np.float64), bytes=True)[:, :3])
jet = cv2.applyColorMap(np.uint8(255 * unit).reshape(-1, 1), cv2.COLORMAP_JET).reshape(-1, 3)[:, ::-1]
save("colormap_jet", jet)

# tile: 10 cells, 4 columns, margin 2, background 7 -> the last row holds 2 cells.
stack = rng.integers(0, 256, (10, 4, 5, 3), dtype=np.uint8)
cols, margin, bg = 4, 2, 7
rows = -(-len(stack) // cols)
grid = np.full((rows * 4 + (rows - 1) * margin, cols * 5 + (cols - 1) * margin, 3), bg, np.uint8)
for i, cell in enumerate(stack):
    r, c = divmod(i, cols)
    grid[r * (4 + margin):r * (4 + margin) + 4, c * (5 + margin):c * (5 + margin) + 5] = cell
save("tile_in", stack)
save("tile_out", grid)

# resize: OpenCV INTER_LINEAR on float pictures (up and down), Pillow NEAREST on uint8.
small = rng.random((7, 9, 3)).astype(np.float32)
save("resize_in", small)
save("resize_up", cv2.resize(small, (20, 16), interpolation=cv2.INTER_LINEAR))
save("resize_down", cv2.resize(small, (4, 3), interpolation=cv2.INTER_LINEAR))
heat = rng.random((14, 14)).astype(np.float32)
save("resize_heat_in", heat)
save("resize_heat_out", cv2.resize(heat, (61, 40)))
photo = rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)
save("nearest_in", photo)
save("nearest_out", np.asarray(Image.fromarray(photo).resize((32, 32), Image.NEAREST)))
save("nearest_down", np.asarray(Image.fromarray(photo).resize((17, 11), Image.NEAREST)))

# overlay: the book's heatmap * 0.4 + img, written by OpenCV (round half to even, saturate).
img = rng.integers(0, 256, (12, 13, 3), dtype=np.uint8)
h = rng.random((12, 13)).astype(np.float32)
colored = cv2.applyColorMap(np.uint8(255 * h), cv2.COLORMAP_JET)[:, :, ::-1]
save("overlay_photo", img)
save("overlay_heat", h)
save("overlay_out", np.clip(np.rint(colored * 0.4 + img), 0, 255).astype(np.uint8))
print("wrote", sorted(os.listdir(out)))
