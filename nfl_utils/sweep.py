"""Grids of runs: expand, skip what the store already holds, run the rest serially or on Ray.

    python -m nfl_utils.sweep grid.yaml [--backend ray|serial] [--num-cpus 2]

A grid file (YAML)::

    base: {dataset: mnist1d, model: mlp, epochs: 20}
    vary: {lr: [0.01, 0.05, 0.2], seed: [0, 1]}

Ray: a local instance by default, an existing cluster when ``RAY_ADDRESS`` is set (``ray start
--head`` on one machine, ``ray start --address=HEAD:6379`` on the others). Every worker must see
the same run store: point ``NFL_RUNS_DIR`` at a shared filesystem path (NFS, Lustre, a mounted
bucket with atomic rename). Runs are written atomically and resume from ``.partial`` state, so a
worker killed mid-run is retried by Ray (``max_retries``) and continues where it stopped; a config
that raises is reported with its hash and error and does not stop the rest of the grid.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from dataclasses import dataclass, field

from .progress import Reporter
from .config import Config
from .store import is_complete, runs_dir
from .errors import InputError, one_line, user_errors
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from pathlib import Path

MAX_GRID_RUNS = 10_000      # combinations of one grid file
MAX_GRID_BYTES = 64 * 1024  # a grid file is a few lines of YAML
# workers write <hash>.pid here when they start a run (monitoring, tests)
PID_DIR_ENV = "NFL_SWEEP_PID_DIR"


def expand(grid: dict) -> list[Config]:
    """Configs of ``base`` × the product of ``vary`` (field → list of values), deduplicated by
    hash."""
    unknown = set(grid) - {"base", "vary", "backend", "num_cpus"}
    if unknown:
        raise InputError(f"unknown grid keys {sorted(unknown)}; a grid has 'base' and 'vary'")
    base, vary = dict(grid.get("base", {})), dict(grid.get("vary", {}))
    for k, v in vary.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise InputError(f"vary.{k} must be a non-empty list of values")
    keys = list(vary)
    size = math.prod(len(v) for v in vary.values())
    if size > MAX_GRID_RUNS:
        raise InputError(f"the grid has {size:,} combinations, more than {MAX_GRID_RUNS:,}: split "
                         f"it into several grid files (or vary fewer fields at once)")
    out, seen = [], set()
    for values in itertools.product(*(vary[k] for k in keys)):
        cfg = Config.from_dict({**base, **dict(zip(keys, values))})
        if cfg.hash not in seen:
            seen.add(cfg.hash)
            out.append(cfg)
    return out


def _yaml_loader():
    """PyYAML's SafeLoader with YAML 1.2 floats: ``1e-3`` is a number (YAML 1.1 reads it as
    text)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):       # never expanded: no alias bombs
                raise yaml.YAMLError(f"grid files take no aliases (*{self.peek_event().anchor}); "
                                     "write the values out")
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            keys = [self.construct_object(k, deep=True) for k, _ in node.value]
            twice = sorted({str(k) for k in keys if keys.count(k) > 1})
            if twice:
                raise yaml.YAMLError(f"key(s) {', '.join(twice)} given twice (line "
                                     f"{node.start_mark.line + 1})")
            return super().construct_mapping(node, deep)

        def construct_yaml_int(self, node):
            if re.fullmatch(r"[-+]?0[0-9_]+", node.value):   # YAML 1.1 reads 010 as octal 8
                raise yaml.YAMLError(f"{node.value!r} (line {node.start_mark.line + 1}): a number "
                                     "with a "
                                     "leading zero is ambiguous; write it without the zero")
            return super().construct_yaml_int(node)
    Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(
        r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)$"),
                                 list("-+0123456789."))
    return Loader


