"""The data layer: real MNIST/FashionMNIST from the shared data root, CIFAR readers on files the
tests write in torchvision's layout, offline mnist1d, and every error case."""
import os
import pickle
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from nfl_utils import data as D
from nfl_utils import datafiles as DF
from nfl_utils.data import DataError, class_balanced_indices, load_dataset, shuffle_labels

SHARED = os.environ.get("NFL_DATA_ROOT")
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Each test module gets its own cache; MNIST decompression is shared within the module."""
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "cache"))


def shared_root():
    if not SHARED:
        if IN_CI and Path("../shared/data/MNIST").exists():
            pytest.fail("../shared/data exists but NFL_DATA_ROOT is not set: .ci/run must export it")
        pytest.skip("NFL_DATA_ROOT not set (point it at a folder holding MNIST/raw)")
    root = Path(SHARED)
    if not os.access(root / "MNIST" / "raw", os.R_OK):
        pytest.fail(f"NFL_DATA_ROOT={root} is set but MNIST/raw cannot be read there")
    return root


# ----------------------------------------------------------------------------- real data
@pytest.mark.parametrize("name, first_label, raw_mean", [("mnist", 5, 0.1307), ("fashion-mnist", 9, 0.2860)])
def test_real_mnist_like_from_shared_root(name, first_label, raw_mean):
    root = shared_root()
    before = sorted((p.name, p.stat().st_mtime) for p in root.rglob("*"))
    b = load_dataset(name, root=root)
    assert b.x_train.shape == (60000, 1, 28, 28) and b.x_test.shape == (10000, 1, 28, 28)
    assert int(b.y_train[0]) == first_label
    assert b.num_classes == 10 and sorted(torch.unique(b.y_train).tolist()) == list(range(10))
    # pixel statistics: undoing the normalisation gives the published raw mean/std
    raw = b.x_train * b.std[0] + b.mean[0]
    assert float(raw.mean()) == pytest.approx(raw_mean, abs=5e-4)
    assert float(raw.min()) == pytest.approx(0.0, abs=1e-6) and float(raw.max()) == pytest.approx(1.0, abs=1e-6)
    assert float(b.x_train.mean()) == pytest.approx(0.0, abs=5e-3)
    assert float(b.x_train.std()) == pytest.approx(1.0, abs=5e-3)
    # the data root is untouched (nothing written, nothing modified)
    assert sorted((p.name, p.stat().st_mtime) for p in root.rglob("*")) == before
    # measurement subsets are class balanced and fixed
    assert torch.bincount(b.y_train[b.measure_idx]).tolist() == [100] * 10
    assert torch.equal(b.measure_idx, load_dataset(name, root=root).measure_idx)


def test_read_only_root_is_never_written(tmp_path):
    root = shared_root()
    ro = tmp_path / "ro"
    shutil.copytree(root / "MNIST", ro / "MNIST")
    for p in [ro, *ro.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        b = load_dataset("mnist", root=ro, train_size=1000)
        assert b.n_train == 1000 and torch.bincount(b.y_train).tolist() == [100] * 10
        assert sorted(p.name for p in (ro / "MNIST" / "raw").iterdir()) == sorted(
            p.name for p in (root / "MNIST" / "raw").iterdir())
    finally:
        for p in [ro, *ro.rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_corrupted_gz_is_reported_by_name(tmp_path, monkeypatch):
    root = shared_root()
    bad = tmp_path / "bad"
    shutil.copytree(root / "MNIST", bad / "MNIST")
    target = bad / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])   # truncated
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path / "fresh-cache"))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz has the wrong md5"):
        load_dataset("mnist", root=bad)
    # without md5 verification the truncation is still caught when decompressing
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz cannot be decompressed"):
        load_dataset("mnist", root=bad, verify=False)


def test_truncated_uncompressed_idx_is_reported(tmp_path, monkeypatch):
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f, n, shape in [("train-images-idx3-ubyte", 20, (28, 28)), ("train-labels-idx1-ubyte", 20, ()),
                        ("t10k-images-idx3-ubyte", 10, (28, 28)), ("t10k-labels-idx1-ubyte", 10, ())]:
        dims = (n, *shape)
        head = bytes([0, 0, 8, len(dims)]) + np.array(dims, dtype=">u4").tobytes()
        (raw / f).write_bytes(head + bytes(int(np.prod(dims))))
    (raw / "t10k-images-idx3-ubyte").write_bytes((raw / "t10k-images-idx3-ubyte").read_bytes()[:-5])
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path / "c"))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", root=tmp_path / "root", download=False)


# ----------------------------------------------------------------------------- CIFAR layout
def write_cifar(root: Path, kind: str, n_train=60, n_test=20, classes=10):
    cls = DF.tv_class(kind)
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    key = "labels" if kind == "cifar10" else "fine_labels"
    rng = np.random.default_rng(0)
    files = {}
    for entries, n in ((cls.train_list, n_train), (cls.test_list, n_test)):
        for fname, _ in entries:
            x = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
            y = (np.arange(n) % classes).tolist()
            with open(folder / fname, "wb") as f:
                pickle.dump({"data": x, key: y}, f)
            files[fname] = (x, y)
    return files


@pytest.mark.parametrize("kind, classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_reader_on_small_files(tmp_path, kind, classes):
    files = write_cifar(tmp_path, kind, n_train=200, n_test=100, classes=classes)
    b = load_dataset(kind, root=tmp_path, verify=False, measure_size=100)
    cls = DF.tv_class(kind)
    n_batches = len(cls.train_list)
    assert b.x_train.shape == (200 * n_batches, 3, 32, 32) and b.x_test.shape == (100, 3, 32, 32)
    assert b.num_classes == classes
    x0, y0 = files[cls.train_list[0][0]]
    mean, std = D.NORMALISATION[kind]
    # pixel (channel 1, row 0, col 0) of the first image, normalised with the published constants
    assert float(b.x_train[0, 1, 0, 0]) == pytest.approx((x0[0, 1024] / 255 - mean[1]) / std[1], rel=1e-5)
    assert b.y_train[:5].tolist() == y0[:5]
    # with checksums on, the hand-made files are rejected by name
    with pytest.raises(DataError, match=f"{cls.train_list[0][0]} has the wrong md5"):
        load_dataset(kind, root=tmp_path)


def test_cifar_corrupted_pickle_is_reported(tmp_path):
    write_cifar(tmp_path, "cifar10")
    p = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    p.write_bytes(p.read_bytes()[:50])
    with pytest.raises(DataError, match="data_batch_3 cannot be read"):
        load_dataset("cifar10", root=tmp_path, verify=False)


def test_missing_data_without_network_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", root=tmp_path / "nowhere", download=False)
    msg = str(e.value)
    assert "NFL_DATA_ROOT" in msg and "cifar-10-python.tar.gz" in msg and "nowhere" in msg
    with pytest.raises(DataError) as e:
        load_dataset("fashion-mnist", root=tmp_path / "nowhere", download=False)
    assert "NFL_DATA_ROOT" in str(e.value) and "train-images-idx3-ubyte.gz" in str(e.value)
    assert "http" in str(e.value)


# ----------------------------------------------------------------------------- mnist1d + options
def test_mnist1d_offline_generation_and_cache(monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("mnist1d must not touch the network")
    import requests
    monkeypatch.setattr(requests, "get", no_network)
    state = np.random.get_state()[1].copy()
    b = load_dataset("mnist1d")
    assert np.array_equal(np.random.get_state()[1], state)     # numpy's global RNG untouched
    assert b.x_train.shape == (8000, 40) and b.x_test.shape == (2000, 40)
    assert b.x_train.dtype == torch.float32
    assert float(b.x_train.mean()) == pytest.approx(0, abs=1e-5)
    assert float(b.x_train.std()) == pytest.approx(1, abs=1e-3)
    assert torch.bincount(b.y_train).min() > 700
    b2 = load_dataset("mnist1d")                               # from the cache: identical
    assert torch.equal(b.x_train, b2.x_train) and torch.equal(b.y_test, b2.y_test)


def test_unknown_dataset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="mnist1d, mnist, fashion-mnist, cifar10, cifar100"):
        load_dataset("imagenet")


def test_train_size_subset_is_class_balanced_and_validated():
    b = load_dataset("mnist1d", train_size=1003, measure_size=500)
    assert b.n_train == 1003
    counts = torch.bincount(b.y_train).tolist()
    assert counts == [101, 101, 101] + [100] * 7
    assert torch.bincount(b.y_train[b.measure_idx]).tolist() == [50] * 10
    with pytest.raises(ValueError, match="train_size=9000"):
        load_dataset("mnist1d", train_size=9000)


@pytest.mark.parametrize("fraction", [0.0, 0.25, 1.0])
def test_shuffle_labels_shuffles_exactly_the_fraction(fraction):
    y = torch.arange(1000) % 10
    out, mask = shuffle_labels(y, fraction, seed=3)
    assert int(mask.sum()) == round(fraction * 1000)
    assert torch.equal(out[~mask], y[~mask])                   # the rest untouched
    assert torch.equal(torch.sort(out[mask]).values, torch.sort(y[mask]).values)  # a permutation
    if fraction > 0:
        assert (out[mask] != y[mask]).float().mean() > 0.8     # most labels actually move
    b = load_dataset("mnist1d", shuffle_fraction=fraction)
    assert int(b.shuffled.sum()) == round(fraction * b.n_train)
    assert torch.equal(torch.bincount(b.y_train), torch.bincount(b.y_train_clean))


def test_class_balanced_indices_errors_when_a_class_is_short():
    with pytest.raises(ValueError, match="class 1 has 2 examples"):
        class_balanced_indices(torch.tensor([0] * 10 + [1] * 2), 8, 2)


def test_uncompressed_files_of_another_dataset_or_a_subset_are_refused(tmp_path):
    # reproduces the report: FashionMNIST's uncompressed files in MNIST/raw loaded as MNIST (their
    # headers agree), and a 1,000-image IDX file was taken as the whole training set
    import gzip

    root = shared_root()
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (root / "FashionMNIST" / "raw").glob("*.gz"):
        (raw / f.stem).write_bytes(gzip.open(f).read())
    with pytest.raises(D.DataError, match="not the originals"):
        load_dataset("mnist", root=tmp_path / "root", download=False)
    for f in (root / "MNIST" / "raw").glob("*.gz"):               # the originals load
        (raw / f.stem).write_bytes(gzip.open(f).read())
    assert int(load_dataset("mnist", root=tmp_path / "root", download=False).y_train[0]) == 5
    imgs = raw / "train-images-idx3-ubyte"
    data = imgs.read_bytes()
    head = data[:4] + (1000).to_bytes(4, "big") + data[8:16]      # a consistent 1,000-image file
    imgs.write_bytes(head + data[16:16 + 1000 * 784])
    with pytest.raises(D.DataError, match="train-images-idx3-ubyte"):
        load_dataset("mnist", root=tmp_path / "root", download=False)
