#!/usr/bin/env python3
"""Prints the 256-entry uint8 RGB colormap tables compiled into framework/sdk/image.cpp.

matplotlib maps (viridis, magma, inferno) are taken as matplotlib renders them with
`bytes=True` (float table * 255, truncated); "jet" is OpenCV's COLORMAP_JET applied
to 0..255 (BGR converted to RGB). Run with an interpreter that has matplotlib and
opencv-python-headless, e.g. a venv made from /usr/bin/python3 -m venv --system-site-packages.
"""
import cv2
import numpy as np
from matplotlib import colormaps


def table(name):
    if name == "jet":
        bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1), cv2.COLORMAP_JET)
        return bgr.reshape(256, 3)[:, ::-1]
    cmap = colormaps[name]
    assert cmap.N == 256
    return cmap(np.arange(256), bytes=True)[:, :3]


for name in ["viridis", "magma", "inferno", "jet"]:
    values = table(name).reshape(-1)
    print(f"constexpr std::uint8_t k{name.capitalize()}[256 * 3] = {{")
    for row in range(0, 768, 24):
        print("    " + ", ".join(str(int(v)) for v in values[row:row + 24]) + ",")
    print("};")
