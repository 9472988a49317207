"""The run store: one directory per run, named by the hash of its config, written atomically.

Layout of ``$NFL_RUNS_DIR`` (default ``./runs``)::

    <hash>/config.json  metrics.csv  arrays.npz  model.pt  DONE     a finished run
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

RUNS_ENV = "NFL_RUNS_DIR"


def runs_dir() -> Path:
    return Path(os.environ.get(RUNS_ENV, "runs")).expanduser().resolve()


@dataclass
class Run:
    """A finished run: its config (a dict), metrics table and arrays (per checkpoint)."""

    path: Path
    config: dict
    metrics: pd.DataFrame
    arrays: dict

    @property
    def hash(self) -> str:
        return self.path.name

    def model_state(self, checkpoint: int | None = None):
        """Final weights, or those at checkpoint index ``checkpoint`` (runs trained with save_models)."""
        if checkpoint is None:
            return torch.load(self.path / "model.pt", map_location="cpu", weights_only=True)
        path = self.path / "checkpoints.pt"
        if not path.exists():
            raise FileNotFoundError(f"{self.hash} kept no per-checkpoint weights; train it with save_models=True")
        return torch.load(path, map_location="cpu", weights_only=True)[checkpoint]

    def __repr__(self):
        return f"Run({self.hash}, {self.config.get('dataset')}/{self.config.get('model')}, {len(self.metrics)} checkpoints)"


def is_complete(path: Path) -> bool:
    return (path / "DONE").exists()


def load_run(path) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no run directory at {path} (was it deleted? re-run its config to rebuild it)")
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is not a finished run (no DONE marker); train its config to finish it")
    with open(path / "config.json") as f:
        config = json.load(f)
    try:
        metrics = pd.read_csv(path / "metrics.csv")
    except pd.errors.EmptyDataError:          # a run that recorded no checkpoint
        metrics = pd.DataFrame()
    with np.load(path / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return Run(path, config, metrics, arrays)


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


def commit_run(run_hash: str, config: dict, metrics: pd.DataFrame, arrays: dict, model_state: dict,
               checkpoint_states: list | None = None) -> Path:
    """Write a finished run into a temporary directory, then rename it into place."""
    root = runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / run_hash
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{run_hash}-"))
    try:
        with open(tmp / "config.json", "w") as f:
            json.dump(config, f, indent=1, sort_keys=True)
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
