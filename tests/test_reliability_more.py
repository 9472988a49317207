"""Reliability, second round (issue: reliability): the cases the first round left falling.

Each test reproduces one case (a cache path that is a file, a full disk, a sweep's reports, Ctrl-C,
a reader racing a replace, features beyond float64's Gram, the data a run used) and asserts what
happens now.
"""
import errno
import importlib
import os
import subprocess
import sys

import pytest
import torch

from nfl_utils import datafiles as DF
from nfl_utils import store
from nfl_utils import sweep as S
from nfl_utils.config import Config
from nfl_utils.data import load_dataset
from nfl_utils.linalg import one_hot
from nfl_utils.spectrum import SpectralAccumulator, low_rank_measure
from nfl_utils.train import train

T = importlib.import_module("nfl_utils.train")
TINY = dict(dataset="mnist1d", model="mlp", width=16, epochs=1, train_size=200, measure_size=100,
            test_measure_size=100, batch_size=100, lr=0.05, checkpoints=(0, 1))
CLI = [sys.executable, "-m", "nfl_utils.train", "--dataset", "mnist1d", "--epochs", "1",
       "--train-size", "200", "--measure-size", "100", "--test-measure-size", "100",
       "--checkpoints", "0", "1", "--width", "16", "--quiet"]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(DF.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "runs"


@pytest.mark.parametrize("which", ["NFL_CACHE_DIR", "NFL_RUNS_DIR"])
def test_a_store_or_cache_path_that_is_a_file_is_one_line_naming_the_variable(tmp_path, which):
    (tmp_path / "afile").write_text("not a folder")
    env = {**os.environ, "NFL_CACHE_DIR": str(tmp_path / "c"), "NFL_RUNS_DIR": str(tmp_path / "r")}
    env[which] = str(tmp_path / "afile")
    out = subprocess.run(CLI, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.count("\n") <= 1 and "a file stands where a folder is needed" in out.stderr
    assert which in out.stderr and "corrupted" not in out.stderr


def test_a_cache_path_that_is_a_file_is_not_called_a_corrupted_download(tmp_path, monkeypatch):
    import gzip

    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f, dims in [("train-images-idx3-ubyte", (20, 28, 28)), ("train-labels-idx1-ubyte", (20,)),
                    ("t10k-images-idx3-ubyte", (10, 28, 28)), ("t10k-labels-idx1-ubyte", (10,))]:
        head = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
        body = bytes(28 * 28 * dims[0]) if len(dims) == 3 else bytes(i % 10 for i in range(dims[0]))
        with gzip.open(raw / (f + ".gz"), "wb") as g:
            g.write(head + body)
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv(DF.CACHE_ENV, str(tmp_path / "afile"))
    with pytest.raises(DF.DataError) as e:
        load_dataset("mnist", root=tmp_path / "root", download=False, verify=False)
    assert "a file stands where a folder is needed" in str(e.value) and "corrupted" not in str(e.value)
    assert DF.CACHE_ENV in str(e.value)


def test_a_full_disk_while_committing_is_one_line_and_keeps_nothing_half_written(runs, monkeypatch,
                                                                                 capsys):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(runs / "x"))
    monkeypatch.setattr(T, "commit_run", full)
    with pytest.raises(SystemExit) as e:
        T.main(CLI[3:])
    assert str(e.value.code).startswith("error: no space left on the device") and "NFL_RUNS_DIR" in \
        str(e.value.code)
    assert not store.is_complete(runs / Config(**TINY).hash)


def test_a_sweep_failure_is_reported_on_one_line_even_when_its_message_holds_a_log(runs, monkeypatch):
    def failing(*a, **k):
        raise DF.DataError("mnist not found (download failed: Error downloading:\nTried a, got:\n"
                           "<urlopen error>\n)")
    monkeypatch.setattr(T, "train", failing)
    res = S.run_sweep([Config(**TINY)], progress=False)
    (msg,) = res.failed.values()
    assert msg.startswith("DataError: mnist not found") and "\n" not in msg and msg != "DataError: )"
    assert S.failure(ValueError("x" * 5000)).endswith("…") and len(S.failure(ValueError("x" * 5000))) < 700


def test_a_run_another_process_finished_meanwhile_is_not_reported_as_trained_here(runs, monkeypatch):
    cfg = Config(**TINY)
    monkeypatch.setattr(T, "TRAINER", "another process")
    train(cfg, progress=False)                     # the other sweep's run, finished while we waited
    monkeypatch.undo()
    monkeypatch.setenv(store.RUNS_ENV, str(runs))
    monkeypatch.setattr(S, "is_complete", lambda path: False)    # not finished when we looked
    res = S.run_sweep([cfg], progress=False)
    assert res.done == [] and res.found == [cfg.hash] and "finished meanwhile by another" in str(res)
    monkeypatch.setattr(S, "is_complete", lambda path: False)
    own = Config(**{**TINY, "seed": 1})
    res = S.run_sweep([own], progress=False)
    assert res.done == [own.hash] and res.found == []


def test_ctrl_c_in_a_sweep_is_one_line_with_exit_code_130(tmp_path, monkeypatch, capsys):
    (tmp_path / "g.yaml").write_text("base: {dataset: mnist1d}\nvary: {seed: [0, 1]}\n")

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(S, "run_sweep", interrupted)
    with pytest.raises(SystemExit) as e:
        S.main([str(tmp_path / "g.yaml")])
    err = capsys.readouterr().err
    assert e.value.code == 130 and "interrupted" in err and "Traceback" not in err


def test_a_reader_racing_a_replace_reads_the_new_run_not_a_damaged_one(runs, monkeypatch):
    cfg = Config(**TINY)
    run = train(cfg, progress=False)
    real, calls = store._load, []

    def racing(path, check):
        calls.append(1)
        if len(calls) == 1:          # mid-read, train(force=True) swaps the new run into place
            train(cfg, progress=False, force=True)
            raise store.DamagedRun(path, "arrays.npz does not match the checksum")
        return real(path, check)
    monkeypatch.setattr(store, "_load", racing)
    again = store.load_run(run.path)
    assert len(calls) == 3 and again.cfg == cfg      # the race, train()'s own read, our retry
    monkeypatch.setattr(store, "_load", lambda path, check: (_ for _ in ()).throw(
        store.DamagedRun(path, "really damaged")))
    with pytest.raises(store.DamagedRun, match="really damaged"):   # damage in place stays damage
        store.load_run(run.path)


@pytest.mark.parametrize("scale", [1e77, 1e150, 1e-100, 1e-160])
def test_d_lr_is_the_same_for_features_far_outside_float64s_gram_range(scale):
    g = torch.Generator().manual_seed(0)
    phi = torch.randn(300, 12, generator=g, dtype=torch.float64)
    y = one_hot(torch.randint(0, 3, (300,), generator=g), 3)
    ref = low_rank_measure(phi, y)
    assert 0.0 < ref < 1.0
    big = phi * scale
    before = big.clone()
    assert low_rank_measure(big, y) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert torch.equal(big, before)                              # the caller's array untouched
    if scale > 1:
        with pytest.raises(ValueError, match="overflows float64.*scale-invariant"):
            SpectralAccumulator().update(big, outputs=y).low_rank_measure()


def test_a_run_records_the_digest_of_the_data_it_was_trained_on(runs):
    run = train(Config(**TINY), progress=False)
    other = train(Config(**{**TINY, "train_size": 150}), progress=False)
    again = load_dataset("mnist1d", train_size=200, measure_size=100, test_measure_size=100)
    assert run.meta["data_sha256"] == again.digest() != other.meta["data_sha256"]
    assert len(run.meta["data_sha256"]) == 64
