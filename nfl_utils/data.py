"""Datasets as tensors: one entry point, :func:`load_dataset`.

``mnist1d`` is generated offline (the embedded default). ``mnist``, ``fashion-mnist``, ``cifar10``
and ``cifar100`` are read from a data root (argument ``root`` or the environment variable
``NFL_DATA_ROOT``) in torchvision's layout, or downloaded by torchvision into the cache where the
network allows. Nothing is ever written into the data root: compressed MNIST-style files are
checked against torchvision's md5 and decompressed into the cache (``NFL_CACHE_DIR``, default
``~/.cache/nfl_utils``).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from .datafiles import (  # noqa: F401
    CACHE_ENV, ROOT_ENV, DataError, atomic_write, cache_dir, check_labels, read_images)
from .errors import InputError

DATASETS = ("mnist1d", "mnist", "fashion-mnist", "cifar10", "cifar100", "circle", "oblique-tree",
            "modadd")
# DLGN benchmarks: generated, unnormalised (geometry matters)
SYNTHETIC = ("circle", "oblique-tree")
# arc starts (radians); labels alternate, ~balanced
CIRCLE_BREAKS = (0.0, 1.0, 1.7, 2.2, 3.1, 4.3, 4.68, 5.13)

# Per-channel (mean, std) of the full training sets on [0, 1] pixels; standard published values.
NORMALISATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
MNIST1D_SAMPLES = 10_000  # 8,000 train / 2,000 test with mnist1d's 0.8 split
MNIST1D_SEED = 42         # mnist1d's own default


@dataclass
class DataBundle:
    """Tensors of one dataset split, ready for training (float32 inputs, int64 labels)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor          # labels the net is trained on (after any shuffling)
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    measure_idx: torch.Tensor      # fixed class-balanced subset of the training set
    test_measure_idx: torch.Tensor  # fixed class-balanced subset of the test set
    y_train_clean: torch.Tensor    # the original labels
    shuffled: torch.Tensor         # bool mask of training examples whose label was shuffled

    def digest(self) -> str:
        """sha256 of the tensors a run trains and is measured on (recorded in its meta.json)."""
        h = hashlib.sha256()
        for t in (self.x_train, self.y_train, self.x_test, self.y_test):
            c = t.detach().cpu().contiguous()
            h.update(f"{tuple(c.shape)}{c.dtype}".encode())
            h.update(c.view(torch.uint8).numpy().tobytes() if c.numel() else b"")
        return h.hexdigest()
    mean: tuple = field(default=())
    std: tuple = field(default=())
    # a validation split, where the dataset has one (oblique-tree)
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @cached_property
    def measurement_sets(self) -> tuple:
        """(x, y) of the training measurement set and (x, y) of the test measurement set, gathered
        once (every checkpoint reads them)."""
        return (self.x_train[self.measure_idx], self.y_train[self.measure_idx],
                self.x_test[self.test_measure_idx], self.y_test[self.test_measure_idx])


def data_root(root: str | Path | None = None) -> Path | None:
    root = root if root is not None else os.environ.get(ROOT_ENV)
    return Path(root).expanduser() if root else None


def canonical_name(name: str) -> str:
    """The dataset's key: lower case, '-' for '_', common spellings mapped (FashionMNIST,
    CIFAR-10)."""
    key = str(name).lower().replace("_", "-")
    return {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100",
            "mnist-1d": "mnist1d"}.get(key, key)


def load_dataset(name: str = "mnist1d", root: str | Path | None = None, *,
                 train_size: int | None = None, shuffle_fraction: float = 0.0,
                 measure_size: int = 1000, test_measure_size: int | None = None, seed: int = 0,
                 download: bool = True, verify: bool = True, modadd_p: int = 97,
                 modadd_fraction: float = 0.4) -> DataBundle:
    """Load ``name`` as normalised tensors with a train/test split.

    train_size: class-balanced subset of the training set (``None``: all of it).
    shuffle_fraction: exactly ``round(f * n_train)`` training labels, chosen at random, are
        permuted among themselves (class counts are kept; ``f = 1`` shuffles every label).
    measure_size / test_measure_size: fixed class-balanced measurement subsets of the (subset)
        training set and of the test set (the whole split when the size reaches its length). They
        depend on ``seed`` only, so runs that differ in their training seed are measured on the
        same points.
    modadd_p / modadd_fraction: modular addition (a + b mod p, inputs one-hot a and b), with this
        fraction of the p² pairs (drawn with ``seed``) for training and the rest as test set.
    verify: check files against torchvision's md5 sums (tests of the readers turn it off).
    """
    key = canonical_name(name)
    if key not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    if not 0.0 <= shuffle_fraction <= 1.0:
        raise InputError(f"shuffle_fraction must be in [0, 1], got {shuffle_fraction}")
    num_classes = num_classes_of(key, modadd_p)
    if key == "modadd":
        xtr, ytr, xte, yte = modular_addition(modadd_p, modadd_fraction, seed)
        mean, std = (0.0,), (1.0,)
    else:
        xtr, ytr, xte, yte, mean, std = _splits(key, root, download, verify, num_classes)
    ytr, yte = torch.as_tensor(ytr, dtype=torch.int64), torch.as_tensor(yte, dtype=torch.int64)
    return _bundle(key, (xtr, ytr, xte, yte), num_classes, (mean, std), train_size,
                   shuffle_fraction, (measure_size, test_measure_size), seed)


