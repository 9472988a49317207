"""The run store: one directory per run, named by the hash of its config, written atomically.

Layout of ``$NFL_RUNS_DIR`` (default ``./runs``)::

    <hash>/config.json  meta.json  metrics.csv  arrays.npz  model.pt  checksums.json  DONE
    .partial/<hash>/state.pt        resumable progress (plain tensors and numbers only)
    .locks/<hash>.lock              held while a process trains that config

A finished run appears in one ``os.rename`` of a complete temporary directory, so a killed run
never leaves a half-written ``<hash>/``. ``--force`` replaces a finished run the same way (the old
one is moved aside, the new one renamed in, the old one removed). Every file of a run is checked
against ``checksums.json`` (written at commit) when it is loaded; a damaged run is reported by path,
skipped by listings, and repaired by training its config again with ``force=True``. Progress is
loaded with ``weights_only=True`` and only when it names the same config hash and schema.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import SCHEMA, Config
from .errors import NflError
from .paths import default_dir
from .datafiles import file_digest
from .run import Run
from typing import Iterator

RUNS_ENV = "NFL_RUNS_DIR"
RUN_FILES = ("config.json", "meta.json", "metrics.csv", "arrays.npz", "model.pt")
PER_RUN_ARRAYS = ("measure_idx", "test_measure_idx")   # arrays that are not one row per checkpoint


class DamagedRun(NflError):
    """A finished run whose files do not match what was committed."""

    def __init__(self, path: Path | str, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"damaged run at {path}: {reason}. Retrain its config with force=True "
                         f"(python -m nfl_utils.train ... --force) or delete the directory")


def runs_dir() -> Path:
    env = os.environ.get(RUNS_ENV)
    return Path(env).expanduser().resolve() if env else default_dir("runs")


def is_complete(path: Path) -> bool:
    return (Path(path) / "DONE").exists()


def verify(path: Path | str) -> None:
    """Raise :class:`DamagedRun` unless every file of the run matches its checksum."""
    path = Path(path)
    try:
        sums = json.loads((path / "checksums.json").read_text())
    except (OSError, ValueError) as e:
        raise DamagedRun(path,
                         f"checksums.json is missing or unreadable "
                         f"({e.__class__.__name__})") from None
    for name in RUN_FILES:
        if name not in sums:
            raise DamagedRun(path, f"checksums.json does not list {name}")
    for name, digest in sums.items():
        f = path / name
        if not f.is_file():
            raise DamagedRun(path, f"{name} is missing")
        if file_digest(f, "sha256") != digest:
            raise DamagedRun(path,
                             f"{name} does not match the checksum written when "
                             "the run was committed")


REQUIRED_COLUMNS = ("epoch", "step", "train_acc", "test_acc", "train_dlr")


def load_run(path: Path | str, check: bool = True) -> Run:
    """The finished run at ``path``; with ``check`` its files are verified against their checksums
    and its tables against its config's checkpoint count (``check=False``: read as it is)."""
    path = Path(path)
    for _ in range(3):
        before = _inode(path)
        try:
            return _load(path, check)
        except (DamagedRun, FileNotFoundError):
            # a run replaced while we read it (train(force=True) renames the new one into place)
            # mixes two runs' files: read it again; damage that stays in place is damage
            after = _inode(path)
            if after is None:             # between the two renames: the new run is a moment away
                time.sleep(0.05)
                after = _inode(path)
            if before is None or after in (before, None):
                raise
    return _load(path, check)


def _inode(path: Path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _load(path: Path, check: bool) -> Run:
    if not path.is_dir():
        raise FileNotFoundError(f"no run directory at {path} (was it deleted? re-run its "
                                "config to rebuild it)")
    if not is_complete(path):
        raise FileNotFoundError(f"{path} is not a finished run (no DONE marker); train "
                                "its config to finish it")
    if check:
        verify(path)
    try:
        cfg = Config.from_dict(json.loads((path / "config.json").read_text()))
        meta = json.loads((path / "meta.json").read_text())
        try:
            metrics = pd.read_csv(path / "metrics.csv")
        except pd.errors.EmptyDataError:
            metrics = pd.DataFrame()
        with np.load(path / "arrays.npz") as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError) as e:
        raise DamagedRun(path, f"{e.__class__.__name__}: {e}") from None
    if check:
        if cfg.hash != path.name:
            raise DamagedRun(path,
                             f"its config.json hashes to {cfg.hash}, not to the directory's name: "
                                   f"a run copied, renamed or edited (or of an older schema) is "
                                   f"never served for another config")
        missing = [c for c in REQUIRED_COLUMNS if c not in metrics]
        if missing:
            raise DamagedRun(path, f"metrics.csv lacks the columns {missing}")
        n = len(cfg.recorded_epochs(meta.get("stopped_epoch")))
        if len(metrics) != n:
            raise DamagedRun(path,
                             f"metrics.csv has {len(metrics)} rows, the config has {n} checkpoints")
        for k, a in arrays.items():
            if k not in PER_RUN_ARRAYS and (a.ndim == 0 or a.shape[0] != n):
                raise DamagedRun(path,
                                 f"array {k} has shape {a.shape}, expected {n} checkpoints first")
    return Run(path, cfg, meta, metrics, arrays)


