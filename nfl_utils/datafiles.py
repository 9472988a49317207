"""Reading image datasets from files in torchvision's layout (or a torchvision download into the
cache). Nothing is ever written into the data root: compressed MNIST-style files are checked against
torchvision's md5 and decompressed into the cache (``NFL_CACHE_DIR``, default
``~/.cache/nfl_utils``).
"""
from __future__ import annotations

import errno
import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path

from .errors import NflError

import numpy as np
import torch
from typing import Callable

ROOT_ENV = "NFL_DATA_ROOT"
CACHE_ENV = "NFL_CACHE_DIR"
OFFLINE_HINT = ("or use the offline profile, which needs no download: make figures PROFILE=offline "
                "(mnist1d, generated on this machine)")


class DataError(NflError, RuntimeError):
    """Data missing, corrupted or unreadable; the message says what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "nfl_utils")).expanduser()


TORCHVISION_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10",
                     "cifar100": "CIFAR100"}


NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC,
            getattr(errno, "EDQUOT", errno.ENOSPC)}
NOT_A_FOLDER = {errno.ENOTDIR, errno.EEXIST, errno.EISDIR}     # a file stands where a folder goes
NO_WRITE |= NOT_A_FOLDER


def read_images(key: str, root: Path | None, download: bool, verify: bool) -> tuple:
    """(x_train, y_train, x_test, y_test) of an image dataset; a permission or disk error is said as
    such."""
    try:
        return (_read_mnist_like if key in ("mnist", "fashion-mnist") else _read_cifar)(
            key, root, download, verify
        )
    except OSError as e:
        if e.errno in NO_WRITE:
            raise cannot_write(e) from e
        raise


def check_labels(key: str, ys: dict, num_classes: int, where: Path | str) -> None:
    """Every label of every split in 0..C−1, else a DataError naming the files' folder."""
    for split, y in ys.items():
        if len(y) == 0 or int(y.min()) < 0 or int(y.max()) >= num_classes:
            lo, hi = (int(y.min()), int(y.max())) if len(y) else ("none", "")
            raise DataError(
                f"the {key} {split} labels are not in 0..{num_classes - 1} (found "
                f"{lo}..{hi}): the files "
                f"under {where} are corrupted. Replace them with torchvision's "
                "originals."
            )


def flat(e: BaseException) -> str:
    """An error's message on one line (a download's error holds a log of several)."""
    return " ".join(str(e).split())


def cannot_write(e: OSError) -> DataError:
    """A permission or disk error, said as such: the path and the variable to set."""
    why = " (a file stands where a folder is needed)" if e.errno in NOT_A_FOLDER else ""
    return DataError(f"cannot write {e.filename or 'into the data cache'}: {e.strerror}{why}. The "
                     f"decompressed datasets go to the cache {cache_dir()}: set {CACHE_ENV} to a "
                     f"writable folder with a few hundred MB free")


def tv_class(key: str) -> type:
    from torchvision import datasets

    return getattr(datasets, TORCHVISION_NAMES[key])


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in 1 MB blocks (md5 for torchvision's sums, sha256 for the
    store)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable) -> None:
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


# sha256 of the *decompressed* original IDX files (torchvision checks only the .gz md5): an
# uncompressed file is trusted only when it is the original, never by its header alone.
IDX_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}


def _not_original(key, raw: Path, files, verify) -> list[str]:
    """The uncompressed files under ``raw`` that are not ``key``'s originals: incomplete by their
    header, or (``verify``) of another content than the original's sha256."""
    bad = [f for f in files if not _idx_ok(raw / f)]
    if verify:
        bad += [
            f
            for f in files
            if f not in bad and file_digest(raw / f, "sha256") != IDX_SHA256[key][f]
        ]
    return [str(raw / f) for f in bad]


