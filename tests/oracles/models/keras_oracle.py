#!/usr/bin/env python3
"""Keras models saved as users save them, and what Keras computes with them, for the
keras model backend (plugins/models/keras).

Interpreter: Keras 3 on TensorFlow from PyPI:
    python3 -m venv /work/venv-tf && /work/venv-tf/bin/pip install tensorflow-cpu
    /work/venv-tf/bin/python tests/oracles/models/keras_oracle.py

Models (seeded random weights, every bias and BatchNorm statistic moved away from
its initial value, reduced widths so the files stay small):
- mobilenet_like: functional; Rescaling, MobileNetV2 inverted residual blocks
  (1x1 expand, DepthwiseConv2D, 1x1 project, residual Add, ReLU(max_value=6)),
  ZeroPadding2D before a stride-2 valid depthwise convolution, a squeeze-excitation
  Multiply, SeparableConv2D, dilated and grouped Conv2D, Cropping2D, LeakyReLU, ELU,
  swish / gelu / hard_sigmoid activations, global average pooling, Dense softmax;
- concat_net: functional, DenseNet/Inception-like; Normalization with mean and
  variance, Concatenate of growing feature maps and of 1x1 / 3x3 / 5x5 / pooled
  branches, max and average pooling with same padding, Subtract, Maximum, Average,
  GlobalMaxPooling2D, Dense, a separate Softmax layer;
- cats_vs_dogs: the book's Sequential convnet (Conv2D/MaxPooling2D x4, Flatten,
  Dropout, Dense relu, Dense sigmoid) at 64x64 with reduced widths; the model takes
  x / 255 (the book rescales in its data generator);
- extras: Resizing (bilinear, nearest), PReLU (shared and per-pixel slopes),
  LayerNormalization, Conv2DTranspose (same, valid with a window smaller than the
  stride, no bias), Reshape of a vector to a map;
- nested: a Sequential feature extractor called inside a functional model.
Each is saved with model.save() as .keras; cats_vs_dogs and nested also as legacy .h5,
and cats_vs_dogs's weights alone with save_weights() in Keras 3's .weights.h5 layout
(for the small_convnet backend, which declares the architecture itself).

For each model the fixture records, at several layers, the layer's output and the
gradient with respect to the model input of the mean of channel 0 of that output
(GradientTape), the logits (the last Dense before its softmax / sigmoid) and, for two
models, Grad-CAM of the top class's logit at a late layer (before normalising).
Input: the formula pixels of common.py, [0, 255]. Writes
tests/fixtures/models/keras/*.keras, *.h5 and tests/fixtures/models/keras_<model>.json.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import dump, input_pixels, summarize  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "models")


def bn(x, name):
    return layers.BatchNormalization(name=name)(x)


def inverted_residual(x, expand, out, stride, name):
    c = x.shape[-1]
    y = layers.Conv2D(expand, 1, use_bias=False, name=name + "_expand")(x)
    y = bn(y, name + "_expand_bn")
    y = layers.ReLU(6.0, name=name + "_expand_relu")(y)
    if stride == 2:
        y = layers.ZeroPadding2D(((0, 1), (0, 1)), name=name + "_pad")(y)
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
                               name=name + "_depthwise")(y)
    y = bn(y, name + "_depthwise_bn")
    y = layers.ReLU(6.0, name=name + "_depthwise_relu")(y)
    y = layers.Conv2D(out, 1, use_bias=False, name=name + "_project")(y)
    y = bn(y, name + "_project_bn")
    if stride == 1 and c == out:
        y = layers.Add(name=name + "_add")([x, y])
    return y


def mobilenet_like():
    x_in = layers.Input((48, 48, 3), name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1, name="rescale")(x_in)
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = bn(x, "stem_bn")
    x = layers.ReLU(6.0, name="stem_relu")(x)
    x = inverted_residual(x, 16, 8, 1, "block1")
    x = inverted_residual(x, 24, 12, 2, "block2")
    x = inverted_residual(x, 24, 12, 1, "block3")
    # Squeeze-excitation: pooled channels scale the feature map.
    s = layers.GlobalAveragePooling2D(keepdims=True, name="se_pool")(x)
    s = layers.Conv2D(4, 1, activation="relu", name="se_reduce")(s)
    s = layers.Conv2D(12, 1, activation="hard_sigmoid", name="se_expand")(s)
    x = layers.Multiply(name="se_scale")([x, s])
    x = layers.SeparableConv2D(16, 3, padding="same", depth_multiplier=2, activation="swish", name="sep_conv")(x)
    x = layers.Conv2D(16, 3, padding="same", dilation_rate=2, name="dilated_conv")(x)
    x = layers.LeakyReLU(negative_slope=0.1, name="leaky")(x)
    x = layers.Conv2D(16, 3, strides=(2, 1), padding="same", groups=4, activation="gelu", name="grouped_conv")(x)
    x = layers.Cropping2D(((1, 0), (1, 2)), name="crop")(x)
    x = layers.ELU(alpha=0.7, name="elu")(x)
    x = layers.Conv2D(20, 1, activation="tanh", name="head_conv")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    x = layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(x_in, x, name="mobilenet_like")


def concat_net():
    x_in = layers.Input((40, 40, 3), name="pixels")
    x = layers.Normalization(mean=[120.0, 115.0, 100.0], variance=[3600.0, 3400.0, 3900.0], name="normalize")(x_in)
    x = layers.Conv2D(8, 3, padding="same", name="conv0")(x)
    x = bn(x, "conv0_bn")
    x = layers.Activation("relu", name="conv0_relu")(x)
    for i in range(2):  # DenseNet: each layer's output is concatenated to its input
        y = bn(x, "dense%d_bn" % i)
        y = layers.Activation("relu", name="dense%d_relu" % i)(y)
        y = layers.Conv2D(4, 3, padding="same", name="dense%d_conv" % i)(y)
        x = layers.Concatenate(name="dense%d_concat" % i)([x, y])
    x = layers.AveragePooling2D(3, strides=2, padding="same", name="transition_pool")(x)
    # Inception: parallel branches, concatenated.
    b1 = layers.Conv2D(6, 1, activation="relu", name="branch1x1")(x)
    b3 = layers.Conv2D(6, 3, padding="same", activation="relu", name="branch3x3")(x)
    b5 = layers.Conv2D(6, 5, padding="same", activation="sigmoid", name="branch5x5")(x)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name="branch_pool")(x)
    bp = layers.Conv2D(6, 1, name="branch_pool_proj")(bp)
    x = layers.Concatenate(axis=-1, name="mixed")([b1, b3, b5, bp])
    d = layers.Subtract(name="diff")([b3, b1])
    m = layers.Maximum(name="max")([b5, bp, d])
    a = layers.Average(name="avg")([m, b1])
    x = layers.Concatenate(name="mixed2")([x, a])
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.GlobalMaxPooling2D(name="global_max")(x)
    x = layers.Dense(10, name="logits")(x)
    x = layers.Softmax(name="probabilities")(x)
    return keras.Model(x_in, x, name="concat_net")


def cats_vs_dogs():
    # Deep Learning with Python, 5.2 (widths 32-64-128-128 and 512 divided by 4, 64x64 input).
    return keras.Sequential([
        layers.Input((64, 64, 3)),
        layers.Conv2D(8, (3, 3), activation="relu"),
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


def nested():
    features = keras.Sequential([
        layers.Input((32, 32, 3)),
        layers.Conv2D(8, 3, padding="same", name="features_conv1"),
        layers.BatchNormalization(name="features_bn"),
        layers.Activation("relu", name="features_relu"),
        layers.MaxPooling2D(2, name="features_pool"),
        layers.Conv2D(12, 3, activation="relu", name="features_conv2"),
    ], name="features")
    x_in = layers.Input((32, 32, 3), name="photo")
    x = layers.Rescaling(1 / 255.0, name="scale")(x_in)
    x = features(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(x_in, x, name="nested")


def extras():
    x_in = layers.Input((24, 24, 3), name="small_image")
    x = layers.Rescaling(1 / 255.0, name="to_unit")(x_in)
    x = layers.Resizing(32, 32, interpolation="bilinear", name="upsize")(x)
    x = layers.Conv2D(6, 3, padding="same", name="conv")(x)
    x = layers.PReLU(shared_axes=[1, 2], name="prelu_shared")(x)
    x = layers.LayerNormalization(name="layer_norm")(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="up_same")(x)
    x = layers.Resizing(20, 20, interpolation="nearest", name="downsize")(x)
    x = layers.Conv2DTranspose(3, 1, strides=2, padding="valid", name="up_valid")(x)
    x = layers.Conv2DTranspose(3, 3, strides=1, padding="valid", use_bias=False, name="grow")(x)
    x = layers.PReLU(name="prelu_full")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(4, name="dense4")(x)
    x = layers.Reshape((2, 2, 1), name="to_map")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(2, activation="softmax", name="out")(x)
    return keras.Model(x_in, x, name="extras")


def randomize(model, rng):
    """Kernels keep Keras' seeded initialisation; everything else moves off 0 / 1."""
    for w in model.weights:
        name = w.path.split("/")[-1]
        shape = tuple(w.shape)
        if name == "moving_variance":
            w.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif name == "gamma":
            w.assign(rng.uniform(0.8, 1.2, shape).astype("float32"))
        elif name == "alpha":  # PReLU: slopes of either sign
            w.assign(rng.uniform(-0.5, 0.5, shape).astype("float32"))
        elif name in ("beta", "bias", "moving_mean"):
            w.assign(rng.normal(0.0, 0.1, shape).astype("float32"))


