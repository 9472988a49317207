"""The frozen description of one training run; its hash names the run directory.

Each field carries its help text (``--help`` of ``python -m nfl_utils.train`` is generated from the
fields and their annotations). Values are checked per field with the field named; names are
normalised before hashing so that equal configs share one run.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field

from .data import DATASETS, canonical_name, num_classes_of
from .models import ACTIVATIONS, MODELS
from .errors import InputError
from typing import TYPE_CHECKING, Iterator
if TYPE_CHECKING:                 # names used in annotations only
    import argparse

MAX_WIDTH = 16_384      # p×p float64 moments: 2 GiB
MAX_MODADD_P = 400      # p² pairs of 2p float32 one-hot entries: 0.5 GiB
SCHEMA = 4   # bump when what a run records changes: old runs then get new directories


def _f(default, help: str):
    """A dataclass field with its help text beside it."""
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Config:
    dataset: str = _f("mnist1d", f"one of {', '.join(DATASETS)}")
    model: str = _f("mlp", f"one of {', '.join(MODELS)}")
    width: int = _f(256, "hidden width of mlp/cnn (p = width for them); d_model of the transformer")
    depth: int = _f(2, "number of hidden layers of the mlp; of blocks of the transformer")
    heads: int = _f(4, "transformer: attention heads (width must be a multiple)")
    vgg_base: int = _f(64, "vgg16: channels of its first block (64 standard; every layer scales "
                           "with it)")
    activation: str = _f("relu", f"mlp/cnn nonlinearity: {', '.join(ACTIVATIONS)}")
    channels: int = _f(32, "cnn channels (the second 2-D block has twice as many)")
    batch_norm: bool = _f(False, "batch norm after every convolution of the cnn (vgg16_bn has its "
                                 "own)")
    dlgn_beta: float = _f(30.0, "DLGN soft-gate sharpness β in σ(β η)")
    value_input: str = _f("pwc", "DLGN value-network input: pwc (z = 1, piecewise-constant output) "
                                 "or x")
    freeze_gates: bool = _f(False, "DLGN: keep the gating network fixed (only the value network "
                                   "and head train)")
    init_gates_from: str | None = _f(None, "DLGN: copy the gating network from this finished run "
                                           "(its hash)")
    task: str = _f("classify", "classify (C outputs) or regress (1 output: the digit value, "
                               "standardised, times target_scale)")
    loss: str = _f("ce", "ce (cross-entropy) or mse (on target_scale * one-hot targets; mean over "
                         "all entries)")
    target_scale: float = _f(1.0, "scale α of the MSE targets (α·one-hot); also scales the "
                                  "regression target")
    optimizer: str = _f("sgd", "sgd, adam or adamw")
    lr: float = _f(0.05, "learning rate (> 0)")
    momentum: float = _f(0.9, "SGD momentum in [0, 1)")
    adam_beta2: float = _f(0.999, "Adam/AdamW second-moment decay β₂ in (0, 1) (β₁ = 0.9)")
    nesterov: bool = _f(False, "Nesterov momentum for SGD")
    weight_decay: float = _f(0.0, "weight decay (>= 0)")
    schedule: str = _f("constant", "constant, cosine or step (x0.1 at 50% and 75% of training), "
                                   "applied per step")
    batch_size: int = _f(128, "mini-batch size")
    epochs: int = _f(30, "training epochs (>= 1); with stop_loss, at most this many")
    stop_loss: float = _f(0.0, "stop early once the loss over the whole training set falls below "
                               "this (0: never)")
    keep_best: bool = _f(False, "keep the weights of the epoch with the best validation accuracy "
                                "(datasets with a validation split: oblique-tree); the last row "
                                "measures them")
    augment: bool = _f(False, "random crop (pad 4) + horizontal flip, for image datasets")
    train_size: int | None = _f(None, "class-balanced training subset size (default: the whole "
                                      "training set)")
    shuffle_fraction: float = _f(0.0, "fraction of training labels permuted at random, in [0, 1]")
    head_only: bool = _f(False, "train the linear head only (coefficient learning: Φ frozen)")
    init_scale: float = _f(1.0, "multiply every parameter at initialisation by this")
    output_scale: float = _f(1.0, "multiply the network output by this")
    seed: int = _f(0, "seed of initialisation and data order")
    data_seed: int = _f(0, "seed of the training subset, label shuffling and measurement sets")
    checkpoints: tuple[int, ...] = _f((), "epochs at which to measure (0 = init); default 0, 1, 2, "
                                          "4, ..., epochs")
    measure_size: int = _f(1000, "class-balanced measurement subset of the training set")
    test_measure_size: int = _f(1000, "class-balanced measurement subset of the test set")
    test_spectra: bool = _f(False, "also diagonalise Φ on the test measurement set (spectra, Π, "
                                   "Π*, D_LR on test data: run.eigenvalues(split='test'), ...); no "
                                   "notebook reads them")
    save_models: bool = _f(False, "also store the weights at every checkpoint (checkpoints.pt)")
    device: str = _f("auto", "auto (cuda when present), cpu or cuda")
    amp: bool = _f(False, "bf16 autocast on CUDA")
    channels_last: bool = _f(False, "channels_last memory format for convnets (training and "
                                    "measurement; on the CPU too)")
    modadd_p: int = _f(97, "modadd: the modulus p (inputs are one-hot a and b, p classes)")
    modadd_fraction: float = _f(0.4, "modadd: fraction of the p² pairs used for training")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name,
                               _coerce(f.name, getattr(self, f.name), field_types()[f.name]))
        object.__setattr__(self, "dataset", canonical_name(self.dataset))
        object.__setattr__(self, "model", self.model.lower())
        self.validate()

    def validate(self) -> Iterator[tuple[str, str]]:
        """Raise an InputError naming the first invalid field and the rule it breaks."""
        for name, why in self._problems():
            raise InputError(f"invalid config field {name}={getattr(self, name)!r}: {why}")

    def _problems(self):
        """(field, rule) for every field that breaks a rule, in order: choices, combinations,
        ranges, sizes."""
        yield from self._bad_choices()
        yield from self._bad_combinations()
        yield from self._bad_ranges()

    def _bad_choices(self):
        choices = {"dataset": DATASETS, "model": MODELS, "activation": ACTIVATIONS,
                   "task": ("classify", "regress"), "loss": ("ce", "mse"),
                   "optimizer": ("sgd", "adam", "adamw"),
                   "schedule": ("constant", "cosine", "step"), "device": ("auto", "cpu", "cuda"),
                   "value_input": ("pwc", "x")}
        for name, ok in choices.items():
            if getattr(self, name) not in ok:
                yield name, f"must be one of {', '.join(ok)}"

    def _bad_combinations(self):
        if (self.freeze_gates or self.init_gates_from) and not self.model.startswith("dlgn"):
            yield (
                "freeze_gates" if self.freeze_gates else "init_gates_from"
            ), "applies to dlgn models only"
        if (self.model == "transformer") != (self.dataset == "modadd") and self.model != "mlp":
            yield "model", ("the transformer reads modular addition only (dataset='modadd'), and "
                            "modadd trains an mlp or the transformer")
        if self.model == "transformer" and self.heads > 0 and self.width % self.heads:
            yield "heads", f"width={self.width} must be a multiple of heads"
        if self.batch_norm and self.model != "cnn":
            yield "batch_norm", "applies to the cnn only (vgg16_bn is the batch-norm VGG16)"
        if self.task == "regress" and self.loss != "mse":
            yield "loss", "regression needs loss='mse'"
        if self.keep_best and self.dataset != "oblique-tree":
            yield "keep_best", "needs a dataset with a validation split (oblique-tree)"

    def _bad_ranges(self):
        for name in ("lr", "batch_size", "epochs", "width", "depth", "channels", "measure_size",
                     "test_measure_size", "target_scale", "init_scale", "modadd_p", "heads",
                     "vgg_base"):
            if not getattr(self, name) > 0:
                yield name, "must be > 0" + (" (at least 1 epoch)" if name == "epochs" else "")
        if self.width > MAX_WIDTH:
            yield "width", (f"at most {MAX_WIDTH:,}: the measures keep p×p float64 moments, "
                            f"{self.width ** 2 * 8 / 2 ** 30:,.0f} GiB at this width")
        if self.dataset == "modadd" and not 2 <= self.modadd_p <= MAX_MODADD_P:
            yield "modadd_p", (f"must be in [2, {MAX_MODADD_P}]: the p² one-hot pairs take "
                               f"{self.modadd_p ** 3 * 8 / 2 ** 30:,.1f} GiB at this p")
        intervals = {"weight_decay": (self.weight_decay >= 0, "must be >= 0"),
                     "stop_loss": (self.stop_loss >= 0, "must be >= 0 (0: never stop early)"),
                     "adam_beta2": (0 < self.adam_beta2 < 1, "must be in (0, 1)"),
                     "momentum": (0 <= self.momentum < 1, "must be in [0, 1)"),
                     "shuffle_fraction": (0 <= self.shuffle_fraction <= 1, "must be in [0, 1]"),
                     "modadd_fraction": (0 < self.modadd_fraction < 1, "must be in (0, 1)")}
        yield from ((name, why) for name, (ok, why) in intervals.items() if not ok)
        yield from self._bad_sizes()

    def _bad_sizes(self):
        C = self.num_classes
        if self.train_size is not None and self.train_size < C:
            yield "train_size", f"must be at least the number of classes ({C})"
        for name in ("measure_size", "test_measure_size"):
            if getattr(self, name) < C:
                yield name, (f"must be at least the number of classes ({C}): the "
                             "measures need every class")
        if any(c < 0 or c > self.epochs for c in self.checkpoints):
            yield "checkpoints", f"epochs must lie in [0, epochs={self.epochs}]"

    # -- derived
    @property
    def num_classes(self) -> int:
        """Classes of the dataset (known from its name; 2 for the DLGN benchmarks, p for modadd)."""
        return num_classes_of(self.dataset, self.modadd_p)

    @property
    def checkpoint_epochs(self) -> tuple:
        if self.checkpoints:
            return tuple(sorted(set(self.checkpoints)))
        eps, e = {0, self.epochs}, 1
        while e < self.epochs:
            eps.add(e)
            e *= 2
        return tuple(sorted(eps))

    def recorded_epochs(self, stopped: int | None = None) -> tuple:
        """The epochs a finished run has a row for: its checkpoints up to where training ended, and
        that last epoch itself when training stopped early (stop_loss) or kept its best weights."""
        end = stopped or self.epochs
        eps = [e for e in self.checkpoint_epochs if e <= end]
        if (stopped or self.keep_best) and end not in eps:
            eps.append(end)
        return tuple(eps)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["checkpoints"] = list(self.checkpoints)
        return d

    @property
    def hash(self) -> str:
        """sha256 of the fields that differ from their defaults (and the schema version), so a new
        field added with a default leaves every stored run's name unchanged. Never change a
        default."""
        diff = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != _default(f)}
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
            raise InputError(f"unknown config field(s) {sorted(unknown)}; valid: {sorted(names)}")
        return cls(**d)


# ----------------------------------------------------------------------------- types and the CLI
def _default(f):
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def field_types() -> dict:
    """name -> (base type, optional, is a tuple of ints), from the annotations."""
    if not hasattr(field_types, "cache"):
        out = {}
        for name, t in typing.get_type_hints(Config).items():
            args = typing.get_args(t)
            optional = type(None) in args
            base = next((a for a in args if a is not type(None)), t) if optional else t
            seq = typing.get_origin(base) is tuple
            out[name] = (int if seq else base, optional, seq)
        field_types.cache = out
    return field_types.cache


def _coerce(name, value, spec):
    """Check one field's type (naming the field) and normalise it: ints stay ints, floats are
    finite floats (1 -> 1.0, so equal configs hash alike), bools are bools."""
    base, optional, seq = spec
    def bad(why):
        raise InputError(f"invalid config field {name}={value!r}: {why}")
    if value is None:
        return None if optional else bad(f"must be a {base.__name__}")
    if seq:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            bad("must be a list of integers")
        return tuple(_coerce(name, v, (int, False, False)) for v in value)
    if base is bool:
        return value if isinstance(value, bool) else bad("must be true or false")
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            bad("must be an integer")
        return int(value)
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            bad("must be a number")
        if not math.isfinite(value):
            bad("must be finite")
        return float(value)
    if base is str:
        return value if isinstance(value, str) else bad("must be a string")
    return value


def add_config_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """One option per Config field, from its annotation and help text."""
    import argparse

    for f in dataclasses.fields(Config):
        base, optional, seq = field_types()[f.name]
        default, flag, help_ = (
            _default(f),
            "--" + f.name.replace("_", "-"),
            f.metadata["help"].replace("%", "%%"),
        )
        if base is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                                help=help_)
        elif seq:
            parser.add_argument(flag, type=int, nargs="*", default=list(default), metavar="EPOCH",
                                help=help_)
        else:
            parser.add_argument(flag, type=base, default=default,
                                help=f"{help_} (default: {'none' if default is None else default})")
    return parser


def config_from_args(namespace: argparse.Namespace) -> Config:
    names = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in vars(namespace).items() if k in names})


def config_to_args(cfg: Config) -> list[str]:
    """The command-line options that rebuild ``cfg`` (fields at their defaults are left out)."""
    args = []
    for f in dataclasses.fields(Config):
        v, flag = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        if v == _default(f):
            continue
        if isinstance(v, bool):
            args.append(flag if v else "--no-" + flag[2:])
        elif isinstance(v, tuple):
            args += [flag, *map(str, v)]
        else:
            args += [flag, repr(v) if isinstance(v, float) else str(v)]
    return args
