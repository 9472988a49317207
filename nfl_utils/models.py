"""Networks split into a feature map Φ (``.features``: x → penultimate post-activations) and a
linear head W (``.head``). ``forward(x) = output_scale · head(features(x))``."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from .errors import InputError

MODELS = ("mlp", "cnn", "vgg16", "vgg16_bn", "resnet18", "dlgn", "dlgn_sf", "transformer")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "linear": nn.Identity}


class Net(nn.Module):
    def __init__(self, features: nn.Module, head: nn.Linear, output_scale: float = 1.0):
        super().__init__()
        self.features, self.head, self.output_scale = features, head, output_scale

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.features(x))
        return out * self.output_scale if self.output_scale != 1.0 else out


def _act(name):
    if name not in ACTIVATIONS:
        raise InputError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class HotLinear(nn.Linear):
    """``nn.Linear`` for inputs whose rows have exactly ``hot`` entries equal to 1 and the rest 0
    (modular addition's [one-hot a, one-hot b]): the same parameters and the same function, computed
    as a sum of ``hot`` weight columns (and back-propagated into them) instead of a dense
    product."""

    def __init__(self, d_in: int, d_out: int, hot: int):
        super().__init__(d_in, d_out)
        self.hot = hot

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = torch.topk(x, self.hot, dim=1).indices
        return F.embedding_bag(idx, self.weight.t(), mode="sum") + self.bias


def mlp(input_shape: tuple[int, ...], num_outputs: int, width: int = 256, depth: int = 2,
        activation: str = "relu", hot_inputs: int = 0) -> Net:
    """``hot_inputs`` > 0: the inputs are rows of that many ones (see :class:`HotLinear`)."""
    d_in = math.prod(input_shape)
    layers, d = [nn.Flatten()], d_in
    for i in range(depth):
        layers += [
            HotLinear(d, width, hot_inputs) if i == 0 and hot_inputs else nn.Linear(d, width),
            _act(activation),
        ]
        d = width
    return nn.Sequential(*layers), nn.Linear(d, num_outputs)


def cnn(input_shape: tuple[int, ...], num_outputs: int, width: int = 256, channels: int = 32,
        activation: str = "relu", batch_norm: bool = False) -> Net:
    """A small convnet: 1-D for mnist1d-like (L,) inputs, 2-D for (C, H, W) images; optional batch
    norm after every convolution."""
    def bn(c, dim):
        return [(nn.BatchNorm1d if dim == 1 else nn.BatchNorm2d)(c)] if batch_norm else []
    if len(input_shape) == 1:
        L = input_shape[0]
        convs = [nn.Unflatten(1, (1, L))]
        c_in = 1
        for _ in range(3):
            convs += [nn.Conv1d(c_in, channels, 5, stride=2, padding=1), *bn(channels, 1),
                      _act(activation)]
            c_in = channels
        body = nn.Sequential(*convs)
    elif len(input_shape) == 3:
        c = input_shape[0]
        body = nn.Sequential(nn.Conv2d(c, channels, 3, padding=1), *bn(channels, 2),
                             _act(activation), nn.MaxPool2d(2),
                             nn.Conv2d(channels, 2 * channels, 3, padding=1), *bn(2 * channels, 2),
                             _act(activation),
                             nn.MaxPool2d(2))
    else:
        raise InputError(f"cnn takes (L,) or (C, H, W) inputs; got shape {tuple(input_shape)}")
    with torch.no_grad():
        flat = body.eval()(torch.zeros(1, *input_shape)).numel()
    feats = nn.Sequential(body, nn.Flatten(), nn.Linear(flat, width), _act(activation))
    return feats, nn.Linear(width, num_outputs)


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16(input_shape: tuple[int, ...], num_outputs: int, batch_norm: bool = False,
          base: int = 64) -> Net:
    """VGG16 CIFAR variant: the 13 conv layers, then global pooling to a Φ of 8·base (512 at the
    standard base = 64), one Linear head. A smaller ``base`` scales every layer's channels by
    base/64: the same depth (what makes VGG16 hard to train without batch norm), a CPU's cost."""
    if len(input_shape) != 3:
        raise InputError(f"vgg16 needs image inputs (C, H, W); got {tuple(input_shape)}")
    layers, c = [], input_shape[0]
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
            continue
        v = v * base // 64
        layers += [nn.Conv2d(c, v, 3, padding=1), *([nn.BatchNorm2d(v)] if batch_norm else []),
                   nn.ReLU(inplace=True)]
        c = v
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), nn.Linear(c, num_outputs)


def resnet18(input_shape: tuple[int, ...], num_outputs: int) -> Net:
    """torchvision's ResNet18 with the CIFAR stem (3×3 conv1, stride 1, no max-pool)."""
    from torchvision.models import resnet18 as tv_resnet18

    if len(input_shape) != 3:
        raise InputError(f"resnet18 needs image inputs (C, H, W); got {tuple(input_shape)}")
    r = tv_resnet18(num_classes=num_outputs)
    r.conv1 = nn.Conv2d(input_shape[0], 64, 3, stride=1, padding=1, bias=False)
    feats = nn.Sequential(r.conv1, r.bn1, r.relu, r.layer1, r.layer2, r.layer3, r.layer4, r.avgpool,
                          nn.Flatten())
    return feats, r.fc


def build_model(name: str, input_shape: tuple[int, ...], num_outputs: int, *, width: int = 256,
                depth: int = 2, activation: str = "relu", channels: int = 32,
                batch_norm: bool = False, init_scale: float = 1.0, output_scale: float = 1.0,
                dlgn_beta: float = 30.0, value_input: str = "pwc", hot_inputs: int = 0,
                heads: int = 4, vgg_base: int = 64) -> Net:
    """Build a model by name (one of ``MODELS``). ``init_scale`` multiplies every parameter at
    init."""
    key = name.lower()
    if key == "mlp":
        f, h = mlp(input_shape, num_outputs, width, depth, activation, hot_inputs)
    elif key == "cnn":
        f, h = cnn(input_shape, num_outputs, width, channels, activation, batch_norm)
    elif key in ("vgg16", "vgg16_bn"):
        f, h = vgg16(input_shape, num_outputs, batch_norm=key.endswith("_bn"), base=vgg_base)
    elif key == "resnet18":
        f, h = resnet18(input_shape, num_outputs)
    elif key == "transformer":
        from .transformer import transformer
        f, h = transformer(input_shape, num_outputs, width, depth, heads)
    elif key in ("dlgn", "dlgn_sf"):
        from .dlgn import dlgn
        f, h = dlgn(input_shape, num_outputs, width, depth, dlgn_beta, value_input,
                    sf=key == "dlgn_sf")
    else:
        raise InputError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    net = Net(f, h, output_scale)
    if init_scale != 1.0:
        with torch.no_grad():
            for prm in net.parameters():
                prm.mul_(init_scale)
    return net
