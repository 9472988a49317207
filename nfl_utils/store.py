"""The run store: one directory per run, named by the hash of its config, written atomically.

Layout of ``$NFL_RUNS_DIR`` (default ``./runs``)::

    <hash>/config.json  meta.json  metrics.csv  arrays.npz  model.pt  DONE     a finished run
    .partial/<hash>/state.pt                                        resumable progress

A finished run appears in one ``os.rename`` of a complete temporary directory, so a killed run
never leaves a half-written ``<hash>/``; its ``.partial`` state (itself replaced atomically) lets
the next call resume.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import Config
from .run import Run

RUNS_ENV = "NFL_RUNS_DIR"


def runs_dir() -> Path:
    return Path(os.environ.get(RUNS_ENV, "runs")).expanduser().resolve()


def is_complete(path: Path) -> bool:
    return (path / "DONE").exists()


def load_run(path) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no run directory at {path} (was it deleted? re-run its config to rebuild it)")
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is not a finished run (no DONE marker); train its config to finish it")
    cfg = Config.from_dict(json.loads((path / "config.json").read_text()))
    meta = json.loads((path / "meta.json").read_text())
    try:
        metrics = pd.read_csv(path / "metrics.csv")
    except pd.errors.EmptyDataError:          # a run that recorded no checkpoint
        metrics = pd.DataFrame()
    with np.load(path / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return Run(path, cfg, meta, metrics, arrays)


def list_runs(root=None) -> list[Run]:
    root = Path(root) if root else runs_dir()
    if not root.is_dir():
        return []
    return [load_run(p) for p in sorted(root.iterdir()) if p.is_dir() and is_complete(p)]


def partial_path(run_hash: str) -> Path:
    return runs_dir() / ".partial" / run_hash / "state.pt"


def save_partial(run_hash: str, state: dict):
    path = partial_path(run_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_partial(run_hash: str):
    path = partial_path(run_hash)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception:          # unreadable progress: start over rather than trust it
        shutil.rmtree(path.parent, ignore_errors=True)
        return None


def commit_run(cfg: Config, meta: dict, metrics: pd.DataFrame, arrays: dict, model_state: dict,
               checkpoint_states: list | None = None) -> Path:
    """Write a finished run into a temporary directory, then rename it into place."""
    run_hash = cfg.hash
    root = runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / run_hash
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{run_hash}-"))
    try:
        (tmp / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1, sort_keys=True))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        metrics.to_csv(tmp / "metrics.csv", index=False)
        np.savez_compressed(tmp / "arrays.npz", **arrays)
        torch.save(model_state, tmp / "model.pt")
        if checkpoint_states:
            torch.save(checkpoint_states, tmp / "checkpoints.pt")
        (tmp / "DONE").write_text("complete\n")
        if final.exists() and not is_complete(final):
            shutil.rmtree(final)            # debris from an older, non-atomic writer
        try:
            os.rename(tmp, final)
        except OSError:
            if not is_complete(final):      # someone else finished it first: keep theirs
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(partial_path(run_hash).parent, ignore_errors=True)
    return final
