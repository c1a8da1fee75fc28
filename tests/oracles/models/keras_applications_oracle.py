#!/usr/bin/env python3
"""Golden outputs of Keras' own VGG16 and ResNet50V2 for closed-form weights.

Interpreter: a venv with PyPI tensorflow-cpu and keras (3.x) and h5py, e.g.
    python3 -m venv /tmp/models-oracle-venv
    /tmp/models-oracle-venv/bin/pip install tensorflow-cpu keras h5py numpy
    /tmp/models-oracle-venv/bin/python tests/oracles/models/keras_applications_oracle.py

Writes to tests/fixtures/models/:
  keras_<model>_<variant>.json  sampled outputs of several layers and the logits;
  keras_<model>_h5_layout.json  the structure of the legacy .h5 that Keras' own
                                 writer produces for that model (names, string kinds,
                                 shapes), which the C++ tests compare with the files
                                 they generate from the same formula.
"""
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dump, h5_layout, input_pixels, set_formula_weights, summarize  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "models")


def run(name, model, preprocess, size, layers, tag, layout=False):
    count = set_formula_weights(model)
    pixels = input_pixels(size, size)
    x = preprocess(pixels.copy())
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in layers])
    outs = probe(x, training=False)
    record = {
        "model": name,
        "variant": tag,
        "keras_version": keras.__version__,
        "input": {"height": size, "width": size},
        "weight_tensors": count,
        "params": int(model.count_params()),
        "layers": {n: summarize(np.asarray(o)) for n, o in zip(layers, outs)},
    }
    dump(os.path.join(OUT, "keras_%s_%s.json" % (name, tag)), record)
    if layout:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "w.h5")
            with h5py.File(path, "w") as f:
                legacy_h5_format.save_weights_to_hdf5_group(f, model)
            dump(os.path.join(OUT, "keras_%s_h5_layout.json" % name), h5_layout(path))
    print(name, tag, "params", model.count_params(), "tensors", count)


def main():
    os.makedirs(OUT, exist_ok=True)
    vgg = keras.applications.VGG16(weights=None, include_top=True, classifier_activation=None)
    run("vgg16", vgg, keras.applications.vgg16.preprocess_input, 224,
        ["block1_conv1", "block3_conv3", "block5_conv3", "block5_pool", "fc1", "fc2", "predictions"], "top", True)
    res = keras.applications.ResNet50V2(weights=None, include_top=True, classifier_activation=None)
    run("resnet50v2", res, keras.applications.resnet_v2.preprocess_input, 224,
        ["conv1_conv", "pool1_pool", "conv2_block1_out", "conv2_block3_out", "conv3_block4_out",
         "conv4_block6_out", "post_relu", "avg_pool", "predictions"], "top", True)
    res180 = keras.applications.ResNet50V2(weights=None, include_top=False, input_shape=(180, 180, 3))
    run("resnet50v2", res180, keras.applications.resnet_v2.preprocess_input, 180,
        ["conv3_block4_out", "post_relu"], "notop180")


if __name__ == "__main__":
    main()
