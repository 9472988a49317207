"""Train a network, measure it at checkpoints, keep the result in the run store.

    python -m nfl_utils.train --dataset mnist1d --model mlp --epochs 30

``train(cfg)`` is four steps, each usable on its own: :func:`setup` (data, model, optimiser,
schedule), :func:`resume` (progress saved by an interrupted run), :func:`run_epochs` (the loop,
measuring at checkpoints and calling ``on_checkpoint``), and :func:`commit` (the run directory).
"""
from __future__ import annotations

import math
import subprocess
import uuid
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from .epoch import augment, evaluate, select, train_epoch  # noqa: F401  (re-exported)
from .build import get_data, make_model, make_optimizer, make_schedule, resolve_device
from .config import Config
from .models import Net
from .measure import (Reference, flat_params, forward_all, initial_reference, measure,
                      reference, stack_arrays)
from .store import (clean_stale, commit_run, discard_partial, is_complete, load_partial, load_run,
                    run_lock, runs_dir,
                    save_partial)
from .run import Run
from .errors import InputError, one_line, user_errors  # noqa: F401 (re-exported)
from typing import TYPE_CHECKING, Callable
if TYPE_CHECKING:                 # names used in annotations only
    from .data import DataBundle

SAVE_EVERY_S = 20.0   # progress is also saved between checkpoints when this much time has passed


class Diverged(InputError):
    """The training loss stopped being finite."""


@dataclass
class Session:
    """Everything one training run holds between steps."""
    cfg: Config
    device: torch.device
    data: object
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: object
    gen: torch.Generator
    steps_per_epoch: int
    epoch: int = 0
    rows: list = field(default_factory=list)
    arrays: list = field(default_factory=list)
    saved: list = field(default_factory=list)
    train_time: float = 0.0
    ref: Reference | None = None               # Φ₀ as the measures use it (measure.reference)
    theta0: torch.Tensor | None = None
    # a head-only run's frozen Φ and its measures (measure.measure)
    cache: dict = field(default_factory=dict)
    key: str | None = None  # fingerprint of the initial Φ's side (measure.initial_reference)
    # Φ₀ and its reference (setup, resume): booked with the next checkpoint
    unbooked_measure_time: float = 0.0
    best: dict | None = None  # keep_best: {"val", "epoch", "state"} of the best epoch so far
    stopped: bool = False                       # stop_loss reached: training ended early

    @property
    def phi0(self) -> torch.Tensor:
        return self.ref.phi.cpu()

    def progress_state(self) -> dict:
        return {"epoch": self.epoch, "model": self.model.state_dict(), "opt": self.opt.state_dict(),
                "sched": self.sched.state_dict(), "gen": self.gen.get_state(), "rows": self.rows,
                "arrays": self.arrays, "phi0": self.phi0, "theta0": self.theta0,
                "train_time": self.train_time, "saved": self.saved, "best": self.best,
                "stopped": self.stopped}


def setup(cfg: Config, data: DataBundle | None = None) -> Session:
    """Data, network (on its device, gates transplanted, frozen parts frozen), optimiser and
    per-step schedule of ``cfg``, and the reference Φ₀ and θ₀ of the initialisation."""
    cfg.validate()
    device = resolve_device(cfg.device)
    data = data if data is not None else get_data(cfg)
    model = make_model(cfg, data).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if cfg.init_gates_from:
        from .dlgn import transplant_gates

        src = runs_dir() / cfg.init_gates_from
        if not is_complete(src):
            raise InputError(f"invalid config field init_gates_from={cfg.init_gates_from!r}: no "
                             f"finished run at {src}; train that run first")
        transplant_gates(model, load_run(src).model_state())
    if cfg.head_only:
        model.features.requires_grad_(False)
    if cfg.freeze_gates:
        model.features.gates.requires_grad_(False)
    opt = make_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
    steps = math.ceil(data.n_train / cfg.batch_size)
    s = Session(cfg, device, data, model, opt, make_schedule(cfg, opt, steps * cfg.epochs),
                torch.Generator().manual_seed(cfg.seed + 1), steps)
    t0 = time.perf_counter()  # Φ₀ exists for the measures (S_init, epoch 0): timed as measurement
    s.ref, s.key = initial_reference(model, data, cfg)
    s.theta0 = flat_params(model).cpu()
    s.unbooked_measure_time = time.perf_counter() - t0
    return s


PROGRESS_KEYS = ("epoch", "model", "opt", "sched", "gen", "rows", "arrays", "phi0", "theta0",
                 "train_time")


