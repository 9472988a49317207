"""The store never keeps bad data or runs foreign code; errors name the problem (issue: reliability).

Each test reproduces one way a careless or hostile user broke the store, the data layer, training
or the numerics, and asserts what happens now.
"""
import os
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch

from nfl_utils import datafiles as DF
from nfl_utils import store
from nfl_utils.config import Config
from nfl_utils.data import DataError, load_dataset
from nfl_utils.spectrum import SpectralAccumulator, diagonalize, low_rank_measure_explicit
from nfl_utils.sweep import expand, load_grid
from nfl_utils.train import Diverged, setup, train

TINY = dict(dataset="mnist1d", model="mlp", width=32, epochs=3, train_size=500, measure_size=200,
            test_measure_size=200, batch_size=100, lr=0.05, checkpoints=(0, 1, 3))


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(DF.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "runs"


# ----------------------------------------------------------------------------- the store
def test_force_replaces_the_stored_run_and_repairs_a_damaged_one(runs):
    cfg = Config(**TINY)
    first = train(cfg, progress=False)
    (first.path / "old-marker").write_text("from the first run")
    again = train(cfg, progress=False, force=True)
    assert again.path == first.path and not (again.path / "old-marker").exists()     # the old one is gone
    assert not list(runs.glob(".old-*")) and not list(runs.glob(".tmp-*"))
    assert again.metrics.drop(columns=["train_time", "measure_time"]).equals(
        first.metrics.drop(columns=["train_time", "measure_time"]))
    # damage it: load_run names the path, --force repairs it
    (again.path / "arrays.npz").write_bytes((again.path / "arrays.npz").read_bytes()[:-200])
    with pytest.raises(store.DamagedRun, match=str(again.path)):
        store.load_run(again.path)
    with pytest.raises(store.DamagedRun, match="force"):
        train(cfg, progress=False)
    repaired = train(cfg, progress=False, force=True)
    store.verify(repaired.path)
    assert len(repaired) == 3


def test_run_directories_are_readable_by_the_group(runs):
    old = os.umask(0o002)
    try:
        run = train(Config(**TINY), progress=False)
    finally:
        os.umask(old)
    assert run.path.stat().st_mode & 0o070 == 0o070
    assert (run.path / "metrics.csv").stat().st_mode & 0o040


@pytest.mark.parametrize("damage, reason", [
    (lambda p: (p / "metrics.csv").write_text(""), "metrics.csv does not match"),
    (lambda p: (p / "metrics.csv").write_text("\n".join((p / "metrics.csv").read_text().splitlines()[:-1])),
     "metrics.csv does not match"),
    (lambda p: (p / "arrays.npz").write_bytes((p / "arrays.npz").read_bytes()[:100]), "arrays.npz does not match"),
    (lambda p: (p / "model.pt").unlink(), "model.pt is missing"),
    (lambda p: (p / "checksums.json").unlink(), "checksums.json is missing"),
])
def test_damaged_runs_are_reported_by_path_and_skipped_by_listings(runs, capsys, damage, reason):
    good = train(Config(**TINY), progress=False)
    bad = train(Config(**TINY, seed=1), progress=False)
    damage(bad.path)
    with pytest.raises(store.DamagedRun, match=reason) as e:
        store.load_run(bad.path)
    assert str(bad.path) in str(e.value)
    listed = store.list_runs()
    assert [r.path for r in listed] == [good.path]
    assert f"damaged run at {bad.path}" in capsys.readouterr().err


def test_a_consistent_looking_but_short_run_is_caught_by_its_shape(runs):
    """Files rewritten together with a matching checksum still have to fit the config."""
    run = train(Config(**TINY), progress=False)
    run.metrics.iloc[:2].to_csv(run.path / "metrics.csv", index=False)
    import json
    sums = json.loads((run.path / "checksums.json").read_text())
    sums["metrics.csv"] = DF.file_digest(run.path / "metrics.csv", "sha256")
    (run.path / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(store.DamagedRun, match="2 rows, the config has 3 checkpoints"):
        store.load_run(run.path)


class Exploit:
    """Unpickling this runs a shell command: what a crafted progress file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_progress_file_is_never_executed(runs, tmp_path, capsys):
    cfg = Config(**TINY)
    marker = tmp_path / "pwned"
    path = store.partial_path(cfg.hash)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as f:
        pickle.dump({"epoch": 1, "payload": Exploit(marker)}, f)
    pickle.loads(pickle.dumps(Exploit(tmp_path / "control")))          # the payload is live under pickle
    assert (tmp_path / "control").exists()
    run = train(cfg, progress=False)
    assert not marker.exists()
    assert "discarding saved progress" in capsys.readouterr().err
    assert list(run.metrics["epoch"]) == [0, 1, 3]


def test_progress_of_another_config_or_shape_is_discarded(runs, capsys, monkeypatch):
    a, b = Config(**TINY), Config(**TINY, seed=7)
    s = setup(b)
    store.save_partial(b.hash, s.progress_state())
    # a stale file of config b copied under a's name (same shapes): refused by its hash
    store.partial_path(a.hash).parent.mkdir(parents=True)
    store.partial_path(a.hash).write_bytes(store.partial_path(b.hash).read_bytes())
    assert store.load_partial(a.hash) is None and not store.partial_path(a.hash).exists()
    assert "belongs to" in capsys.readouterr().err
    # progress under the right hash but for another network (wider): discarded, training starts over
    wide = setup(Config(**{**TINY, "width": 48}))
    state = wide.progress_state()
    store.save_partial(a.hash, state)
    run = train(a, progress=False)
    assert "does not match" in capsys.readouterr().err
    ref_dir = runs.parent / "ref"
    monkeypatch.setenv(store.RUNS_ENV, str(ref_dir))
    ref = train(a, progress=False)
    cols = [c for c in ref.metrics if not c.endswith("_time")]
    assert run.metrics[cols].equals(ref.metrics[cols])


def test_progress_is_plain_data(runs):
    cfg = Config(**TINY)
    s = setup(cfg)
    from nfl_utils.train import record
    record(s)
    store.save_partial(cfg.hash, s.progress_state())
    raw = torch.load(store.partial_path(cfg.hash), weights_only=True)     # would raise on any object
    assert raw["hash"] == cfg.hash
    back = store.load_partial(cfg.hash)
    assert isinstance(back["arrays"][0]["train_u_eigenvalues"], np.ndarray)
    np.testing.assert_array_equal(back["arrays"][0]["train_u_eigenvalues"], s.arrays[0]["train_u_eigenvalues"])


def test_concurrent_trainers_of_one_config_train_it_once(runs, monkeypatch):
    """Forced interleaving: B starts while A holds the config's lock and has saved progress; A
    commits (removing the progress directory) while B waits; B then loads A's run."""
    cfg = Config(**TINY)
    started, release = threading.Event(), threading.Event()
    result = {}

    def trainer_a():
        with store.run_lock(cfg.hash):
            s = setup(cfg)
            store.save_partial(cfg.hash, s.progress_state())
            started.set()
            release.wait(30)
            from nfl_utils.train import commit, run_epochs
            run_epochs(s, progress=False)
            result["a"] = commit(s)

    t = threading.Thread(target=trainer_a)
    t.start()
    assert started.wait(60)
    import importlib; T = importlib.import_module('nfl_utils.train')
    calls = []
    real_setup = T.setup
    monkeypatch.setattr(T, "setup", lambda *a, **k: calls.append(1) or real_setup(*a, **k))
    threading.Timer(0.5, release.set).start()
    b = train(cfg, progress=False)                     # blocks on the lock until A has committed
    t.join(60)
    assert calls == [] and b.path == result["a"].path
    store.verify(b.path)
    assert not store.partial_path(cfg.hash).parent.exists()
    # saving progress after someone else's commit removed the directory does not crash either
    store.save_partial(cfg.hash, {"epoch": 0})
    assert store.partial_path(cfg.hash).exists()


# ----------------------------------------------------------------------------- training
def test_divergence_stops_at_the_step_and_names_the_setting(runs):
    cfg = Config(**{**TINY, "lr": 1e4, "loss": "mse"})
    with pytest.raises(Diverged, match=r"step \d+ \(epoch 1\).*lr=10000") as e:
        train(cfg, progress=False)
    assert "init_scale" in str(e.value)
    assert not (runs / cfg.hash).exists() and not store.partial_path(cfg.hash).exists()


def test_measurement_sets_smaller_than_the_classes_are_rejected():
    with pytest.raises(ValueError, match="measure_size=5.*number of classes \\(10\\)"):
        Config(**{**TINY, "measure_size": 5}).validate()
    with pytest.raises(ValueError, match="test_measure_size=50.*\\(100\\)"):
        Config(dataset="cifar100", test_measure_size=50).validate()


def test_command_line_errors_are_one_line_and_debug_shows_the_traceback(runs):
    env = {**os.environ, store.RUNS_ENV: str(runs)}
    args = [sys.executable, "-m", "nfl_utils.train", "--measure-size", "5", "--quiet"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode != 0 and out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("error: invalid config field measure_size=5")
    dbg = subprocess.run(args + ["--debug"], capture_output=True, text=True, env=env, timeout=120)
    assert dbg.returncode != 0 and "Traceback" in dbg.stderr
    sweep = subprocess.run([sys.executable, "-m", "nfl_utils.sweep", str(runs.parent / "nothing.yaml")],
                           capture_output=True, text=True, env=env, timeout=120)
    assert sweep.returncode != 0 and "Traceback" not in sweep.stderr and "nothing.yaml" in sweep.stderr


# ----------------------------------------------------------------------------- grids
@pytest.mark.parametrize("text, match", [
    ("", "empty file"), ("- 1\n- 2\n", "got list"), ("3\n", "got int"), ("backend: ray\n", "neither 'base' nor"),
    ("base: [1, 2]\n", "'base' must be a mapping"), ("base: {lr: [\n", "not valid YAML"),
])
def test_bad_grid_files_are_rejected_with_a_message(tmp_path, text, match):
    f = tmp_path / "g.yaml"
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_grid(f)


def test_yaml_numbers_are_numbers_and_equal_configs_share_a_hash(tmp_path):
    f = tmp_path / "g.yaml"
    f.write_text("base: {dataset: MNIST1D, lr: 1e-3, epochs: 2}\nvary: {seed: [0, 1]}\n")
    cfgs = expand(load_grid(f))
    assert cfgs[0].lr == 1e-3 and isinstance(cfgs[0].lr, float)
    assert cfgs[0].hash == Config(dataset="mnist1d", lr=0.001, epochs=2).hash


# ----------------------------------------------------------------------------- data
def write_idx(raw, labels_value=None, n=20):
    raw.mkdir(parents=True, exist_ok=True)
    for f, k, shape in [("train-images-idx3-ubyte", n, (28, 28)), ("train-labels-idx1-ubyte", n, ()),
                        ("t10k-images-idx3-ubyte", n // 2, (28, 28)), ("t10k-labels-idx1-ubyte", n // 2, ())]:
        dims = (k, *shape)
        head = bytes([0, 0, 8, len(dims)]) + np.array(dims, dtype=">u4").tobytes()
        labels = [labels_value] * k if labels_value is not None else [i % 10 for i in range(k)]
        body = bytes(int(np.prod(dims))) if shape else bytes(labels)
        (raw / f).write_bytes(head + body)


def test_uncompressed_idx_labels_are_range_checked(tmp_path, monkeypatch):
    monkeypatch.setenv(DF.CACHE_ENV, str(tmp_path / "c"))
    write_idx(tmp_path / "root" / "MNIST" / "raw", labels_value=200)
    with pytest.raises(DataError, match="labels are not in 0..9"):
        load_dataset("mnist", root=tmp_path / "root", download=False, verify=False)
    write_idx(tmp_path / "ok" / "MNIST" / "raw")
    b = load_dataset("mnist", root=tmp_path / "ok", download=False, verify=False, measure_size=10,
                     test_measure_size=10)
    assert sorted(set(b.y_train.tolist())) == list(range(10))


def test_idx_files_with_a_wrong_header_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(DF.CACHE_ENV, str(tmp_path / "c"))
    raw = tmp_path / "root" / "MNIST" / "raw"
    write_idx(raw)
    f = raw / "train-labels-idx1-ubyte"
    f.write_bytes(b"\x00\x00\x0d" + f.read_bytes()[3:])                 # float type code, same size
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        load_dataset("mnist", root=tmp_path / "root", download=False, verify=False)


def test_write_errors_are_reported_as_permission_or_disk_errors(tmp_path, monkeypatch):
    """A cache that cannot be written (permission, read-only disk, full disk) is said to be that,
    naming the path and the variable to set, never called a corrupted data file."""
    import errno
    import gzip

    root = tmp_path / "root" / "MNIST" / "raw"
    write_idx(root)
    for f in list(root.iterdir()):
        with gzip.open(str(f) + ".gz", "wb") as g:
            g.write(f.read_bytes())
        f.unlink()
    monkeypatch.setenv(DF.CACHE_ENV, str(tmp_path / "cache"))
    for code in (errno.EACCES, errno.EROFS, errno.ENOSPC):
        def refuse(path, write, code=code):
            raise OSError(code, os.strerror(code), str(path))
        monkeypatch.setattr(DF, "atomic_write", refuse)
        with pytest.raises(DataError) as e:
            load_dataset("mnist", root=tmp_path / "root", download=False, verify=False)
        msg = str(e.value)
        assert os.strerror(code) in msg and DF.CACHE_ENV in msg and "corrupted" not in msg


# ----------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("offset", [0.0, 1e4, 1e8])
def test_centred_spectrum_survives_a_large_common_offset(offset):
    g = torch.Generator().manual_seed(0)
    n, p = 2000, 24
    x = torch.randn(n, p, generator=g, dtype=torch.float64) @ torch.diag(torch.linspace(0.5, 2, p, dtype=torch.float64))
    X = x + offset
    out = X @ torch.randn(p, 3, generator=g, dtype=torch.float64) / p
    acc = SpectralAccumulator()
    for i in range(0, n, 700):
        acc.update(X[i:i + 700], outputs=out[i:i + 700])
    Xc = X - X.mean(0)                                    # two-pass centring of the same float64 data
    true = torch.linalg.eigvalsh(Xc.T @ Xc / n).flip(0)
    got = torch.as_tensor(acc.diagonalize(centre=True).eigenvalues)
    assert float((got - true).abs().max() / true.max()) < 1e-8
    assert acc.low_rank_measure() == pytest.approx(low_rank_measure_explicit(Xc, out - out.mean(0)), rel=1e-8)


def test_nan_is_never_turned_into_a_number():
    acc = SpectralAccumulator().update(torch.randn(50, 4, dtype=torch.float64), outputs=torch.randn(50, 2))
    acc._stats["outputs"].PF[0, 0] = float("nan")          # the moments themselves (a test of internals)
    assert np.isnan(acc.low_rank_measure())


def test_float16_features_with_large_column_sums_are_not_called_infinite():
    phi = torch.full((4000, 3), 60000.0, dtype=torch.float16)      # column sums overflow float16
    phi[:, 1] = torch.linspace(0, 1000, 4000).half()
    s = diagonalize(phi)
    assert np.isfinite(np.asarray(s.eigenvalues)).all()


def test_notebook_errors_of_the_project_are_one_line_and_the_cell_still_fails(capsys, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    from nfl_utils import plots

    monkeypatch.delenv("NFL_DEBUG", raising=False)
    shell = InteractiveShell.instance()
    plots.short_errors(shell)
    res = shell.run_cell("from nfl_utils.config import Config\nConfig(measure_size=3).validate()")
    assert isinstance(res.error_in_exec, ValueError)                     # the cell fails (papermill stops)
    err = capsys.readouterr()
    shown = err.out + err.err
    assert "InputError: invalid config field measure_size=3" in shown and "Traceback" not in shown
    for cell, kind in (("1 / 0", ZeroDivisionError), ("raise ValueError('a bug')", ValueError)):
        res = shell.run_cell(cell)                                        # not ours: the usual traceback
        assert isinstance(res.error_in_exec, kind) and "Traceback" in "".join(capsys.readouterr())
    InteractiveShell.clear_instance()


# ----------------------------------------------------------------------------- second round
def test_a_run_copied_under_another_hash_is_never_served_for_that_config(runs):
    import shutil

    a = train(Config(**TINY), progress=False)
    b_cfg = Config(**{**TINY, "lr": 0.2})
    shutil.copytree(a.path, runs / b_cfg.hash)                  # the lr 0.05 run, named as the lr 0.2 one
    with pytest.raises(store.DamagedRun, match="hashes to"):
        store.load_run(runs / b_cfg.hash)
    b = train(b_cfg, progress=False, force=True)                 # force repairs it with the right run
    assert b.cfg.lr == 0.2 and store.load_run(b.path).cfg == b_cfg


def test_a_run_whose_metrics_lack_a_column_is_damaged(runs):
    import hashlib
    import json

    run = train(Config(**TINY), progress=False)
    m = pd.read_csv(run.path / "metrics.csv").drop(columns=["train_dlr"])
    m.to_csv(run.path / "metrics.csv", index=False)
    sums = json.loads((run.path / "checksums.json").read_text())     # a consistent-looking edit
    sums["metrics.csv"] = hashlib.sha256((run.path / "metrics.csv").read_bytes()).hexdigest()
    (run.path / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(store.DamagedRun, match="train_dlr"):
        store.load_run(run.path)


def test_configs_that_build_the_same_or_no_net_are_refused():
    with pytest.raises(ValueError, match="batch_norm"):
        Config(model="mlp", batch_norm=True)             # was a second hash for the same MLP
    with pytest.raises(ValueError, match="model='cnn'"):
        Config(dataset="modadd", model="cnn")


def test_a_finished_run_in_a_read_only_store_is_read_through_train(runs, monkeypatch):
    import contextlib

    import importlib; T = importlib.import_module('nfl_utils.train')

    done = train(Config(**TINY), progress=False)

    @contextlib.contextmanager
    def read_only(run_hash):           # what a store without write permission does to the lock
        raise PermissionError(13, "Permission denied", str(runs / ".locks"))
        yield
    monkeypatch.setattr(T, "run_lock", read_only)
    again = train(Config(**TINY), progress=False)
    assert again.path == done.path and again.metrics.equals(done.metrics)
    with pytest.raises(PermissionError):                 # an unfinished run still needs the lock
        train(Config(**{**TINY, "lr": 0.3}), progress=False)


@pytest.mark.parametrize("garble", ["no opt", "epoch 999", "epoch str", "rows of other epochs", "rows unpaired"])
def test_garbled_progress_under_the_right_hash_is_discarded_and_training_starts_over(runs, capsys, garble):
    # reproduces the report: such a file crashed every rerun until --force, and epoch=999 committed
    # a damaged run
    cfg = Config(**TINY)
    s = setup(cfg)
    from nfl_utils.train import record
    record(s)
    state = s.progress_state()
    if garble == "no opt":
        del state["opt"]
    elif garble == "epoch 999":
        state["epoch"] = 999
    elif garble == "epoch str":
        state["epoch"] = "1"
    elif garble == "rows of other epochs":
        state["rows"] = [{**state["rows"][0], "epoch": 2}]
    else:
        state["arrays"] = []
    store.save_partial(cfg.hash, state)
    run = train(cfg, progress=False)
    assert "discarding saved progress" in capsys.readouterr().err
    assert list(run.metrics["epoch"]) == [0, 1, 3] and store.load_run(run.path).cfg == cfg


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")) + "base: {lr: 0.1}\n"


@pytest.mark.parametrize("text, match", [
    (BOMB, "no aliases"),                                                   # was a 226 MB error message
    ("base: {lr: 0.1, lr: 0.2}\n", "lr given twice"),                      # was: the last one wins
    ("base: {epochs: 010}\n", "leading zero"),                              # was read as 8
    ("base: {lr: 0.1}\nvary: {" + ", ".join(f"seed: [{', '.join(map(str, range(10)))}]".replace(
        "seed", f) for f in ("seed", "data_seed", "width", "depth", "epochs", "batch_size", "channels",
                             "measure_size", "heads", "vgg_base")) + "}\n", "combinations"),   # 10¹⁰ configs
])
def test_grid_files_are_bounded_unambiguous_and_never_expand_aliases(tmp_path, text, match):
    f = tmp_path / "g.yaml"
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        expand(load_grid(f))
    f.write_text("# " + "x" * 70_000 + "\nbase: {lr: 0.1}\n")                 # a huge file is not read
    with pytest.raises(ValueError, match="bytes"):
        load_grid(f)


@pytest.mark.parametrize("field, value, match", [
    ("width", 10 ** 11, "GiB"), ("width", 200_000, "GiB"), ("modadd_p", 20_000, "GiB"), ("modadd_p", 1, r"\[2, ")])
def test_sizes_that_cannot_fit_are_refused_with_the_size(field, value, match):
    extra = {"dataset": "modadd"} if field == "modadd_p" else {}
    with pytest.raises(ValueError, match=match):
        Config(**{field: value, **extra})


def test_claims_and_index_commands_on_nothing_say_what_to_do_in_one_line(tmp_path):
    env = {**os.environ, "NFL_RUNS_DIR": str(tmp_path / "empty"), "NFL_FIGURES_DIR": str(tmp_path / "f")}
    for args, match in ((["nfl_utils.claims", "quick"], "train the profile first"),
                        (["nfl_utils.claims", "nope"], "unknown profile"),
                        (["nfl_utils.plots", "index", str(tmp_path / "missing")], "make figures")):
        r = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env)
        assert r.returncode != 0 and match in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_temporaries_of_a_crashed_commit_are_cleaned_and_a_moved_aside_run_restored(runs):
    import shutil

    cfg = Config(**TINY)
    run = train(cfg, progress=False)
    (runs / f".tmp-{cfg.hash}-abc").mkdir()                      # a commit killed while writing
    shutil.copytree(run.path, runs / f".old-{cfg.hash}-123")    # a replace killed after moving aside
    train(cfg, progress=False)
    assert [p.name for p in runs.iterdir() if p.name.startswith((".tmp-", ".old-"))] == []
    os.rename(run.path, runs / f".old-{cfg.hash}-456")           # killed between the two renames
    again = train(cfg, progress=False)                           # the finished run comes back, not retrained
    assert again.path == run.path and again.meta == run.meta
