"""Datasets as tensors: one entry point, :func:`load_dataset`.

``mnist1d`` is generated offline (the embedded default). ``mnist``, ``fashion-mnist``, ``cifar10``
and ``cifar100`` are read from a data root (argument ``root`` or the environment variable
``NFL_DATA_ROOT``) in torchvision's layout, or downloaded by torchvision into the cache where the
network allows. Nothing is ever written into the data root: compressed MNIST-style files are
checked against torchvision's md5 and decompressed into the cache (``NFL_CACHE_DIR``, default
``~/.cache/nfl_utils``).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

DATASETS = ("mnist1d", "mnist", "fashion-mnist", "cifar10", "cifar100", "circle", "oblique-tree")
SYNTHETIC = ("circle", "oblique-tree")   # DLGN benchmarks: generated, unnormalised (geometry matters)
CIRCLE_BREAKS = (0.0, 1.0, 1.7, 2.2, 3.1, 4.3, 4.68, 5.13)  # arc starts (radians); labels alternate, ~balanced
ROOT_ENV = "NFL_DATA_ROOT"
CACHE_ENV = "NFL_CACHE_DIR"

# Per-channel (mean, std) of the full training sets on [0, 1] pixels; standard published values.
NORMALISATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
MNIST1D_SAMPLES = 10_000  # 8,000 train / 2,000 test with mnist1d's 0.8 split
MNIST1D_SEED = 42         # mnist1d's own default


class DataError(RuntimeError):
    """Data missing, corrupted or unreadable; the message says what to do."""


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
    mean: tuple = field(default=())
    std: tuple = field(default=())

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        return len(self.y_train)


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "nfl_utils")).expanduser()


def data_root(root=None) -> Path | None:
    root = root if root is not None else os.environ.get(ROOT_ENV)
    return Path(root).expanduser() if root else None


def load_dataset(name: str = "mnist1d", root=None, *, train_size: int | None = None,
                 shuffle_fraction: float = 0.0, measure_size: int = 1000,
                 test_measure_size: int | None = None, seed: int = 0,
                 download: bool = True, verify: bool = True) -> DataBundle:
    """Load ``name`` as normalised tensors with a train/test split.

    train_size: class-balanced subset of the training set (``None``: all of it).
    shuffle_fraction: exactly ``round(f * n_train)`` training labels, chosen at random, are
        permuted among themselves (class counts are kept; ``f = 1`` shuffles every label).
    measure_size / test_measure_size: fixed class-balanced measurement subsets of the (subset)
        training set and of the test set. They depend on ``seed`` only, so runs that differ in
        their training seed are measured on the same points.
    verify: check files against torchvision's md5 sums (tests of the readers turn it off).
    """
    key = name.lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    if not 0.0 <= shuffle_fraction <= 1.0:
        raise ValueError(f"shuffle_fraction must be in [0, 1], got {shuffle_fraction}")
    if key in SYNTHETIC:
        xtr, ytr, xte, yte = _circle() if key == "circle" else _oblique_tree()
        mean, std = (0.0,), (1.0,)
    elif key == "mnist1d":
        xtr, ytr, xte, yte = _mnist1d()
        mean, std = (float(xtr.mean()),), (float(xtr.std()),)
        xtr, xte = (xtr - mean[0]) / std[0], (xte - mean[0]) / std[0]
        xtr, xte = torch.from_numpy(xtr.astype(np.float32)), torch.from_numpy(xte.astype(np.float32))
    else:
        raw_tr, ytr, raw_te, yte = _read_images(key, data_root(root), download, verify)
        mean, std = NORMALISATION[key]
        xtr, xte = _normalise(raw_tr, mean, std), _normalise(raw_te, mean, std)
    ytr, yte = torch.as_tensor(ytr, dtype=torch.int64), torch.as_tensor(yte, dtype=torch.int64)
    num_classes = 100 if key == "cifar100" else 2 if key in SYNTHETIC else 10

    if train_size is not None:
        if train_size > len(ytr) or train_size < num_classes:
            raise ValueError(f"train_size={train_size} must be between {num_classes} and the "
                             f"{len(ytr)} training examples of {key}")
        idx = class_balanced_indices(ytr, train_size, num_classes, seed=seed)
        xtr, ytr = xtr[idx], ytr[idx]
    y_clean = ytr.clone()
    ytr, mask = shuffle_labels(ytr, shuffle_fraction, seed=seed)
    m_idx = class_balanced_indices(y_clean, min(measure_size, len(ytr)), num_classes, seed=seed + 1)
    t_size = min(test_measure_size or measure_size, len(yte))
    t_idx = class_balanced_indices(yte, t_size, num_classes, seed=seed + 2)
    return DataBundle(key, xtr, ytr, xte, yte, num_classes, m_idx, t_idx, y_clean, mask,
                      tuple(mean), tuple(std))


def class_balanced_indices(labels, size: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of ``size`` examples, ``size // C`` per class (the remainder goes to the
    first classes), drawn without replacement with a fixed seed."""
    labels = torch.as_tensor(labels)
    g = torch.Generator().manual_seed(seed)
    per, extra = divmod(size, num_classes)
    chosen = []
    for c in range(num_classes):
        pool = torch.nonzero(labels == c).flatten()
        want = per + (1 if c < extra else 0)
        if want > len(pool):
            raise ValueError(f"class {c} has {len(pool)} examples, fewer than the {want} a "
                             f"class-balanced subset of {size} needs; ask for a smaller size")
        chosen.append(pool[torch.randperm(len(pool), generator=g)[:want]])
    return torch.sort(torch.cat(chosen)).values


