#!/usr/bin/env python3
"""Full-model .h5 files as Keras 2 (tf.keras) writes them, and what Keras 2 computes
with them, for the keras model backend (plugins/models/keras).

Keras 2 is what the book's readers and most saved models of the last years used:
`model.save('cats_and_dogs_small_2.h5')`. Its files differ from Keras 3's legacy .h5
in the architecture JSON (inbound_nodes as nested lists, batch_input_shape, LeakyReLU's
`alpha`, Keras 2's own hard_sigmoid) and in weight names (`conv2d/kernel:0`), so they
are generated with the real Keras 2, PyPI's tf_keras:

    python3 -m venv venv-tf && venv-tf/bin/pip install tensorflow-cpu tf_keras h5py
    venv-tf/bin/python tests/oracles/models/tf_keras2_oracle.py

Models (seeded random weights, every bias and BatchNorm statistic moved off its initial
value, reduced widths so the files stay small):
- keras2_cats_vs_dogs: the book's Sequential convnet (section 5.2) at 64x64, widths / 4;
  the model takes x / 255;
- keras2_finetune: the book's fine-tuning shape (section 5.3): a VGG16-like functional
  convolutional base called inside a Sequential, then Flatten, Dense relu, Dense sigmoid;
- keras2_mobilenet_like: functional; ZeroPadding2D, ReLU(max_value=6), DepthwiseConv2D,
  BatchNormalization, residual Add, a squeeze-excitation Multiply with Keras 2's
  hard_sigmoid, SeparableConv2D, LeakyReLU(alpha), Concatenate, GlobalAveragePooling2D,
  Dense softmax.

For each model the fixture records, at several layers, the layer's output and the
gradient with respect to the model input of the mean of channel 0 of that output
(GradientTape), the logits (the last Dense before its softmax / sigmoid) and, for two
models, Grad-CAM of the top class's logit at a late layer (before normalising).
Input: the formula pixels of common.py, [0, 255]. Writes
tests/fixtures/models/keras/keras2_*.h5 (and two tf_keras .keras zips) and tests/fixtures/models/keras_keras2_<model>.json.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dump, input_pixels, summarize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "models")


def cats_vs_dogs():
    return keras.Sequential([
        layers.Conv2D(8, (3, 3), activation="relu", input_shape=(64, 64, 3)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(16, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(128, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ], name="cats_vs_dogs")


def vgg_like_base():
    x_in = layers.Input((48, 48, 3), name="input_1")
    x = x_in
    for block, (width, convs) in enumerate([(8, 2), (16, 2), (24, 2)], start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(width, 3, padding="same", activation="relu", name="block%d_conv%d" % (block, i))(x)
        x = layers.MaxPooling2D(2, strides=2, name="block%d_pool" % block)(x)
    return keras.Model(x_in, x, name="vgg16")


def finetune():
    base = vgg_like_base()
    return keras.Sequential([
        base,
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ], name="finetune")


def mobilenet_like():
    x_in = layers.Input((40, 40, 3), name="image")
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="stem_pad")(x_in)
    x = layers.Conv2D(8, 3, strides=2, padding="valid", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    y = layers.Conv2D(16, 1, use_bias=False, name="expand")(x)
    y = layers.BatchNormalization(name="expand_bn")(y)
    y = layers.ReLU(6.0, name="expand_relu")(y)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="depthwise")(y)
    y = layers.BatchNormalization(name="depthwise_bn")(y)
    y = layers.ReLU(6.0, name="depthwise_relu")(y)
    y = layers.Conv2D(8, 1, use_bias=False, name="project")(y)
    y = layers.BatchNormalization(name="project_bn")(y)
    x = layers.Add(name="residual")([x, y])
    s = layers.GlobalAveragePooling2D(name="se_pool")(x)
    s = layers.Reshape((1, 1, 8), name="se_reshape")(s)
    s = layers.Conv2D(8, 1, activation="hard_sigmoid", name="se_gate")(s)
    x = layers.Multiply(name="se_scale")([x, s])
    a = layers.SeparableConv2D(12, 3, padding="same", depth_multiplier=2, name="sep_conv")(x)
    a = layers.LeakyReLU(alpha=0.2, name="leaky")(a)
    b = layers.DepthwiseConv2D(3, strides=1, padding="same", depth_multiplier=2, name="depthwise2")(x)
    x = layers.Concatenate(name="merge")([a, b])
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="head_conv")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    x = layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(x_in, x, name="mobilenet_like")


def randomize(model, rng):
    """Kernels keep Keras' seeded initialisation; everything else moves off 0 / 1."""
    for w in model.weights:
        name = w.name.split("/")[-1].split(":")[0]  # Keras 2 names: "stem_bn/gamma:0"
        shape = tuple(w.shape)
        if name == "moving_variance":
            w.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif name == "gamma":
            w.assign(rng.uniform(0.8, 1.2, shape).astype("float32"))
        elif name in ("beta", "bias", "moving_mean"):
            w.assign(rng.normal(0.0, 0.1, shape).astype("float32"))


