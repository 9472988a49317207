"""Sweeps: grid expansion, failures reported without stopping the grid, and a local Ray run that
survives a SIGKILLed worker with every run stored exactly once and identical to serial runs."""
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nfl_utils import store
from nfl_utils.config import Config
from nfl_utils.sweep import expand, load_grid, run_sweep

TINY = dict(dataset="mnist1d", model="mlp", width=32, epochs=8, train_size=1000, measure_size=200,
            test_measure_size=200, checkpoints=(0, 2, 4, 6, 8))


def test_expand_product_dedupe_and_errors(tmp_path):
    cfgs = expand({"base": TINY, "vary": {"lr": [0.01, 0.05], "seed": [0, 1, 1]}})
    assert len(cfgs) == 4 and len({c.hash for c in cfgs}) == 4
    assert {(c.lr, c.seed) for c in cfgs} == {(0.01, 0), (0.01, 1), (0.05, 0), (0.05, 1)}
    with pytest.raises(ValueError, match="unknown grid keys"):
        expand({"base": TINY, "grid": {}})
    with pytest.raises(ValueError, match="vary.lr must be a non-empty list"):
        expand({"base": TINY, "vary": {"lr": 0.1}})
    with pytest.raises(ValueError, match="lr=-1"):
        expand({"base": TINY, "vary": {"lr": [-1]}})
    f = tmp_path / "g.yaml"
    f.write_text("base: {dataset: mnist1d, width: 32, checkpoints: [0, 2]}\nvary: {lr: [0.01, 0.1]}\n")
    assert [c.checkpoints for c in expand(load_grid(f))] == [(0, 2), (0, 2)]


def test_serial_sweep_reports_failures_and_skips_finished(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path))
    good = Config(**{**TINY, "epochs": 2, "checkpoints": (0, 2)})
    bad = Config(**{**TINY, "model": "dlgn", "epochs": 2, "checkpoints": (0, 2), "init_gates_from": "f" * 16})
    res = run_sweep([bad, good], backend="serial", progress=False)
    assert res.done == [good.hash] and list(res.failed) == [bad.hash]
    assert "init_gates_from" in res.failed[bad.hash] and bad.hash in str(res)
    again = run_sweep([good], backend="serial", progress=False)
    assert again.skipped == [good.hash] and not again.done


def _killer(pid_dir: Path, stop: threading.Event, killed: list):
    """Kill -9 the first worker that has started a run and saved progress for it."""
    while not stop.is_set() and not killed:
        for f in pid_dir.glob("*.pid"):
            run_hash, pid = f.name.split(".")[0], int(f.read_text())
            if store.partial_path(run_hash).exists():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(run_hash)
                except ProcessLookupError:
                    pass
                break
        time.sleep(0.02)


@pytest.mark.slow
def test_ray_grid_survives_a_killed_worker_and_matches_serial(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    configs = expand({"base": TINY, "vary": {"lr": [0.01, 0.03, 0.1, 0.3], "seed": [0, 1]}})
    assert len(configs) == 8
    pid_dir = tmp_path / "pids"
    monkeypatch.setenv("NFL_SWEEP_PID_DIR", str(pid_dir))
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "ray"))
    stop, killed = threading.Event(), []
    t = threading.Thread(target=_killer, args=(pid_dir, stop, killed), daemon=True)
    t.start()
    try:
        res = run_sweep(configs, backend="ray", num_cpus=2, progress=False)
    finally:
        stop.set()
    assert killed, "no worker was killed mid-run"
    assert not res.failed and sorted(res.done) == sorted(c.hash for c in configs)
    root = tmp_path / "ray"
    dirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert sorted(p.name for p in dirs) == sorted(c.hash for c in configs)          # each exactly once
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp")]               # nothing half-written
    assert not any((root / ".partial").glob("*/state.pt"))
    killed_pids = {f.name for f in pid_dir.glob(f"{killed[0]}.*.pid")}
    assert len(killed_pids) >= 2                                                      # the killed run was retried

    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "serial"))
    monkeypatch.delenv("NFL_SWEEP_PID_DIR")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                                          # as the Ray workers ran
    try:
        ser = run_sweep(configs, backend="serial", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert len(ser.done) == 8
    for c in configs:
        a, b = store.load_run(root / c.hash), store.load_run(tmp_path / "serial" / c.hash)
        cols = [k for k in a.metrics if not k.endswith("_time")]
        assert a.metrics[cols].equals(b.metrics[cols]), c.hash
        for k in a.arrays:
            np.testing.assert_array_equal(a.arrays[k], b.arrays[k])
