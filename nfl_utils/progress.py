"""Progress lines for a grid of runs, written where the user is looking (a terminal; under
``make figures`` the notebook's stderr, which papermill copies to the terminal).

One line when each run ends (i/N, label, what it took, elapsed, an estimate of the time left) and,
for long runs, a line at a checkpoint at most every ``every_s`` seconds.
"""
from __future__ import annotations

import sys
import time

from .config import Config
from typing import TextIO

# For "time left" only: the cost of a run is taken as epochs × training examples × (roughly) the
# multiply-adds of one example, from the layer sizes; a convolutional net counts as CONV_FACTOR
# MLPs.
INPUT_DIM = {"mnist": 784, "fashion-mnist": 784, "mnist1d": 40, "cifar10": 3072, "cifar100": 3072,
             "circle": 2, "oblique-tree": 20}
TYPICAL_N = {"circle": 1000, "oblique-tree": 20_000, "mnist1d": 8000}
CONV_FACTOR = {"cnn": 6.0, "vgg16": 300.0, "vgg16_bn": 300.0, "resnet18": 300.0,
               "transformer": 20.0}


def cost(cfg: Config) -> float:
    d = 2 * cfg.modadd_p if cfg.dataset == "modadd" else INPUT_DIM.get(cfg.dataset, 784)
    n = cfg.train_size or (round(cfg.modadd_fraction * cfg.modadd_p ** 2) if cfg.dataset == "modadd"
                           else TYPICAL_N.get(cfg.dataset, 50_000))
    w, C = cfg.width, cfg.num_classes
    per_example = (d * w + (cfg.depth - 1) * w * w + w * C) * CONV_FACTOR.get(cfg.model, 1.0)
    # + set-up and measuring
    return cfg.epochs * n * per_example * (0.1 if cfg.head_only else 1.0) + 2e8


def fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Reporter:
    """``begin()``; for each run ``start(label, cfg)``, ``checkpoint(session, row)`` (an
    ``on_checkpoint`` hook of :func:`nfl_utils.train.train`) and ``end(error)``; ``finish(failed)``.
    ``todo`` are the configs to train; ``loaded`` more were already in the store."""

    def __init__(self, todo: dict[str, Config], loaded: int = 0, stream: TextIO | None = None,
                 every_s: float = 15.0):
        self.todo, self.loaded, self.every_s = todo, loaded, every_s
        self.stream = stream or sys.stderr
        self.total_cost = sum(cost(c) for c in todo.values()) or 1.0
        self.done_cost, self.i, self.t0 = 0.0, 0, time.perf_counter()
        self.run_t0 = self.last = self.t0
        self.label = ""
        self.cfg = None

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def left(self) -> str:
        done = self.done_cost / self.total_cost
        if done <= 0:
            return "?"
        return fmt_s((time.perf_counter() - self.t0) * (1 - done) / done)

    def begin(self) -> None:
        self._say(f"training {len(self.todo)} run(s); {self.loaded} already in the store")

    def start(self, label: str, cfg: Config) -> None:
        self.i += 1
        self.label, self.cfg = label, cfg
        self.run_t0 = self.last = time.perf_counter()

    def checkpoint(self, session: object, row: dict) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every_s:
            self.last = now
            self._say(f"  [{self.i}/{len(self.todo)}] {self.label}: epoch "
                      f"{row['epoch']}/{self.cfg.epochs}, test acc {row['test_acc']:.3f}, "
                      f"{fmt_s(now - self.run_t0)} so far")

    def end(self, error: str | None = None) -> None:
        self.done_cost += cost(self.cfg)
        took = fmt_s(time.perf_counter() - self.run_t0)
        what = f"FAILED ({error})" if error else f"done in {took}"
        self._say(f"[{self.i}/{len(self.todo)}] {self.label}: {what} · elapsed "
                  f"{fmt_s(time.perf_counter() - self.t0)}, about {self.left()} left")

    def finish(self, failed: int) -> None:
        self._say(f"trained {self.i - failed} run(s), {failed} failed, {self.loaded} loaded from "
                  f"the store, in {fmt_s(time.perf_counter() - self.t0)}")