def implausible(state: dict, cfg: Config) -> str | None:
    """Why saved progress cannot be this config's (None when it can): every key present, an epoch
    inside the run, one row and one array set per checkpoint passed, in order."""
    missing = [k for k in PROGRESS_KEYS if k not in state]
    if missing:
        return f"it lacks {missing}"
    e, rows = state["epoch"], state["rows"]
    if not isinstance(e, int) or isinstance(e, bool) or not 0 <= e <= cfg.epochs:
        return f"its epoch {e!r} is not in [0, {cfg.epochs}]"
    arrays = state["arrays"]
    if not isinstance(rows, list) or not isinstance(arrays, list) or len(rows) != len(arrays):
        return "its rows and arrays do not pair up"
    try:
        done = [int(r["epoch"]) for r in rows]
    except (TypeError, KeyError, ValueError):
        return "its rows are not checkpoint rows"
    want = [c for c in cfg.recorded_epochs(e if state.get("stopped") else None) if c <= e]
    if done != want and not (e == 0 and not done):     # epoch 0 unmeasured: run_epochs measures it
        return f"its rows are for epochs {done}, not this config's checkpoints up to epoch {e}"
    return None


def resume(s: Session) -> bool:
    """Continue from the progress an interrupted run of the same config saved, if any. Progress
    whose tensors do not fit this network and optimiser is discarded with a message."""
    state = load_partial(s.cfg.hash)
    if state is None:
        return False
    why = implausible(state, s.cfg)
    if why:
        discard_partial(s.cfg.hash, why)
        return False
    mine = s.model.state_dict()
    theirs = state.get("model", {})
    if set(theirs) != set(mine) or any(theirs[k].shape != mine[k].shape for k in mine):
        discard_partial(s.cfg.hash, "its network does not match this config's")
        return False
    try:
        s.opt.load_state_dict(state["opt"])
    except (ValueError, KeyError) as e:
        discard_partial(s.cfg.hash, f"its optimiser state does not fit ({e})")
        return False
    s.model.load_state_dict(theirs)
    s.sched.load_state_dict(state["sched"])
    s.gen.set_state(state["gen"])
    s.epoch, s.rows, s.arrays = state["epoch"], state["rows"], state["arrays"]
    s.saved = state.get("saved", [])
    s.theta0, s.train_time = state["theta0"], state["train_time"]
    s.best, s.stopped = state.get("best"), state.get("stopped", False)
    t0 = time.perf_counter()
    s.ref = reference(state["phi0"].to(s.device), s.data.measurement_sets[1], s.cfg,
                      s.data.num_classes)
    s.unbooked_measure_time += time.perf_counter() - t0
    return True


def record(s: Session) -> dict:
    """Measure the current network (one checkpoint) and keep the row and arrays."""
    first = s.epoch == 0
    row, arr = measure(s.model, s.data, s.cfg, s.ref, s.theta0, s.cache, initial=first,
                       key=s.key if first else None)
    row["measure_time"] += s.unbooked_measure_time
    s.unbooked_measure_time = 0.0
    s.rows.append({"epoch": s.epoch, "step": s.epoch * s.steps_per_epoch, **row,
                   "train_time": s.train_time})
    s.arrays.append(arr)
    if s.cfg.save_models:
        s.saved.append({k: v.detach().cpu().clone() for k, v in s.model.state_dict().items()})
    return s.rows[-1]


def frozen_features(s: Session, xtr: torch.Tensor) -> torch.Tensor:
    """(the head alone, Φ of every training input): Φ is frozen (eval mode, no gradient), so it is
    computed once and the epochs train the same head on the same features without passing through
    the network again. That pass is part of training the head, and is timed as training."""
    t0 = time.perf_counter()
    phi = forward_all(s.model, xtr, amp=s.cfg.amp, channels_last=s.cfg.channels_last)[0]
    if s.device.type == "cuda":
        torch.cuda.synchronize()
    s.train_time += time.perf_counter() - t0
    return Net(torch.nn.Identity(), s.model.head, s.model.output_scale), phi


def diverged(s: Session, bad: int) -> Diverged:
    """The error for a loss that became NaN or infinite at batch ``bad`` of this epoch."""
    cfg = s.cfg
    return Diverged(f"the training loss became NaN or infinite at step "
                    f"{s.epoch * s.steps_per_epoch + bad + 1} (epoch {s.epoch + 1}): nothing was "
                    f"stored. Lower the learning rate (lr={cfg.lr:g}) or the initial scale "
                    f"(init_scale={cfg.init_scale:g})")


