"""Golden fixtures of feature_vis from torch-lucent 0.1.8 (and kornia 0.4.1 beside it).

Run with ~/.cache/vizrun/venv-torch/bin/python (torch 2.15, lucent 0.1.8):
    python tests/oracles/techniques/make_feature_vis_fixtures.py
Writes tests/fixtures/techniques/feature_vis/*.npy. lucent's transforms draw with
np.random.choice; to feed vizrun the same draws, the script replaces np.random.choice
by a function returning the chosen value and calls lucent's own transform functions.
L1, L2, squared L2 and total variation are not in lucent: they follow lucid's
objectives (tf.image.total_variation etc.), written here in torch.
"""
import os
import numpy as np
import torch
import torch.nn.functional as F

from lucent.optvis import objectives, transform
from lucent.optvis.param import spatial, color

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "techniques", "feature_vis")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)
np.random.seed(0)


def save(name, t):
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    np.save(os.path.join(OUT, name + ".npy"), a)


# --- Fourier parameterisation: the image lucent makes from a given spectrum.
for h, w in [(8, 8), (9, 7)]:
    params, image_f = spatial.fft_image((2, 3, h, w), sd=0.5)
    with torch.no_grad():
        params[0].copy_(torch.randn_like(params[0]))
    save(f"fft_spectrum_{h}x{w}", params[0])
    save(f"fft_image_{h}x{w}", image_f())

# --- Colour decorrelation and to_valid_rgb (sigmoid).
raw = torch.randn(2, 3, 5, 6)
save("color_raw", raw)
save("color_decorrelated", color._linear_decorrelate_color(raw))
save("color_valid_rgb", color.to_valid_rgb(lambda: raw, decorrelate=True)())

# --- Transforms, one by one, with given draws.
x = torch.rand(2, 3, 20, 24)
save("transform_input", x)
real_choice = np.random.choice


def with_draw(values, fn, t):
    it = iter(values)
    np.random.choice = lambda *a, **k: next(it)
    try:
        return fn(t)
    finally:
        np.random.choice = real_choice


save("pad_12", transform.pad(12, mode="constant", constant_value=0.5)(x))
save("pad_reflect_3", transform.pad(3, mode="reflect")(x))
for dx, dy in [(3, 5), (0, 7)]:
    save(f"jitter_{dx}_{dy}", with_draw([dx, dy], transform.jitter(8), x))
for s in [0.9, 1.1, 1.04]:
    save(f"scale_{s}", with_draw([1 + round((s - 1) * 50) / 50.0], transform.random_scale([s]), x))
for a in [-10, 7, 0]:
    save(f"rotate_{a}", with_draw([a], transform.random_rotate([a]), x))
# The whole standard chain: draws jitter8 (5, 2), scale 1.08, angle -6, jitter4 (1, 3).
chain = transform.compose(transform.standard_transforms)
save("standard_chain", with_draw([5, 2, 1 + 4 / 50.0, -6, 1, 3], chain, x))

# --- Objectives: values and gradients with respect to the activations.
acts = torch.randn(3, 6, 5, 7, requires_grad=True)
logits = torch.randn(3, 10, requires_grad=True)
picture = torch.rand(3, 3, 9, 8, requires_grad=True)
save("obj_acts", acts)
save("obj_logits", logits)
save("obj_picture", picture)
direction = torch.randn(6)
save("obj_direction", direction)


def T_of(t):
    return lambda name: {"layer": t, "logits": t, "input": t}[name]


def record(name, value, wrt):
    g, = torch.autograd.grad(value, wrt)
    save(f"obj_{name}_value", value.reshape(1))
    save(f"obj_{name}_grad", g)


# lucent's losses (to minimise); vizrun's terms are their negation for these three.
record("channel", objectives.channel("layer", 4)(T_of(acts)), acts)
record("channel_batch1", objectives.channel("layer", 2, batch=1)(T_of(acts)), acts)
record("neuron", objectives.neuron("layer", 3)(T_of(acts)), acts)
record("neuron_xy", objectives.neuron("layer", 1, x=2, y=4)(T_of(acts)), acts)
record("direction", objectives.direction("layer", direction)(T_of(acts)), acts)
record("class_logit", objectives.channel("logits", 7)(T_of(logits)), logits)
# lucid's sign (to maximise), as vizrun's:
record("diversity", objectives.diversity("layer")(T_of(acts)), acts)
record("blur", objectives.blur_input_each_step()(T_of(picture)), picture)
record("layer", (acts ** 2).mean(), acts)  # lucid's deepdream
record("class_probability", torch.softmax(logits, 1)[:, 7].mean(), logits)
record("total_variation", (picture[:, :, 1:, :] - picture[:, :, :-1, :]).abs().sum()
       + (picture[:, :, :, 1:] - picture[:, :, :, :-1]).abs().sum(), picture)
record("l1", (picture - 0.5).abs().sum(), picture)
record("l2", torch.sqrt(1e-6 + ((picture - 0.5) ** 2).sum()), picture)
record("squared_l2", ((picture - 0.5) ** 2).sum(), picture)
print("fixtures written to", os.path.normpath(OUT))