def outer_output(model, name):
    """The output of layer `name` as called by `model` (a nested model's own graph is
    its node 0; the outer model's call is its last)."""
    return model.get_layer(name).get_output_at(-1)


def tap_function(model, tap):
    """A function from the model input to the output of `tap` ("outer/inner" for a
    layer of a nested model)."""
    if "/" not in tap:
        return keras.Model(model.inputs, outer_output(model, tap))
    outer, inner = tap.split("/")
    sub = model.get_layer(outer)
    probe = keras.Model(sub.inputs, sub.get_layer(inner).output)
    if model.layers[0] is sub:  # the nested model takes the outer model's input as it is
        return probe
    pre = keras.Model(model.inputs, sub.input)
    return lambda t: probe(pre(t))


def grad_cam(model, x, layer, dense):
    """Grad-CAM with GradientTape: the top class's logit, its gradient at `layer`
    averaged over positions, ReLU of the weighted channel sum (before normalising)."""
    probe = keras.Model(model.inputs, [outer_output(model, layer), dense.input])
    with tf.GradientTape() as tape:
        features, before = probe(x)
        logits = tf.matmul(before, dense.kernel) + dense.bias
        top = int(tf.argmax(logits[0]))
        score = logits[:, top]
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
    return {"layer": layer, "class": top, "raw": summarize(np.asarray(cam), samples=300)}


def record(name, model, taps, input_scale, logits_from, gradcam_layer=None, formats=("h5",)):
    rng = np.random.default_rng(sum(name.encode()))
    randomize(model, rng)
    h, w = model.input_shape[1], model.input_shape[2]
    x = tf.constant(input_pixels(h, w) * input_scale)
    out = {"model": name, "keras_version": keras.__version__, "tensorflow_version": tf.__version__,
           "input": [3, h, w], "input_scale": input_scale, "taps": {}}
    for tap in taps:
        f = tap_function(model, tap)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
            target = tf.reduce_mean(y[..., 0])
        grad = tape.gradient(target, x)
        out["taps"][tap] = {"output": summarize(np.asarray(y), samples=300),
                            "grad_channel0_mean": summarize(np.asarray(grad), samples=300)}
    dense = model.get_layer(logits_from)
    before = keras.Model(model.inputs, dense.input)(x)
    out["logits"] = summarize(np.asarray(tf.matmul(before, dense.kernel) + dense.bias), samples=300)
    out["predictions"] = summarize(np.asarray(model(x)), samples=300)
    if gradcam_layer:
        out["gradcam"] = grad_cam(model, x, gradcam_layer, dense)
    os.makedirs(os.path.join(OUT, "keras"), exist_ok=True)
    for ext in formats:
        # .h5: Keras 2's full-model HDF5 (model_config + model_weights); .keras: tf_keras's zip
        path = os.path.join(OUT, "keras", name + "." + ext)
        model.save(path)
        print(path, os.path.getsize(path), "bytes")
    dump(os.path.join(OUT, "keras_%s.json" % name), out)


def fresh(build):
    """A model with the default layer names Keras gives a model built first in a session."""
    keras.backend.clear_session()
    return build()


def main():
    keras.utils.set_random_seed(2)
    record("keras2_cats_vs_dogs", fresh(cats_vs_dogs),
           ["conv2d", "max_pooling2d", "conv2d_2", "conv2d_3", "flatten", "dense"],
           1.0 / 255.0, "dense_1", gradcam_layer="conv2d_3")
    record("keras2_finetune", fresh(finetune),
           ["vgg16/block1_conv1", "vgg16/block2_pool", "vgg16/block3_conv2", "vgg16", "flatten", "dense"],
           1.0 / 255.0, "dense_1", formats=("h5", "keras"))
    record("keras2_mobilenet_like", fresh(mobilenet_like),
           ["stem_pad", "stem_relu", "expand_relu", "depthwise", "residual", "se_gate", "se_scale", "sep_conv",
            "leaky", "depthwise2", "merge", "head_conv", "pool", "predictions"],
           1.0, "predictions", gradcam_layer="head_conv", formats=("h5", "keras"))


if __name__ == "__main__":
    main()