def _bundle(key: str, splits: tuple, num_classes: int, norm: tuple, train_size: int | None,
            shuffle_fraction: float, sizes: tuple, seed: int) -> DataBundle:
    """The DataBundle: the class-balanced training subset, its shuffled labels and the fixed
    measurement subsets (see :func:`load_dataset`)."""
    (xtr, ytr, xte, yte), (mean, std), (measure_size, test_measure_size) = splits, norm, sizes
    if train_size is not None:
        if train_size > len(ytr) or train_size < num_classes:
            raise InputError(f"train_size={train_size} must be between {num_classes} and the "
                             f"{len(ytr)} training examples of {key}")
        idx = class_balanced_indices(ytr, train_size, num_classes, seed=seed)
        xtr, ytr = xtr[idx], ytr[idx]
    y_clean = ytr.clone()
    ytr, mask = shuffle_labels(ytr, shuffle_fraction, seed=seed)
    m_idx = class_balanced_indices(y_clean, min(measure_size, len(ytr)), num_classes, seed=seed + 1)
    t_size = min(test_measure_size or measure_size, len(yte))
    t_idx = class_balanced_indices(yte, t_size, num_classes, seed=seed + 2)
    val = _oblique_tree(part="validation") if key == "oblique-tree" else (None, None)
    return DataBundle(key, xtr, ytr, xte, yte, num_classes, m_idx, t_idx, y_clean, mask,
                      tuple(mean), tuple(std), *val)


def _splits(key: str, root, download: bool, verify: bool, num_classes: int):
    """(x_train, y_train, x_test, y_test, mean, std) of a dataset other than modadd, normalised."""
    if key in SYNTHETIC:
        return (*(_circle() if key == "circle" else _oblique_tree()), (0.0,), (1.0,))
    if key == "mnist1d":
        xtr, ytr, xte, yte = _mnist1d()
        mean, std = float(xtr.mean()), float(xtr.std())
        xtr, xte = [torch.from_numpy(((x - mean) / std).astype(np.float32)) for x in (xtr, xte)]
        return xtr, ytr, xte, yte, (mean,), (std,)
    raw_tr, ytr, raw_te, yte = _read_cached(key, data_root(root), download, verify)
    check_labels(key, {"training": ytr, "test": yte}, num_classes, data_root(root) or cache_dir())
    mean, std = NORMALISATION[key]
    return _normalise(raw_tr, mean, std), ytr, _normalise(raw_te, mean, std), yte, mean, std


def num_classes_of(name: str, modadd_p: int = 97) -> int:
    """Classes of a dataset, known from its name (p for modular addition)."""
    key = canonical_name(name)
    return (
        100 if key == "cifar100" else 2 if key in SYNTHETIC else modadd_p if key == "modadd" else 10
    )


# raw image arrays already read in this process (a sweep reads one dataset many times)
_RAW: dict = {}


def _files_signature(key, root) -> tuple:
    """(name, size, mtime) of the dataset's files under the data root and the cache: a file
    replaced while the process runs is read anew, never served from memory."""
    from .datafiles import tv_class

    cls = tv_class(key)
    sub = getattr(cls, "base_folder", None) or cls.__name__
    places = [Path(root) / sub, Path(root) / cls.__name__] if root is not None else []
    places.append(cache_dir() / "torchvision" / cls.__name__)
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                        for d in places if d.is_dir() for p in d.rglob("*") if p.is_file()))


def _read_cached(key, root, download, verify):
    where = lambda: (key, str(root), verify, str(cache_dir()), _files_signature(key, root))
    k = where()
    if k not in _RAW:
        _RAW.clear()                    # one dataset at a time: bounded memory
        images = read_images(key, root, download, verify)
        k = where()                     # as the files are now (the read may have filled the cache)
        _RAW[k] = images
    xtr, ytr, xte, yte = _RAW[k]
    # images are only read
    return xtr, torch.as_tensor(ytr).clone(), xte, torch.as_tensor(yte).clone()


