"""lucent's render_vis timed: the Fourier + decorrelated + standard_transforms recipe on
torchvision's VGG16 (random weights: the timing does not depend on them), one channel of
features_22 (the ReLU after conv4_3 = Keras's block4_conv3), BATCH pictures of SIZE px
(upsampled to 224 by render_vis), STEPS Adam steps. Prints one JSON line.
  python bench/py/lucent_render.py --size 128 --steps 16 --batch 4 --channel 0
"""
import argparse, json, time, warnings
import torch, torchvision
from lucent.optvis import render, param, objectives

warnings.filterwarnings("ignore")
ap = argparse.ArgumentParser()
ap.add_argument("--size", type=int, default=128)
ap.add_argument("--steps", type=int, default=16)
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--channel", type=int, default=0)
ap.add_argument("--layer", default="features_22")
a = ap.parse_args()
torch.manual_seed(0)
model = torchvision.models.vgg16(weights=None).eval()
for p in model.parameters():
    p.requires_grad_(False)
t0 = time.perf_counter()
render.render_vis(model, objectives.channel(a.layer, a.channel),
                  param_f=lambda: param.image(a.size, batch=a.batch, fft=True, decorrelate=True),
                  thresholds=(a.steps,), show_image=False, progress=False)
s = time.perf_counter() - t0
print(json.dumps({"impl": "lucent", "torch": torch.__version__, "threads": torch.get_num_threads(),
                  "size": a.size, "batch": a.batch, "steps": a.steps, "seconds": s,
                  "image_steps_per_second": a.batch * a.steps / s}))