def list_runs(root: Path | str | None = None, report: bool = True) -> list[Run]:
    """Every finished run under ``root``; damaged ones are skipped with a message on stderr."""
    root = Path(root) if root else runs_dir()
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if p.is_dir() and not p.name.startswith(".") and is_complete(p):
            try:
                out.append(load_run(p))
            except DamagedRun as e:
                if report:
                    print(f"skipped: {e}", file=sys.stderr)
    return out


# ----------------------------------------------------------------------------- progress of a run
def partial_path(run_hash: str) -> Path:
    return runs_dir() / ".partial" / run_hash / "state.pt"


def _plain(x):
    """Numpy arrays and scalars as tensors and Python numbers, so that weights_only loads them."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    if isinstance(x, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(x))}
    if isinstance(x, np.generic):
        return x.item()
    return x


def _numpy(x):
    if isinstance(x, dict):
        if set(x) == {"__ndarray__"}:
            return x["__ndarray__"].numpy()
        return {k: _numpy(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_numpy(v) for v in x)
    return x


def save_partial(run_hash: str, state: dict) -> None:
    path = partial_path(run_hash)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    os.close(fd)
    try:
        torch.save(_plain({**state, "hash": run_hash, "schema": SCHEMA}), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def discard_partial(run_hash: str, why: str | None = None) -> None:
    path = partial_path(run_hash)
    if why and path.exists():
        print(f"discarding saved progress {path}: {why}; training from the start", file=sys.stderr)
    shutil.rmtree(path.parent, ignore_errors=True)


def load_partial(run_hash: str) -> dict | None:
    """Saved progress of ``run_hash``, or None. Loaded with ``weights_only=True`` (no code runs);
    progress that cannot be read, or that names another config or schema, is discarded."""
    path = partial_path(run_hash)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:           # unreadable or not plain data: never trusted
        discard_partial(run_hash, f"it cannot be read as plain tensors ({e.__class__.__name__})")
        return None
    if (
        not isinstance(state, dict)
        or state.get("hash") != run_hash
        or state.get("schema") != SCHEMA
    ):
        found = state.get("hash") if isinstance(state, dict) else type(state).__name__
        discard_partial(run_hash, f"it belongs to {found!r}, not to {run_hash} (schema {SCHEMA})")
        return None
    return _numpy(state)


@contextlib.contextmanager
def run_lock(run_hash: str) -> Iterator[bool]:
    """Held while one process trains ``run_hash``: a second trainer of the same config waits, then
    finds the finished run instead of training it again."""
    try:
        import fcntl
    except ImportError:              # no advisory locks (Windows): nothing to hold
        yield
        return
    d = runs_dir() / ".locks"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / f"{run_hash}.lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting: another process is training {run_hash}", file=sys.stderr)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- commit
def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def clean_stale(run_hash: str) -> None:
    """Temporaries a crashed commit of ``run_hash`` left (call with its lock held, so no commit of
    it is under way): ``.tmp-*`` removed; a finished run moved aside (``.old-*``) is put back when
    the run's own directory is missing, else removed."""
    root = runs_dir()
    if not root.is_dir():
        return
    for d in root.glob(f".tmp-{run_hash}-*"):
        shutil.rmtree(d, ignore_errors=True)
    for d in root.glob(f".old-{run_hash}-*"):
        if not (root / run_hash).exists() and is_complete(d):
            os.rename(d, root / run_hash)
        else:
            shutil.rmtree(d, ignore_errors=True)


def _write_files(tmp: Path, cfg, meta, metrics, arrays, model_state, checkpoint_states) -> None:
    """A run's files into ``tmp``, their checksums, and DONE last."""
    (tmp / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1, sort_keys=True))
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    metrics.to_csv(tmp / "metrics.csv", index=False)
    np.savez_compressed(tmp / "arrays.npz", **arrays)
    torch.save(model_state, tmp / "model.pt")
    names = list(RUN_FILES)
    if checkpoint_states:
        torch.save(checkpoint_states, tmp / "checkpoints.pt")
        names.append("checkpoints.pt")
    (tmp / "checksums.json").write_text(
        json.dumps({n: file_digest(tmp / n, "sha256") for n in names}, indent=1)
    )
    (tmp / "DONE").write_text("complete\n")


def commit_run(cfg: Config, meta: dict, metrics: pd.DataFrame, arrays: dict, model_state: dict,
               checkpoint_states: list | None = None, replace: bool = False) -> Path:
    """Write a finished run into a temporary directory, then rename it into place. With
    ``replace`` a finished run of the same config is replaced (moved aside, then removed)."""
    run_hash = cfg.hash
    root = runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / run_hash
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{run_hash}-"))
    os.chmod(tmp, 0o777 & ~_umask())     # mkdtemp makes 0700; a shared store is read by the group
    old = None
    try:
        _write_files(tmp, cfg, meta, metrics, arrays, model_state, checkpoint_states)
        if final.exists() and (replace or not is_complete(final)):
            old = root / f".old-{run_hash}-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(final, old)            # moved aside: restored if the rename below fails
        try:
            os.rename(tmp, final)
        except OSError:
            if old is not None:
                os.rename(old, final)
                old = None
            if not is_complete(final):
                raise
            # someone else finished the same config first: theirs is as good as ours
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(partial_path(run_hash).parent, ignore_errors=True)
    return final