def layer_output(model, name):
    """The output tensor of the top-level layer called `name`."""
    # The first call's output: for a nested model, `layer.output` is its own graph's.
    return model.get_layer(name)._inbound_nodes[0].output_tensors[0]


def summarize_nhwc(a):
    return summarize(np.asarray(a), samples=300)


def grad_cam(model, x, layer, dense):
    """Grad-CAM with GradientTape: the top class's logit, its gradient at `layer`
    averaged over positions, ReLU of the weighted channel sum (before normalising)."""
    probe = keras.Model(model.inputs, [layer_output(model, layer), dense.input])
    with tf.GradientTape() as tape:
        features, before = probe(x)
        logits = tf.matmul(before, dense.kernel) + dense.bias
        top = int(tf.argmax(logits[0]))
        score = logits[:, top]
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
    return {"layer": layer, "class": top, "raw": summarize(np.asarray(cam), samples=300)}


def record(name, model, taps, input_scale, logits_from, formats, gradcam_layer=None):
    rng = np.random.default_rng(sum(name.encode()))
    randomize(model, rng)
    h, w = model.input_shape[1], model.input_shape[2]
    pixels = input_pixels(h, w)
    x = tf.constant(pixels * input_scale)
    out = {"model": name, "keras_version": keras.__version__, "tensorflow_version": tf.__version__,
           "input": [3, h, w], "input_scale": input_scale, "taps": {}}
    for tap in taps:
        if "/" in tap:  # a layer of a nested model: run the outer model up to it
            outer, inner = tap.split("/")
            sub = model.get_layer(outer)
            pre = keras.Model(model.inputs, sub.input)
            probe = keras.Model(sub.inputs, sub.get_layer(inner).output)
            f = lambda t: probe(pre(t))  # noqa: E731
        else:
            probe = keras.Model(model.inputs, layer_output(model, tap))
            f = probe
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
            target = tf.reduce_mean(y[..., 0])
        grad = tape.gradient(target, x)
        out["taps"][tap] = {"output": summarize_nhwc(y), "grad_channel0_mean": summarize_nhwc(grad)}
    # Logits: the last Dense without its softmax / sigmoid.
    dense = model.get_layer(logits_from)
    features = keras.Model(model.inputs, dense.input)(x)
    logits = tf.matmul(features, dense.kernel) + dense.bias
    out["logits"] = summarize_nhwc(logits)
    out["predictions"] = summarize_nhwc(model(x))
    if gradcam_layer:
        out["gradcam"] = grad_cam(model, x, gradcam_layer, dense)
    os.makedirs(os.path.join(OUT, "keras"), exist_ok=True)
    for ext in formats:
        path = os.path.join(OUT, "keras", name + "." + ext)
        if ext == "weights.h5":
            model.save_weights(path)  # Keras 3 layout, for the backends that build the architecture themselves
        else:
            model.save(path)
        print(path, os.path.getsize(path), "bytes")
    dump(os.path.join(OUT, "keras_%s.json" % name), out)


