"""Which runs the notebooks read, per profile.

``quick`` (default): the embedded mnist1d on a CPU in minutes. ``paper``: MNIST, FashionMNIST,
CIFAR-10/100 with the paper's architectures (a GPU when present; CIFAR downloaded by torchvision
or read from ``NFL_DATA_ROOT``). ``smoke``: tiny versions of ``quick`` for the tests.
"""
from __future__ import annotations

import numpy as np

from .config import Config

PROFILES = ("quick", "paper", "smoke")


def _checkpoints(epochs: int) -> tuple:
    """Dense early (features move fast at the start), then about 6 evenly spaced."""
    early = {0, 1, 2, 3, 5}
    step = max(1, epochs // 6)
    return tuple(sorted(e for e in early | set(range(0, epochs + 1, step)) | {epochs} if e <= epochs))


def _base(profile: str) -> dict:
    if profile == "quick":
        return dict(dataset="mnist1d", epochs=40, batch_size=128, lr=0.05, measure_size=2000,
                    test_measure_size=1000, checkpoints=_checkpoints(40))
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


def _log_checkpoints(epochs: int, n: int = 24) -> tuple:
    pts = {0, epochs} | {int(round(v)) for v in np.geomspace(1, epochs, n)}
    return tuple(sorted(pts))


def mnist_available() -> bool:
    """Whether MNIST can be read from NFL_DATA_ROOT (the quick profile then uses it where the paper does)."""
    from .data import data_root

    root = data_root()
    return bool(root and (root / "MNIST" / "raw").is_dir())


def richness(profile: str) -> dict[str, dict[str, Config]]:
    """The D_LR contrasts of the later paper versions (notebook 07), grouped by experiment."""
    if profile == "paper":
        b = _base(profile)
        vgg = Config(**b, dataset="cifar10", model="vgg16", lr=0.02, epochs=30, augment=True, optimizer="sgd",
                     weight_decay=5e-4, schedule="cosine", checkpoints=_checkpoints(30))
        mlp = Config(**b, dataset="mnist", model="mlp", width=512, lr=0.05, epochs=20, checkpoints=_checkpoints(20))
        grok = Config(**{**b, "measure_size": 1000, "amp": False}, dataset="mnist", model="mlp", width=200, depth=3, train_size=1000,
                      loss="mse", init_scale=8.0, optimizer="adamw", lr=1e-3, weight_decay=0.01, batch_size=200,
                      epochs=20000, checkpoints=_log_checkpoints(20000, 40))
        sizes = (2500, 5000, 10000, 25000, 50000)
        return {
            "weight decay": {f"wd={wd:g}": mlp.replace(weight_decay=wd) for wd in (0.0, 5e-4, 5e-3, 2e-2)},
            "target scale": {f"α={a:g}": mlp.replace(loss="mse", target_scale=a) for a in (1.0, 0.1, 0.01)},
            "rich vs lazy": {"full": mlp, "head-only": head_only(mlp)},
            "label shuffling": {"clean": vgg.replace(model="vgg16_bn", augment=False, epochs=60, checkpoints=_checkpoints(60)),
                                "shuffled": vgg.replace(model="vgg16_bn", augment=False, epochs=60,
                                                        checkpoints=_checkpoints(60), shuffle_fraction=1.0)},
            "batch norm": {"no BN": vgg, "BN": vgg.replace(model="vgg16_bn")},
            "train size": {f"{bn}, n={n}": vgg.replace(model=m, train_size=n) for n in sizes
                           for bn, m in (("no BN", "vgg16"), ("BN", "vgg16_bn"))},
            "grokking": {"grokking": grok},
        }
    b = _base(profile)
    smoke = profile == "smoke"
    ep = 3 if smoke else 30
    mlp = Config(**{**b, "width": b.get("width", 256), "epochs": ep, "checkpoints": _checkpoints(ep)}, model="mlp")
    cnn = Config(**{**b, "width": b.get("width", 256), "channels": b.get("channels", 32), "lr": 0.02, "epochs": 3 if smoke else 20,
                    "checkpoints": _checkpoints(3 if smoke else 20)}, model="cnn")
    shuffle = mlp.replace(train_size=1000 if not smoke else 500, optimizer="adam", lr=1e-3,
                          epochs=3 if smoke else 300, checkpoints=_log_checkpoints(3 if smoke else 300, 16),
                          measure_size=1000 if not smoke else 300)
    mnist = "mnist" if mnist_available() else "mnist1d"
    lazy = mlp.replace(dataset=mnist, epochs=3, checkpoints=(0, 1, 2, 3), train_size=None if not smoke else 1000)
    grok_epochs = 6 if smoke else 3000
    grok = mlp.replace(dataset=mnist, width=100 if not smoke else 48, depth=3, train_size=1000, loss="mse", init_scale=8.0,
                       optimizer="adamw", lr=1e-3, weight_decay=0.1, batch_size=200, epochs=grok_epochs,
                       checkpoints=_log_checkpoints(grok_epochs, 24), measure_size=1000 if not smoke else 300)
    sizes = (500, 1000, 2000, 4000, 8000) if not smoke else (200, 400, 600, 1000)
    return {
        "weight decay": {f"wd={wd:g}": mlp.replace(weight_decay=wd) for wd in (0.0, 5e-4, 5e-3, 2e-2)},
        "target scale": {f"α={a:g}": mlp.replace(loss="mse", target_scale=a) for a in (1.0, 0.1, 0.01)},
        "rich vs lazy": {"full": lazy, "head-only": head_only(lazy)},
        "label shuffling": {"clean": shuffle, "shuffled": shuffle.replace(shuffle_fraction=1.0)},
        "batch norm": {"no BN": cnn, "BN": cnn.replace(batch_norm=True)},
        "train size": {f"{bn}, n={n}": cnn.replace(batch_norm=flag, train_size=None if n == 8000 else n)
                       for n in sizes for bn, flag in (("no BN", False), ("BN", True))},
        "grokking": {"grokking": grok},
    }


def fashion_available() -> bool:
    from .data import data_root

    root = data_root()
    return bool(root and (root / "FashionMNIST" / "raw").is_dir())


def dlgn(profile: str) -> dict[str, dict[str, Config]]:
    """DLGN runs (notebook 08): circle data, image accuracy with ablations, the oblique-tree benchmark."""
    smoke, paper = profile == "smoke", profile == "paper"
    adam = dict(optimizer="adam", momentum=0.0)
    ep_c = 4 if smoke else 400
    circle = Config(dataset="circle", model="dlgn", width=8 if not smoke else 4, depth=3, lr=0.01, batch_size=100,
                    epochs=ep_c, checkpoints=_log_checkpoints(ep_c, 14), measure_size=600 if not smoke else 200,
                    test_measure_size=600 if not smoke else 200, save_models=True, **adam)
    img = "fashion-mnist" if (paper or fashion_available()) else "mnist1d"
    ep_f = 3 if smoke else (30 if paper else 12)
    base = Config(dataset=img, model="dlgn", width=128 if not smoke else 16, depth=3, lr=1e-3, batch_size=128,
                  epochs=ep_f, checkpoints=_checkpoints(ep_f), train_size=None if paper else (10000 if img != "mnist1d" else None)
                  if not smoke else 1000, measure_size=1000 if not smoke else 300, test_measure_size=1000 if not smoke else 300,
                  **adam)
    image = {"deep linear": base.replace(model="mlp", activation="linear"), "DLGN": base,
             "ReLU MLP": base.replace(model="mlp", activation="relu"),
             "DLGN, frozen random gates": base.replace(freeze_gates=True),
             "DLGN, frozen learned gates": base.replace(freeze_gates=True, init_gates_from=base.hash, seed=1)}
    ep_t = 3 if smoke else (1500 if paper else 120)
    tree = Config(dataset="oblique-tree", model="dlgn", width=64 if not smoke else 8, depth=4, lr=2e-3, batch_size=2000,
                  epochs=ep_t, checkpoints=_log_checkpoints(ep_t, 12), measure_size=1000 if not smoke else 200,
                  test_measure_size=2000 if not smoke else 200, train_size=None if not smoke else 2000, **adam)
    trees = {"DLGN": tree, "DLGN-SF": tree.replace(model="dlgn_sf"), "ReLU MLP": tree.replace(model="mlp")}
    return {"circle": {"DLGN": circle}, "image": image, "oblique tree": trees}


def all_runs(profile: str) -> dict[str, Config]:
    out = {}
    for name, cfg in pairs(profile).items():
        out[name] = cfg
        out[name + ", head-only"] = head_only(cfg)
    out.update(lr_sweep(profile))
    out.update(regression(profile))
    for group, runs in richness(profile).items():
        out.update({f"{group}: {label}": cfg for label, cfg in runs.items()})
    for group, runs in dlgn(profile).items():   # in order: the frozen-learned-gates run reads the DLGN run
        out.update({f"DLGN {group}: {label}": cfg for label, cfg in runs.items()})
    return out
