"""The benchmark's networks in plain PyTorch: VGG16 from torchvision and the part of
Keras' ResNet50V2 up to conv3_block4_out, truncated at a named layer as Keras'
`Model(inputs, model.get_layer(name).output)` would be."""
import struct, json
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

# Keras layer name -> index of its ReLU in torchvision's vgg16().features (Keras
# convolutions include their activation).
VGG16_LAYERS = {}
_i = 0
for _b, _n in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]:
    for _c in range(1, _n + 1):
        VGG16_LAYERS[f"block{_b}_conv{_c}"] = _i + 1
        _i += 2
    _i += 1

CAFFE_MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


def caffe(rgb255):
    """Keras 'caffe' preprocessing, as vizrun's vgg16/resnet50v2... (vgg16 only here)."""
    return rgb255.flip(1) - CAFFE_MEAN


def tf_mode(rgb255):
    return rgb255 / 127.5 - 1.0


def vgg16_features(seed=0):
    torch.manual_seed(seed)
    return torchvision.models.vgg16(weights=None).eval()


def vgg16_truncated(model, layer):
    return model.features[: VGG16_LAYERS[layer] + 1]


class Block(nn.Module):
    """Keras ResNet50V2 pre-activation bottleneck."""

    def __init__(self, cin, f, stride, conv_shortcut):
        super().__init__()
        self.preact = nn.BatchNorm2d(cin, eps=1.001e-5)
        self.shortcut = nn.Conv2d(cin, 4 * f, 1, stride) if conv_shortcut else None
        self.stride = stride
        self.c1 = nn.Conv2d(cin, f, 1, bias=False)
        self.b1 = nn.BatchNorm2d(f, eps=1.001e-5)
        self.c2 = nn.Conv2d(f, f, 3, stride, bias=False)
        self.b2 = nn.BatchNorm2d(f, eps=1.001e-5)
        self.c3 = nn.Conv2d(f, 4 * f, 1)

    def forward(self, x):
        p = F.relu(self.preact(x))
        if self.shortcut is not None:
            s = self.shortcut(p)
        elif self.stride > 1:
            s = F.max_pool2d(x, 1, self.stride)
        else:
            s = x
        y = F.relu(self.b1(self.c1(p)))
        y = F.relu(self.b2(self.c2(F.pad(y, (1, 1, 1, 1)))))
        return s + self.c3(y)


class ResNet50V2ToConv3Block4(nn.Module):
    """conv1 ... conv3_block4_out of Keras' ResNet50V2 (the keras.io seed's layer)."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 64, 7, 2)
        blocks, cin = [], 64
        for f, n in [(64, 3), (128, 4)]:
            for i in range(n):
                blocks.append(Block(cin, f, 2 if i == n - 1 else 1, i == 0))
                cin = 4 * f
        self.blocks = nn.Sequential(*blocks)
        self.eval()

    def forward(self, x):
        x = self.conv1(F.pad(x, (3, 3, 3, 3)))
        x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)
        return self.blocks(x)


def save_safetensors(path, tensors):
    """Minimal safetensors writer (float32, C order)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
