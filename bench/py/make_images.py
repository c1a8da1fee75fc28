"""Writes N random 224x224 RGB PNGs (smooth noise, seeded) into a folder."""
import sys
import numpy as np
from PIL import Image
out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for i in range(n):
    small = rng.integers(0, 256, (14, 14, 3), dtype=np.uint8)
    Image.fromarray(small).resize((224, 224), Image.BILINEAR).save(f"{out}/img_{i:04d}.png")