def shuffle_labels(labels: torch.Tensor, fraction: float, seed: int = 0):
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
    _atomic_write(path, lambda f: np.savez(f, **arrays))
    return arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"]


# ----------------------------------------------------------------------------- synthetic (DLGN)
def circle_label(theta) -> np.ndarray:
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


def _oblique_tree(n=40_000, d=20, depth=4, seed=11):
    """The sibling paper's benchmark: points uniform on the sphere in R^d, labelled by a depth-4
    oblique decision tree of 15 random hyperplanes through the origin (leaf labels alternate);
    a 50/25/25 split of which the train and test parts are returned."""
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
    return torch.from_numpy(x[:tr]), y[:tr], torch.from_numpy(x[te:]), y[te:]


# ----------------------------------------------------------------------------- images
_TV = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10", "cifar100": "CIFAR100"}


def _read_images(key, root, download, verify):
    if key in ("mnist", "fashion-mnist"):
        return _read_mnist_like(key, root, download, verify)
    return _read_cifar(key, root, download, verify)


def _tv_class(key):
    from torchvision import datasets

    return getattr(datasets, _TV[key])


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _idx_ok(path: Path) -> bool:
    """An uncompressed IDX file is complete: its size matches the dimensions in its header."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            ndim = head[3]
            dims = np.frombuffer(f.read(4 * ndim), dtype=">u4")
        return len(dims) == ndim and os.path.getsize(path) == 4 + 4 * ndim + int(np.prod(dims))
    except (OSError, IndexError):
        return False


def _missing_message(key, where, urls):
    return (f"{key} not found. Looked in {where}. Put torchvision's files there (or point "
            f"{ROOT_ENV} / the root= argument at a folder holding them), or allow network access "
            f"so torchvision can download them from: {', '.join(urls)}")


def _read_mnist_like(key, root, download, verify):
    cls = _tv_class(key)
    files = [Path(url).stem for url, _ in cls.resources]  # names without .gz
    cache_root = cache_dir() / "torchvision"
    candidates = []
    if root is not None:
        candidates.append(root)
    candidates.append(cache_root)
    for base in candidates:  # uncompressed files already there (a torchvision download, say)
        raw = base / cls.__name__ / "raw"
        if all((raw / f).exists() for f in files):
            bad = [str(raw / f) for f in files if not _idx_ok(raw / f)]
            if bad and base == cache_root:  # our own cache: rebuild rather than fail
                for b in bad:
                    os.unlink(b)
                break
            if bad:
                raise DataError(f"truncated or corrupted {key} file(s): {', '.join(bad)}. "
                                "Replace them with torchvision's originals.")
            return _tv_load(cls, base)
    if root is not None and all((root / cls.__name__ / "raw" / (f + ".gz")).exists() for f in files):
        raw = root / cls.__name__ / "raw"
        out = cache_root / cls.__name__ / "raw"
        for (url, md5), f in zip(cls.resources, files):
            src = raw / (f + ".gz")
            if verify and _md5(src) != md5:
                raise DataError(f"{src} has the wrong md5 checksum (expected {md5}): the file is "
                                "corrupted or truncated. Replace it with torchvision's original.")
            if not (out / f).exists() or not _idx_ok(out / f):
                try:
                    _atomic_write(out / f, lambda fh: _gunzip(src, fh))
                except (OSError, EOFError, gzip.BadGzipFile) as e:
                    raise DataError(f"{src} cannot be decompressed ({e}): it is corrupted or "
                                    "truncated. Replace it with torchvision's original.") from e
        return _tv_load(cls, cache_root)
    urls = [m + r for m in cls.mirrors[:1] for r, _ in cls.resources]
    where = (f"{root / cls.__name__ / 'raw'} and the cache {cache_root / cls.__name__ / 'raw'}"
             if root is not None else f"the cache {cache_root / cls.__name__ / 'raw'} "
             f"({ROOT_ENV} is not set)")
    if download:
        try:
            cls(str(cache_root), train=True, download=True)
            return _tv_load(cls, cache_root)
        except Exception as e:  # no network, most often
            raise DataError(_missing_message(key, where, urls) + f" (download failed: {e})") from e
    raise DataError(_missing_message(key, where, urls))


def _gunzip(src, fh):
    with gzip.open(src, "rb") as g:
        shutil.copyfileobj(g, fh)


def _tv_load(cls, base: Path):
    tr = cls(str(base), train=True, download=False)
    te = cls(str(base), train=False, download=False)
    return tr.data, tr.targets, te.data, te.targets


def _read_cifar(key, root, download, verify):
    cls = _tv_class(key)
    cache_root = cache_dir() / "torchvision"
    for base in ([root] if root is not None else []) + [cache_root]:
        folder = base / cls.base_folder
        if folder.is_dir():
            return _cifar_from_folder(key, cls, folder, verify)
        archive = base / cls.filename
        if archive.exists():
            if verify and _md5(archive) != cls.tgz_md5:
                raise DataError(f"{archive} has the wrong md5 checksum (expected {cls.tgz_md5}); "
                                "replace it with the original archive.")
            with tarfile.open(archive) as t:
                t.extractall(cache_root, filter="data")
            return _cifar_from_folder(key, cls, cache_root / cls.base_folder, verify)
    where = (f"{root} and the cache {cache_root}" if root is not None
             else f"the cache {cache_root} ({ROOT_ENV} is not set)")
    msg = (f"{key} not found. Looked for {cls.base_folder}/ or {cls.filename} in {where}. Put "
           f"them there (or point {ROOT_ENV} at a folder holding them), or allow network access so "
           f"torchvision can download {cls.url}")
    if download:
        try:
            cls(str(cache_root), train=True, download=True)
        except Exception as e:
            raise DataError(msg + f" (download failed: {e})") from e
        return _cifar_from_folder(key, cls, cache_root / cls.base_folder, verify)
    raise DataError(msg)


def _cifar_from_folder(key, cls, folder: Path, verify):
    label_key = "labels" if key == "cifar10" else "fine_labels"

    def read(entries):
        xs, ys = [], []
        for fname, md5 in entries:
            path = folder / fname
            if not path.exists():
                raise DataError(f"{path} is missing; the {key} folder {folder} is incomplete.")
            if verify and _md5(path) != md5:
                raise DataError(f"{path} has the wrong md5 checksum (expected {md5}): corrupted or "
                                "truncated. Replace it with the original.")
            try:
                with open(path, "rb") as f:
                    d = pickle.load(f, encoding="latin1")
                xs.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                ys.extend(d[label_key])
            except Exception as e:
                raise DataError(f"{path} cannot be read as a CIFAR batch ({e}): corrupted or "
                                "truncated. Replace it with the original.") from e
        return torch.from_numpy(np.concatenate(xs)), torch.tensor(ys)

    xtr, ytr = read(cls.train_list)
    xte, yte = read(cls.test_list)
    return xtr, ytr, xte, yte