def load_grid(path: Path | str) -> dict:
    """A grid file: a mapping with ``base`` (a mapping of config fields) and ``vary`` (field →
    list)."""
    import yaml

    try:
        size = os.path.getsize(path)
        if size > MAX_GRID_BYTES:
            raise InputError(f"grid file {path} is {size:,} bytes, more than {MAX_GRID_BYTES:,}: a "
                             f"grid is a few lines of YAML")
        with open(path) as f:
            grid = yaml.load(f, Loader=_yaml_loader())
    except yaml.YAMLError as e:
        raise InputError(f"grid file {path} is not valid YAML: {e}") from None
    if not isinstance(grid, dict) or not grid:
        raise InputError(f"grid file {path} must be a mapping with 'base' and/or 'vary' (got "
                         f"{'an empty file' if not grid else type(grid).__name__})")
    if not {"base", "vary"} & set(grid):
        raise InputError(f"grid file {path} has neither 'base' nor 'vary' (keys: "
                         f"{', '.join(map(str, grid))})")
    for key in ("base", "vary"):
        if key in grid and not isinstance(grid[key], dict):
            raise InputError(f"grid file {path}: '{key}' must be a mapping of config fields, got "
                             f"{type(grid[key]).__name__}")
    if "base" in grid and "checkpoints" in grid["base"]:
        grid["base"]["checkpoints"] = tuple(grid["base"]["checkpoints"])
    return grid


@dataclass
class SweepResult:
    done: list = field(default_factory=list)      # hashes finished in this sweep
    skipped: list = field(default_factory=list)   # already complete in the store
    found: list = field(default_factory=list)  # finished by another process while this one waited
    failed: dict = field(default_factory=dict)    # hash -> error message
    seconds: float = 0.0

    def __str__(self):
        other = f", {len(self.found)} finished meanwhile by another process" if self.found else ""
        lines = [f"{len(self.done)} trained, {len(self.skipped)} already in the store{other}, "
                 f"{len(self.failed)} failed ({self.seconds:.1f} s)"]
        lines += [f"  FAILED {h}: {e}" for h, e in self.failed.items()]
        return "\n".join(lines)


def _waves(configs: list[Config]) -> list[list[Config]]:
    """Runs that copy gates from another run of the grid go after it."""
    hashes = {c.hash for c in configs}
    first = [c for c in configs if not (c.init_gates_from and c.init_gates_from in hashes)]
    later = [c for c in configs if c not in first]
    return [w for w in (first, later) if w]


def _train_one(cfg_dict: dict, store_path: str, threads: int | None, on_checkpoint=None):
    """Body of a worker task: train one config into the shared store. Returns (the run's hash,
    whether this process trained it rather than found it finished by another)."""
    os.environ["NFL_RUNS_DIR"] = store_path
    import torch

    from .train import train, trained_here

    if threads:
        torch.set_num_threads(threads)
    cfg = Config.from_dict({**cfg_dict, "checkpoints": tuple(cfg_dict["checkpoints"])})
    pid_dir = os.environ.get(PID_DIR_ENV)
    if pid_dir:
        os.makedirs(pid_dir, exist_ok=True)
        path = os.path.join(pid_dir, f"{cfg.hash}.{os.getpid()}.pid")
        # written whole, then named: a reader never sees it empty
        with open(path + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(path + ".tmp", path)
    run = train(cfg, progress=False, on_checkpoint=on_checkpoint)
    return cfg.hash, trained_here(run)


def run_sweep(configs: list[Config] | dict[str, Config], backend: str = "serial",
              num_cpus: int | None = None, max_retries: int = 3,
              progress: bool | str = True, threads_per_run: int | None = 1) -> SweepResult:
    """Train every config not yet complete; ``backend`` is 'serial' or 'ray'. ``configs`` is a
    list of configs or a dict {label: config}. ``progress``: True for a one-line counter,
    ``"lines"`` for a line per run on stderr (:mod:`nfl_utils.progress`; serial backend), False
    for nothing."""
    labelled = dict(configs) if isinstance(configs, dict) else {c.hash[:8]: c for c in configs}
    res = SweepResult()
    t0 = time.perf_counter()
    todo = _todo(labelled, res)
    if backend == "serial":
        _run_serial(todo, res, progress)
    elif backend == "ray":
        _run_ray(list(todo.values()), res, num_cpus, max_retries, bool(progress), threads_per_run)
    else:
        raise InputError(f"unknown backend {backend!r}; use 'serial' or 'ray'")
    res.seconds = time.perf_counter() - t0
    return res


def _todo(labelled: dict, res: SweepResult) -> dict:
    """{label: config} of the configs not yet complete, each hash once; the rest as skipped."""
    todo, seen = {}, set()
    for label, c in labelled.items():
        if is_complete(runs_dir() / c.hash):
            res.skipped.append(c.hash)
        elif c.hash not in seen:
            seen.add(c.hash)
            todo[label] = c
    return todo


def _run_serial(todo: dict, res: SweepResult, progress: bool | str) -> None:
    """Train ``todo`` in this process, wave by wave; a failure is recorded and the grid goes on."""
    rep = Reporter(todo, len(res.skipped)) if progress == "lines" else None
    if rep:
        rep.begin()
    by_hash = {c.hash: label for label, c in todo.items()}
    for wave in _waves(list(todo.values())):
        for cfg in wave:
            if rep:
                rep.start(by_hash[cfg.hash], cfg)
            err = None
            try:
                _, fresh = _train_one(cfg.to_dict(), str(runs_dir()), None,
                                      rep.checkpoint if rep else None)
                (res.done if fresh else res.found).append(cfg.hash)
            except Exception as e:   # reported, the grid goes on
                err = res.failed[cfg.hash] = failure(e)
            if rep:
                rep.end(err)
            else:
                _show(progress, res, len(todo), 0)
    if rep:
        rep.finish(len(res.failed))


def failure(e: BaseException, limit: int = 600) -> str:
    """``Type: message`` on one line (a message may hold a traceback or a download's log)."""
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg if len(msg) <= limit else msg[:limit - 1] + '…'}"