def run_epochs(s: Session, on_checkpoint: Callable | None = None, progress: bool = True) -> None:
    """Train to ``cfg.epochs``, measuring at every checkpoint epoch and saving progress there (and
    every SAVE_EVERY_S seconds); ``on_checkpoint(session, row)`` is called after each
    measurement."""
    cfg, checkpoints = s.cfg, set(s.cfg.checkpoint_epochs)
    net, xtr, ytr = s.model, s.data.x_train.to(s.device), s.data.y_train.to(s.device)
    if cfg.head_only and not cfg.augment:
        net, xtr = frozen_features(s, xtr)
    if s.epoch == 0 and not s.rows and 0 in checkpoints:
        row = record(s)
        save_partial(cfg.hash, s.progress_state())
        if on_checkpoint:
            on_checkpoint(s, row)
    from tqdm.auto import tqdm
    bar = tqdm(total=cfg.epochs, initial=s.epoch, desc=f"{cfg.dataset}/{cfg.model} {cfg.hash[:8]}",
               disable=not progress, leave=False)
    last_save = time.perf_counter()
    while s.epoch < cfg.epochs and not s.stopped:
        t0 = time.perf_counter()
        bad = train_epoch(net, s.opt, s.sched, xtr, ytr, cfg, s.gen, s.data.num_classes)
        if bad >= 0:
            discard_partial(cfg.hash)
            raise diverged(s, bad)
        if s.device.type == "cuda":
            torch.cuda.synchronize()
        s.epoch += 1
        end = select(s, net, xtr, ytr) if cfg.keep_best or cfg.stop_loss > 0 else False
        s.train_time += time.perf_counter() - t0
        bar.update(1)
        row = record(s) if s.epoch in checkpoints or end else None  # the last row: the kept weights
        stale = time.perf_counter() - last_save > SAVE_EVERY_S
        if row is not None or stale or s.epoch == cfg.epochs or end:
            save_partial(cfg.hash, s.progress_state())
            last_save = time.perf_counter()
        if row is not None:
            bar.set_postfix(test_acc=f"{row['test_acc']:.3f}", dlr=f"{row['train_dlr']:.3f}")
            if on_checkpoint:
                on_checkpoint(s, row)
    bar.close()


def code_version() -> str:
    """The git commit of the package's checkout (with '+dirty' for uncommitted changes), or
    'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        git = ["git", "-C", str(here)]
        rev = subprocess.run(git + ["rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=5).stdout.strip()
        return (rev + ("+dirty" if dirty else "")) or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def commit(s: Session, replace: bool = False) -> Run:
    """Write the finished run into the store (atomically) and return it."""
    metrics = pd.DataFrame(s.rows)
    out = stack_arrays(s.arrays)
    out["measure_idx"] = s.data.measure_idx.numpy()
    out["test_measure_idx"] = s.data.test_measure_idx.numpy()
    meta = {"code_version": code_version(), "torch": torch.__version__, "device": str(s.device),
            "seed": s.cfg.seed, "data_seed": s.cfg.data_seed, "num_classes": s.data.num_classes,
            "n_train": s.data.n_train, "train_seconds": s.train_time,
            "data_sha256": s.data.digest(), "trainer": TRAINER,
            "measure_seconds": float(metrics["measure_time"].sum()) if len(metrics) else 0.0}
    if s.cfg.stop_loss > 0:
        meta["stopped_epoch"] = s.epoch if s.stopped else None
    if s.best is not None:
        meta.update(best_epoch=s.best["epoch"], best_val_acc=s.best["val"])
    state = {k: v.cpu() for k, v in s.model.state_dict().items()}
    return load_run(commit_run(s.cfg, meta, metrics, out, state, s.saved or None, replace=replace))


# This process's mark in the runs it trains: a sweep tells the runs it trained from those another
# process finished while it waited for their lock.
TRAINER = uuid.uuid4().hex


def trained_here(run: Run) -> bool:
    """Whether this process trained ``run`` (rather than finding it finished)."""
    return run.meta.get("trainer") == TRAINER


def _lockable(run_hash: str) -> bool:
    """Whether this process can take the run's lock (not in a read-only store)."""
    try:
        with run_lock(run_hash):
            return True
    except OSError:
        return False


def train(cfg: Config, progress: bool = True, force: bool = False,
          on_checkpoint: Callable | None = None) -> Run:
    """Train ``cfg`` (or load it from the store when finished) and return the :class:`Run`.
    ``force`` retrains and replaces a stored run (also a damaged one). A second process training
    the same config waits for the first and then loads its run."""
    cfg.validate()
    done = runs_dir() / cfg.hash
    if is_complete(done) and not force and not _lockable(cfg.hash):
        return load_run(done)          # a read-only store: its finished runs are read as they are
    with run_lock(cfg.hash):
        clean_stale(cfg.hash)
        if is_complete(done) and not force:
            return load_run(done)
        s = setup(cfg)
        if force:
            discard_partial(cfg.hash)
        else:
            resume(s)
        run_epochs(s, on_checkpoint, progress)
        return commit(s, replace=force)


def main(argv: list[str] | None = None) -> Run:
    """``python -m nfl_utils.train``: :func:`nfl_utils.train_cli.main`."""
    from .train_cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    main()
