"""Which runs the notebooks read, per profile.

``quick`` (default): the embedded mnist1d on a CPU in minutes. ``paper``: MNIST, FashionMNIST,
CIFAR-10/100 with the paper's architectures (a GPU when present; CIFAR downloaded by torchvision
or read from ``NFL_DATA_ROOT``). ``smoke``: tiny versions of ``quick`` for the tests.
"""
from __future__ import annotations

from .config import Config

PROFILES = ("quick", "paper", "smoke")


def _checkpoints(epochs: int) -> tuple:
    """Dense early (features move fast at the start), then about 12 evenly spaced."""
    early = {0, 1, 2, 3, 5}
    step = max(1, epochs // 12)
    return tuple(sorted(e for e in early | set(range(0, epochs + 1, step)) | {epochs} if e <= epochs))


def _base(profile: str) -> dict:
    if profile == "quick":
        return dict(dataset="mnist1d", epochs=60, batch_size=128, lr=0.05, measure_size=2000,
                    test_measure_size=1000, checkpoints=_checkpoints(60))
    if profile == "smoke":
        return dict(dataset="mnist1d", epochs=3, train_size=1000, batch_size=100, lr=0.05, measure_size=300,
                    test_measure_size=300, width=48, channels=8, checkpoints=(0, 1, 3))
    if profile == "paper":
        return dict(measure_size=5000, test_measure_size=2000, device="auto", amp=True, channels_last=True)
    raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")


def pairs(profile: str) -> dict[str, Config]:
    """Architecture/dataset pairs trained fully (the head-only controls are ``head_only(cfg)``)."""
    b = _base(profile)
    if profile in ("quick", "smoke"):
        return {"mnist1d / MLP": Config(**{"width": 256, **b}, model="mlp", depth=2),
                "mnist1d / CNN": Config(**{"width": 256, "channels": 32, **b, "lr": 0.02}, model="cnn")}
    sgd = dict(optimizer="sgd", momentum=0.9, weight_decay=5e-4, schedule="cosine", batch_size=128)
    return {
        "MNIST / MLP": Config(**b, dataset="mnist", model="mlp", width=512, depth=2, lr=0.05, epochs=20,
                              checkpoints=_checkpoints(20), **{**sgd, "weight_decay": 0.0}),
        "FashionMNIST / CNN": Config(**b, dataset="fashion-mnist", model="cnn", width=256, lr=0.02, epochs=20,
                                     checkpoints=_checkpoints(20), **sgd),
        "CIFAR-10 / MLP": Config(**b, dataset="cifar10", model="mlp", width=1024, depth=3, lr=0.02, epochs=30,
                                 checkpoints=_checkpoints(30), **sgd),
        "CIFAR-10 / VGG16-BN": Config(**b, dataset="cifar10", model="vgg16_bn", lr=0.05, epochs=30, augment=True,
                                      checkpoints=_checkpoints(30), **sgd),
        "CIFAR-10 / ResNet18": Config(**b, dataset="cifar10", model="resnet18", lr=0.1, epochs=30, augment=True,
                                      checkpoints=_checkpoints(30), **sgd),
        "CIFAR-100 / ResNet18": Config(**b, dataset="cifar100", model="resnet18", lr=0.1, epochs=30, augment=True,
                                       checkpoints=_checkpoints(30), **sgd),
    }


def head_only(cfg: Config) -> Config:
    """The coefficient-learning control: same net and schedule, Φ frozen at initialisation."""
    return cfg.replace(head_only=True)


def lr_sweep(profile: str) -> dict[str, Config]:
    """A learning-rate sweep for the first pair."""
    name, cfg = next(iter(pairs(profile).items()))
    lrs = {"quick": (0.002, 0.01, 0.05, 0.2), "smoke": (0.01, 0.1), "paper": (0.005, 0.02, 0.05, 0.2)}[profile]
    return {f"{name}, lr={lr:g}": cfg.replace(lr=lr) for lr in lrs}


def regression(profile: str) -> dict[str, Config]:
    """A scalar regression target (the digit value, MSE) for each pair at its classification learning
    rate: full training and the head-only control."""
    out = {}
    for name, cfg in pairs(profile).items():
        reg = cfg.replace(task="regress", loss="mse")
        out[f"{name} regression, full"] = reg
        out[f"{name} regression, head-only"] = head_only(reg)
    return out


def all_runs(profile: str) -> dict[str, Config]:
    out = {}
    for name, cfg in pairs(profile).items():
        out[name] = cfg
        out[name + ", head-only"] = head_only(cfg)
    out.update(lr_sweep(profile))
    out.update(regression(profile))
    return out