def _show(progress, res, total, running):
    if progress:
        print(f"\rfinished {len(res.done)}/{total}  running {running}  failed {len(res.failed)}",
              end="",
              file=sys.stderr, flush=True)


def _run_ray(todo, res, num_cpus, max_retries, progress, threads):
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        address = os.environ.get("RAY_ADDRESS")
        env = {k: os.environ[k] for k in ("OMP_WAIT_POLICY", PID_DIR_ENV, "NFL_DATA_ROOT",
                                          "NFL_CACHE_DIR")
               if k in os.environ}
        ray.init(address=address or None, num_cpus=None if address else num_cpus,
                 include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": env} if env else None)
    import torch
    gpus = 1 if torch.cuda.is_available() else 0
    task = ray.remote(num_cpus=threads or 1, num_gpus=gpus, max_retries=max_retries)(_train_one)
    store_path = str(runs_dir())
    try:
        for wave in _waves(todo):
            refs = {task.remote(c.to_dict(), store_path, threads): c for c in wave}
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for r in ready:
                    cfg = refs[r]
                    try:
                        _, fresh = ray.get(r)
                        (res.done if fresh else res.found).append(cfg.hash)
                    except Exception as e:   # the task's own error (or retries exhausted)
                        res.failed[cfg.hash] = failure(getattr(e, "cause", None) or e)
                _show(progress, res, len(todo), len(pending))
    except KeyboardInterrupt:
        for r in list(refs):
            ray.cancel(r, force=True)
        raise
    finally:
        if progress:
            print(file=sys.stderr)
        if started_here:
            ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nfl_utils.sweep",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("grid", nargs="?", help="YAML grid file (base + vary)")
    ap.add_argument("--profile", default=None,
                    help="train every run of this profile instead of a grid")
    ap.add_argument("--backend", choices=("serial", "ray"), default=None,
                    help="default: the grid's, else serial")
    ap.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray instance")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = ap.parse_args(argv)
    try:
        return _main(ap, args)
    except KeyboardInterrupt:
        print("\ninterrupted: the finished runs stay in the store; run the same command again "
              "to train the rest", file=sys.stderr)
        sys.exit(130)
    except user_errors() as e:
        if args.debug:
            raise
        sys.exit(one_line(e))


def _main(ap, args):
    if args.profile:
        from .profiles import table
        grid = {"configs": table(args.profile)}
    elif args.grid:
        grid = load_grid(args.grid)
    else:
        ap.error("give a grid file or --profile NAME")
    backend = args.backend or grid.get("backend", "serial")
    configs = grid["configs"] if "configs" in grid else expand(grid)
    print(
        f"{len(configs)} configs; store {runs_dir()}; backend {backend}"
        + (
            f" (RAY_ADDRESS={os.environ['RAY_ADDRESS']})"
            if backend == "ray" and os.environ.get("RAY_ADDRESS")
            else ""
        )
    )
    if not configs:
        raise InputError("the grid has no configs")
    res = run_sweep(configs, backend=backend, num_cpus=args.num_cpus or grid.get("num_cpus"))
    print(res)
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