def _idx_ok(path: Path) -> bool:
    """An uncompressed IDX file is complete: its size matches the dimensions in its header."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            ndim = head[3]
            dims = np.frombuffer(f.read(4 * ndim), dtype=">u4")
        # magic: two zero bytes, type 0x08 (unsigned bytes), 1 (labels) or 3 (images) dimensions
        return (head[:3] == b"\x00\x00\x08" and ndim in (1, 3) and len(dims) == ndim
                and os.path.getsize(path) == 4 + 4 * ndim + int(np.prod(dims)))
    except (OSError, IndexError):
        return False


def _missing_message(key, where, urls):
    return (f"{key} not found. Looked in {where}. Put torchvision's files there (or point "
            f"{ROOT_ENV} / the root= argument at a folder holding them), or allow network access "
            f"so torchvision can download them from: {', '.join(urls)}; {OFFLINE_HINT}")


def _read_mnist_like(key, root, download, verify):
    """Uncompressed files under ``root`` or the cache, else ``root``'s originals (.gz) decompressed
    into the cache, else torchvision's download (``download``), else a DataError naming both."""
    cls = tv_class(key)
    files = [Path(url).stem for url, _ in cls.resources]  # names without .gz
    cache_root = cache_dir() / "torchvision"
    found = _uncompressed(key, cls, files, [b for b in (root, cache_root) if b is not None],
                          cache_root, verify)
    if found is not None:
        return found
    gz = root / cls.__name__ / "raw" if root is not None else None
    if gz is not None and all((gz / (f + ".gz")).exists() for f in files):
        _decompress(cls, files, gz, cache_root / cls.__name__ / "raw", verify)
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
            raise DataError(_missing_message(key, where, urls)
                            + f" (download failed: {flat(e)})") from e
    raise DataError(_missing_message(key, where, urls))


def _uncompressed(key, cls, files, bases, cache_root, verify):
    """The dataset from uncompressed files already in one of ``bases`` (a torchvision download,
    say), or None; files in our own cache that are not the originals are removed (rebuilt)."""
    for base in bases:
        raw = base / cls.__name__ / "raw"
        if all((raw / f).exists() for f in files):
            bad = _not_original(key, raw, files, verify)
            if bad and base == cache_root:  # our own cache: rebuild rather than fail
                for b in bad:
                    os.unlink(b)
                return None
            if bad:
                raise DataError(f"{key} file(s) that are not the originals: {', '.join(bad)} "
                                f"(truncated, corrupted, a subset, or another dataset's file: "
                                f"their sha256 differs from the original's). Replace them with "
                                "torchvision's originals.")
            return _tv_load(cls, base)
    return None


def _decompress(cls, files, raw, out, verify) -> None:
    """``raw``'s .gz originals (md5-checked with ``verify``) decompressed into ``out``, atomically;
    files already there and whole are kept."""
    for (url, md5), f in zip(cls.resources, files):
        src = raw / (f + ".gz")
        if verify and file_digest(src) != md5:
            raise DataError(f"{src} has the wrong md5 checksum (expected {md5}): the file is "
                            "corrupted or truncated. Replace it with torchvision's original.")
        if (out / f).exists() and _idx_ok(out / f):
            continue
        try:
            atomic_write(out / f, lambda fh: _gunzip(src, fh))
        except OSError as e:
            if e.errno in NO_WRITE:
                raise cannot_write(e) from e
            raise DataError(f"{src} cannot be decompressed ({e}): it is corrupted or "
                            "truncated. Replace it with torchvision's original.") from e
        except (EOFError, gzip.BadGzipFile) as e:
            raise DataError(f"{src} cannot be decompressed ({e}): it is corrupted or "
                            "truncated. Replace it with torchvision's original.") from e


def _gunzip(src, fh):
    with gzip.open(src, "rb") as g:
        shutil.copyfileobj(g, fh)


def _tv_load(cls, base: Path):
    tr = cls(str(base), train=True, download=False)
    te = cls(str(base), train=False, download=False)
    return tr.data, tr.targets, te.data, te.targets


def _read_cifar(key, root, download, verify):
    cls = tv_class(key)
    cache_root = cache_dir() / "torchvision"
    for base in ([root] if root is not None else []) + [cache_root]:
        folder = base / cls.base_folder
        if folder.is_dir():
            return _cifar_from_folder(key, cls, folder, verify)
        archive = base / cls.filename
        if archive.exists():
            if verify and file_digest(archive) != cls.tgz_md5:
                raise DataError(f"{archive} has the wrong md5 checksum (expected {cls.tgz_md5}); "
                                "replace it with the original archive.")
            with tarfile.open(archive) as t:
                t.extractall(cache_root, filter="data")
            return _cifar_from_folder(key, cls, cache_root / cls.base_folder, verify)
    where = (f"{root} and the cache {cache_root}" if root is not None
             else f"the cache {cache_root} ({ROOT_ENV} is not set)")
    msg = (f"{key} not found. Looked for {cls.base_folder}/ or {cls.filename} in {where}. Put "
           f"them there (or point {ROOT_ENV} at a folder holding them), or allow network access so "
           f"torchvision can download {cls.url}; {OFFLINE_HINT}")
    if download:
        try:
            cls(str(cache_root), train=True, download=True)
        except Exception as e:
            raise DataError(msg + f" (download failed: {flat(e)})") from e
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
            if verify and file_digest(path) != md5:
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
