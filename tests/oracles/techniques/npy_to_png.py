#!/usr/bin/env python3
"""By-hand helper: turns the uint8 {H, W, C} .npy files that `technique_bench --dump DIR`
writes into PNG files beside them (and a PNG photo into a float {3, H, W} .npy for it).

    npy_to_png.py DIR            # every *.npy image in DIR -> *.png
    npy_to_png.py --photo IN.png OUT.npy
"""
import glob
import sys

import numpy as np
from PIL import Image

if sys.argv[1] == "--photo":
    rgb = np.asarray(Image.open(sys.argv[2]).convert("RGB"), np.float32)
    np.save(sys.argv[3], np.ascontiguousarray(rgb.transpose(2, 0, 1)))
    sys.exit(0)
for path in sorted(glob.glob(sys.argv[1] + "/*.npy")):
    a = np.load(path)
    if a.dtype != np.uint8 or a.ndim != 3:
        continue
    Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a).save(path[:-4] + ".png")
