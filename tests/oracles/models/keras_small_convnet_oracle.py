#!/usr/bin/env python3
"""Golden outputs of Keras for the small_convnet backend.

Same interpreter as keras_applications_oracle.py. Writes to tests/fixtures/models/:
  keras_dlwp_cats_vs_dogs.json        outputs of the book's cats-vs-dogs convnet
                                      (configs/models/dlwp_cats_vs_dogs.yaml) with
                                      closed-form weights (see common.py);
  keras_dlwp_cats_vs_dogs_h5_layout.json   the legacy .h5 structure Keras writes for it;
  keras_tiny_sequential.h5            a small Sequential model saved whole by Keras'
                                      legacy writer (model.save to .h5: model_weights
                                      group, Keras auto layer names);
  keras_tiny_sequential.json          its outputs for the formula input.
"""
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dump, h5_layout, input_pixels, set_formula_weights, summarize, unit  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "models")


def probe(model, x, names):
    m = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    return {n: summarize(np.asarray(o)) for n, o in zip(names, m(x, training=False))}


def book():
    # Auto names are given explicitly in Keras-1 style so that both sides agree.
    model = keras.Sequential([
        keras.Input((150, 150, 3)),
        layers.Conv2D(32, 3, activation="relu", name="conv2d_1"),
        layers.MaxPooling2D(2, name="max_pooling2d_1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2d_2"),
        layers.MaxPooling2D(2, name="max_pooling2d_2"),
        layers.Conv2D(128, 3, activation="relu", name="conv2d_3"),
        layers.MaxPooling2D(2, name="max_pooling2d_3"),
        layers.Conv2D(128, 3, activation="relu", name="conv2d_4"),
        layers.MaxPooling2D(2, name="max_pooling2d_4"),
        layers.Flatten(name="flatten_1"),
        layers.Dropout(0.5, name="dropout_1"),
        layers.Dense(512, activation="relu", name="dense_1"),
        layers.Dense(1, name="dense_2"),  # logits; the book applies a sigmoid
    ])
    count = set_formula_weights(model)
    x = input_pixels(150, 150) / 255.0
    record = {"model": "small_convnet", "variant": "dlwp_cats_vs_dogs", "keras_version": keras.__version__,
              "input": {"height": 150, "width": 150}, "weight_tensors": count, "params": int(model.count_params()),
              "layers": probe(model, x, ["conv2d_1", "max_pooling2d_2", "conv2d_4", "flatten_1", "dense_1", "dense_2"])}
    dump(os.path.join(OUT, "keras_dlwp_cats_vs_dogs.json"), record)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.h5")
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
        dump(os.path.join(OUT, "keras_dlwp_cats_vs_dogs_h5_layout.json"), h5_layout(path))
    print("book params", model.count_params())


def tiny():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same", strides=2, activation="relu"),
        layers.BatchNormalization(),
        layers.AveragePooling2D(2, padding="same"),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(16, activation="tanh"),
        layers.Dense(3, activation="softmax"),
    ])
    # Non-trivial BatchNorm statistics (random init has mean 0, variance 1).
    bn = [l for l in model.layers if isinstance(l, layers.BatchNormalization)][0]
    g, b, m, v = bn.get_weights()
    bn.set_weights([g + 0.1 * np.arange(16, dtype=np.float32), b - 0.05, m + 0.2, v * 1.5])
    path = os.path.join(OUT, "keras_tiny_sequential.h5")
    legacy_h5_format.save_model_to_hdf5(model, path)
    x = input_pixels(32, 32) / 255.0
    names = [l.name for l in model.layers]
    record = {"model": "small_convnet", "variant": "tiny_sequential", "keras_version": keras.__version__,
              "input": {"height": 32, "width": 32}, "keras_layer_names": names, "params": int(model.count_params()),
              "layers": probe(model, x, names[:-1])}
    # The last Dense's logits: rebuild it without the softmax.
    last = model.layers[-1]
    pre = keras.Model(model.inputs, model.layers[-2].output)(x, training=False)
    logits = np.asarray(pre) @ last.get_weights()[0] + last.get_weights()[1]
    record["layers"][names[-1]] = summarize(logits)
    dump(os.path.join(OUT, "keras_tiny_sequential.json"), record)
    print("tiny", names, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    book()
    tiny()