def main():
    keras.utils.set_random_seed(14)
    record("mobilenet_like", mobilenet_like(),
           ["stem_conv", "stem_relu", "block1_add", "block2_pad", "block2_depthwise", "block3_add", "se_scale",
            "sep_conv", "leaky", "grouped_conv", "crop", "elu", "pool", "predictions"],
           1.0, "predictions", ["keras"], gradcam_layer="head_conv")
    record("concat_net", concat_net(),
           ["normalize", "conv0_bn", "dense1_concat", "transition_pool", "branch5x5", "mixed", "diff", "max", "avg",
            "mixed2", "global_max", "logits", "probabilities"],
           1.0, "logits", ["keras"], gradcam_layer="mixed")
    record("cats_vs_dogs", cats_vs_dogs(),
           ["conv2d", "max_pooling2d", "conv2d_2", "conv2d_3", "max_pooling2d_3", "dense"],
           1.0 / 255.0, "dense_1", ["keras", "h5", "weights.h5"])
    record("extras", extras(),
           ["upsize", "prelu_shared", "layer_norm", "up_same", "downsize", "up_valid", "grow", "prelu_full", "to_map",
            "out"],
           1.0, "out", ["keras"])
    record("nested", nested(),
           ["scale", "features/features_conv1", "features/features_bn", "features/features_conv2", "features", "gap"],
           1.0, "head", ["keras", "h5"])


if __name__ == "__main__":
    main()
