"""Shared by the model oracles: the closed-form weights and inputs that the C++
tests regenerate bit for bit, and the compact fixture format.

Formula (also in tests/models/formula.h): for the p-th weight tensor of a model
(p counts tensors in Keras order: layers in model.layers order, then each layer's
weights in get_weights() order) and element i of it in Keras layout, row-major,

    u = ((i * 2654435761 + (p + 1) * 97531) mod 2**32) / 2**32        (exact)

kernel:          (u - 0.5) * 2 * sqrt(3) * sqrt(2 / fan_in)   (He-uniform spread)
bias, beta, moving_mean: (u - 0.5) * 0.2
gamma:           1 + (u - 0.5) * 0.2
moving_variance: 1 + u * 0.5
computed in float64, then rounded to float32.
Input pixels (NHWC, [0, 255]): floor(u * 256) with p = 1000003.
"""
import json
import math

import numpy as np

INPUT_P = 1000003


def unit(p, n):
    i = np.arange(n, dtype=np.uint64)
    v = (i * np.uint64(2654435761) + np.uint64((p + 1) * 97531)) & np.uint64(0xFFFFFFFF)
    return v.astype(np.float64) / 4294967296.0


def formula(p, shape, role):
    n = int(np.prod(shape)) if len(shape) else 1
    u = unit(p, n)
    if role == "kernel":
        fan_in = n // shape[-1]
        v = (u - 0.5) * 2.0 * math.sqrt(3.0) * math.sqrt(2.0 / fan_in)
    elif role in ("bias", "beta", "moving_mean"):
        v = (u - 0.5) * 0.2
    elif role == "gamma":
        v = 1.0 + (u - 0.5) * 0.2
    elif role == "moving_variance":
        v = 1.0 + u * 0.5
    else:
        raise ValueError(role)
    return v.astype(np.float32).reshape(shape)


def roles_of(layer):
    kind = type(layer).__name__
    if kind == "BatchNormalization":
        return ["gamma", "beta", "moving_mean", "moving_variance"]
    return ["kernel", "bias"][: len(layer.get_weights())]


def set_formula_weights(model):
    p = 0
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = []
        for w, role in zip(ws, roles_of(layer)):
            new.append(formula(p, w.shape, role))
            p += 1
        layer.set_weights(new)
    return p


def input_pixels(h, w, c=3):
    return np.floor(unit(INPUT_P, h * w * c) * 256.0).astype(np.float32).reshape(1, h, w, c)


def summarize(nhwc_or_flat, samples=1000):
    a = np.asarray(nhwc_or_flat, dtype=np.float64)
    if a.ndim == 4:
        a = a.transpose(0, 3, 1, 2)  # NCHW, the LibTorch order
    shape = list(a.shape[1:])
    flat = a.reshape(-1)
    stride = max(1, flat.size // samples)
    picked = flat[::stride][:samples]
    return {
        "shape": shape,
        "stride": stride,
        "values": [float("%.8g" % v) for v in picked],
        "mean": float(flat.mean()),
        "absmax": float(np.abs(flat).max()),
    }


def h5_layout(path):
    """The structure Keras wrote: attribute string kinds, names, dataset shapes."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        g = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        def kind(attr_holder, name):
            t = attr_holder.attrs.get_id(name).get_type()
            if isinstance(t, h5py.h5t.TypeStringID):
                return "vlen" if t.is_variable_str() else "fixed"
            return str(t.get_class())
        out["layer_names_kind"] = kind(g, "layer_names")
        out["root_attrs"] = sorted(g.attrs.keys())
        layers = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["layer_names"]]
        out["layer_names"] = layers
        out["layers"] = {}
        for name in layers:
            lg = g[name]
            wn = [n.decode() if isinstance(n, bytes) else n for n in lg.attrs["weight_names"]]
            entry = {"weight_names": wn, "shapes": [list(lg[w].shape) for w in wn]}
            if wn:
                entry["weight_names_kind"] = kind(lg, "weight_names")
                entry["dtypes"] = sorted({str(lg[w].dtype) for w in wn})
            else:
                entry["empty_attr_kind"] = kind(lg, "weight_names")
            out["layers"][name] = entry
    return out


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
