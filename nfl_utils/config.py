"""The frozen description of one training run; its hash names the run directory."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from .data import DATASETS
from .models import ACTIVATIONS, MODELS

SCHEMA = 1   # bump when what a run records changes: old runs then get new directories

HELP = {
    "dataset": f"one of {', '.join(DATASETS)}",
    "model": f"one of {', '.join(MODELS)}",
    "width": "hidden width of mlp/cnn; p = width for them",
    "depth": "number of hidden layers of the mlp",
    "activation": f"mlp/cnn nonlinearity: {', '.join(ACTIVATIONS)}",
    "channels": "cnn channels (the second 2-D block has twice as many)",
    "batch_norm": "batch norm after every convolution of the cnn (vgg16_bn has its own)",
    "dlgn_beta": "DLGN soft-gate sharpness β in σ(β η)",
    "value_input": "DLGN value-network input: pwc (z = 1, piecewise-constant output) or x",
    "freeze_gates": "DLGN: keep the gating network fixed (only the value network and head train)",
    "init_gates_from": "DLGN: copy the gating network from this finished run (its hash)",
    "task": "classify (C outputs) or regress (1 output: the digit value, standardised, times target_scale)",
    "loss": "ce (cross-entropy) or mse (on target_scale * one-hot targets; mean over all entries)",
    "target_scale": "scale α of the MSE targets (α·one-hot); also scales the regression target",
    "optimizer": "sgd, adam or adamw",
    "lr": "learning rate (> 0)",
    "momentum": "SGD momentum in [0, 1)",
    "nesterov": "Nesterov momentum for SGD",
    "weight_decay": "weight decay (>= 0)",
    "schedule": "constant, cosine or step (x0.1 at 50%% and 75%% of training), applied per step",
    "batch_size": "mini-batch size",
    "epochs": "training epochs (>= 1)",
    "augment": "random crop (pad 4) + horizontal flip, for image datasets",
    "train_size": "class-balanced training subset size (default: the whole training set)",
    "shuffle_fraction": "fraction of training labels permuted at random, in [0, 1]",
    "head_only": "train the linear head only (coefficient learning: Φ frozen)",
    "init_scale": "multiply every parameter at initialisation by this",
    "output_scale": "multiply the network output by this",
    "seed": "seed of initialisation and data order",
    "data_seed": "seed of the training subset, label shuffling and measurement sets",
    "checkpoints": "epochs at which to measure (0 = init); default 0, 1, 2, 4, ..., epochs",
    "measure_size": "class-balanced measurement subset of the training set",
    "test_measure_size": "class-balanced measurement subset of the test set",
    "save_models": "also store the weights at every checkpoint (checkpoints.pt)",
    "device": "auto (cuda when present), cpu or cuda",
    "amp": "bf16 autocast on CUDA",
    "channels_last": "channels_last memory format for convnets on CUDA",
}


@dataclass(frozen=True)
class Config:
    dataset: str = "mnist1d"
    model: str = "mlp"
    width: int = 256
    depth: int = 2
    activation: str = "relu"
    channels: int = 32
    batch_norm: bool = False
    dlgn_beta: float = 30.0
    value_input: str = "pwc"
    freeze_gates: bool = False
    init_gates_from: str | None = None
    task: str = "classify"
    loss: str = "ce"
    target_scale: float = 1.0
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    batch_size: int = 128
    epochs: int = 30
    augment: bool = False
    train_size: int | None = None
    shuffle_fraction: float = 0.0
    head_only: bool = False
    init_scale: float = 1.0
    output_scale: float = 1.0
    seed: int = 0
    data_seed: int = 0
    checkpoints: tuple = field(default=())
    measure_size: int = 1000
    test_measure_size: int = 1000
    save_models: bool = False
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False

    def __post_init__(self):
        object.__setattr__(self, "checkpoints", tuple(int(c) for c in self.checkpoints))
        self.validate()

    def validate(self):
        def bad(name, why):
            raise ValueError(f"invalid config field {name}={getattr(self, name)!r}: {why}")
        if self.dataset.lower() not in DATASETS:
            bad("dataset", f"must be one of {', '.join(DATASETS)}")
        if self.model.lower() not in MODELS:
            bad("model", f"must be one of {', '.join(MODELS)}")
        if self.activation not in ACTIVATIONS:
            bad("activation", f"must be one of {', '.join(ACTIVATIONS)}")
        choices = {"task": ("classify", "regress"), "loss": ("ce", "mse"), "optimizer": ("sgd", "adam", "adamw"),
                   "schedule": ("constant", "cosine", "step"), "device": ("auto", "cpu", "cuda")}
        for name, ok in choices.items():
            if getattr(self, name) not in ok:
                bad(name, f"must be one of {', '.join(ok)}")
        if self.value_input not in ("pwc", "x"):
            bad("value_input", "must be pwc or x")
        if (self.freeze_gates or self.init_gates_from) and not self.model.startswith("dlgn"):
            bad("freeze_gates" if self.freeze_gates else "init_gates_from", "applies to dlgn models only")
        if self.task == "regress" and self.loss != "mse":
            bad("loss", "regression needs loss='mse'")
        for name in ("lr", "batch_size", "epochs", "width", "depth", "channels", "measure_size",
                     "test_measure_size", "target_scale", "init_scale"):
            if not getattr(self, name) > 0:
                bad(name, "must be > 0" + (" (at least 1 epoch)" if name == "epochs" else ""))
        if self.weight_decay < 0:
            bad("weight_decay", "must be >= 0")
        if not 0 <= self.momentum < 1:
            bad("momentum", "must be in [0, 1)")
        if not 0 <= self.shuffle_fraction <= 1:
            bad("shuffle_fraction", "must be in [0, 1]")
        if self.train_size is not None and self.train_size < 10:
            bad("train_size", "must be at least the number of classes")
        if any(c < 0 or c > self.epochs for c in self.checkpoints):
            bad("checkpoints", f"epochs must lie in [0, epochs={self.epochs}]")

    # -- derived
    @property
    def checkpoint_epochs(self) -> tuple:
        if self.checkpoints:
            return tuple(sorted(set(self.checkpoints)))
        eps, e = {0, self.epochs}, 1
        while e < self.epochs:
            eps.add(e)
            e *= 2
        return tuple(sorted(eps))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        return d

    @property
    def hash(self) -> str:
        """sha256 of the fields that differ from their defaults (and the schema version), so a new
        field added with a default leaves every stored run's name unchanged. Never change a default."""
        diff = {f.name: v for f, v in zip(dataclasses.fields(self), dataclasses.astuple(self))
                if v != (f.default if f.default is not dataclasses.MISSING else f.default_factory())}
        diff = {k: (list(v) if isinstance(v, tuple) else v) for k, v in diff.items()}
        blob = json.dumps({"schema": SCHEMA, **diff}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; valid: {sorted(names)}")
        return cls(**d)