def modular_addition(p: int = 97, fraction: float = 0.4, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """All p² pairs (a, b), input [one-hot a, one-hot b] (2p), label (a + b) mod p; a random
    ``fraction`` of the pairs (seeded) is the training set, the rest the test set."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.flatten(), b.flatten()
    x = torch.cat([torch.nn.functional.one_hot(a, p), torch.nn.functional.one_hot(b, p)], 1).float()
    y = (a + b) % p
    perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed + 777))
    n_tr = int(round(fraction * p * p))
    tr, te = perm[:n_tr].sort().values, perm[n_tr:].sort().values
    return x[tr], y[tr], x[te], y[te]


def class_balanced_indices(labels: torch.Tensor, size: int, num_classes: int,
                           seed: int = 0) -> torch.Tensor:
    """Sorted indices of ``size`` examples, ``size // C`` per class (the remainder goes to the
    first classes), drawn without replacement with a fixed seed."""
    labels = torch.as_tensor(labels)
    if size >= len(labels):
        return torch.arange(len(labels))
    g = torch.Generator().manual_seed(seed)
    per, extra = divmod(size, num_classes)
    chosen = []
    for c in range(num_classes):
        pool = torch.nonzero(labels == c).flatten()
        want = per + (1 if c < extra else 0)
        if want > len(pool):
            raise InputError(f"class {c} has {len(pool)} examples, fewer than the {want} a "
                             f"class-balanced subset of {size} needs; ask for a smaller size")
        chosen.append(pool[torch.randperm(len(pool), generator=g)[:want]])
    return torch.sort(torch.cat(chosen)).values


def shuffle_labels(labels: torch.Tensor, fraction: float,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Permute the labels of exactly ``round(fraction * n)`` randomly chosen examples among
    themselves. Returns (new labels, boolean mask of the chosen examples)."""
    n = len(labels)
    k = int(round(fraction * n))
    g = torch.Generator().manual_seed(seed + 12345)
    chosen = torch.randperm(n, generator=g)[:k]
    out = labels.clone()
    out[chosen] = labels[chosen][torch.randperm(k, generator=g)]
    mask = torch.zeros(n, dtype=torch.bool)
    mask[chosen] = True
    return out, mask


def _normalise(raw_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    x = raw_uint8.float().div_(255.0)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return x.sub_(m).div_(s)


# ----------------------------------------------------------------------------- mnist1d
def _mnist1d():
    path = cache_dir() / "mnist1d" / f"mnist1d_{MNIST1D_SAMPLES}_{MNIST1D_SEED}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return z["x"], z["y"], z["x_test"], z["y_test"]
        except Exception:  # a corrupted cache is regenerated, never used
            path.unlink()
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = MNIST1D_SAMPLES, MNIST1D_SEED
    state = np.random.get_state()  # mnist1d seeds numpy's global generator: put it back after
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    arrays = dict(x=d["x"], y=d["y"], x_test=d["x_test"], y_test=d["y_test"])
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"]


# ----------------------------------------------------------------------------- synthetic (DLGN)
def circle_label(theta: np.ndarray) -> np.ndarray:
    """The circle target: 1 on alternate arcs between CIRCLE_BREAKS."""
    arc = np.searchsorted(np.asarray(CIRCLE_BREAKS), np.mod(theta, 2 * np.pi), side="right") - 1
    return (arc % 2).astype(np.int64)


def _circle(n_train=1000, n_test=1000, seed=7):
    """Points x = (cos θ, sin θ), θ uniform, no bias: every DLGN path region is an arc of θ."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, n_train + n_test)
    x = np.stack([np.cos(theta), np.sin(theta)], 1).astype(np.float32)
    y = circle_label(theta)
    return torch.from_numpy(x[:n_train]), y[:n_train], torch.from_numpy(x[n_train:]), y[n_train:]


def _oblique_tree(n=40_000, d=20, depth=4, seed=11, part: str = "train+test"):
    """The sibling paper's benchmark: points uniform on the sphere in R^d, labelled by a depth-4
    oblique decision tree of 15 random hyperplanes through the origin (leaf labels alternate);
    a 50/25/25 split: (x_train, y_train, x_test, y_test), or with ``part="validation"`` the
    middle 25% as (x_val, y_val)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    w = rng.standard_normal((2 ** depth - 1, d))
    node = np.zeros(n, dtype=np.int64)
    for _ in range(depth):
        go = (np.einsum("nd,nd->n", x, w[node]) >= 0).astype(np.int64)
        node = 2 * node + 1 + go
    y = (node - (2 ** depth - 1)) % 2
    x = x.astype(np.float32)
    tr, te = n // 2, (3 * n) // 4
    if part == "validation":
        return torch.from_numpy(x[tr:te]), torch.as_tensor(y[tr:te], dtype=torch.int64)
    return torch.from_numpy(x[:tr]), y[:tr], torch.from_numpy(x[te:]), y[te:]
