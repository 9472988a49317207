"""Benchmarks over whole runs: a sweep serial vs Ray, the measurement share of every run of a
profile (from the store), and what sharing Φ's side between runs of one initial network saves
(:mod:`nfl_utils.initial`). ``python -m nfl_utils.bench sweep|measure|sharing``."""
from __future__ import annotations

import os
import tempfile

import torch
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    import argparse


def sweep(args: argparse.Namespace) -> None:
    """Wall time of a grid of small mnist1d runs: serial in one process vs Ray with 2 local
    workers."""
    from nfl_utils.sweep import expand, run_sweep

    grid = {"base": dict(dataset="mnist1d", model="mlp", width=128, epochs=args.epochs,
                         train_size=4000,
                         measure_size=500, test_measure_size=500, checkpoints=(0, args.epochs)),
            "vary": {"lr": [0.01, 0.03, 0.1, 0.3], "seed": [0, 1]}}
    configs = expand(grid)
    times = {}
    for backend in ("serial", "ray"):
        with tempfile.TemporaryDirectory() as d:
            os.environ["NFL_RUNS_DIR"] = d
            res = run_sweep(configs, backend=backend, num_cpus=args.workers, progress=False,
                            threads_per_run=1 if backend == "ray" else None)
            assert not res.failed, res.failed
            times[backend] = res.seconds
    print(f"# sweep benchmark: {len(configs)} mnist1d MLP runs of {args.epochs} epochs, "
          f"{os.cpu_count()} cores")
    print(f"serial (one process, {torch.get_num_threads()} threads): {times['serial']:.1f} s")
    print(f"ray ({args.workers} local workers, 1 thread each, incl. start-up): {times['ray']:.1f} "
          "s")
    print(f"speed-up: {times['serial'] / times['ray']:.2f}x")


def measure_share(args: argparse.Namespace) -> float:
    """Training and measuring seconds of every run of a profile, as recorded in each run's meta."""
    from nfl_utils import profiles
    from nfl_utils.store import is_complete, load_run, runs_dir

    print(f"# measurement share of training, profile {args.profile} (from each run's meta.json; "
          f"store {runs_dir()})")
    print(f"{'run':<48} {'train s':>8} {'measure s':>9} {'share':>6}")
    seen, worst, missing, tot_t, tot_m = set(), 0.0, 0, 0.0, 0.0
    for label, cfg in profiles.table(args.profile).items():
        if cfg.hash in seen:
            continue
        seen.add(cfg.hash)
        if not is_complete(runs_dir() / cfg.hash):
            missing += 1
            continue
        m = load_run(runs_dir() / cfg.hash).meta
        share = m["measure_seconds"] / m["train_seconds"]
        worst = max(worst, share)
        tot_t, tot_m = tot_t + m["train_seconds"], tot_m + m["measure_seconds"]
        print(f"{label[:48]:<48} {m['train_seconds']:>8.1f} {m['measure_seconds']:>9.2f} "
              f"{share:>6.1%}")
    if missing:
        print(f"# {missing} run(s) not in the store: train the profile first (make figures)")
    if tot_t:
        print(f"{'all runs together':<48} {tot_t:>8.1f} {tot_m:>9.2f} {tot_m / tot_t:>6.1%}")
    print(f"# largest share: {worst:.1%} (target: at most 10%)")
    return worst


SHARED_PAIRS = (("main: MLP, MSE", "main: MLP, MSE, head-only"),          # (run, its control)
                ("rich vs lazy: full [seed 0]", "rich vs lazy: full, head-only [seed 0]"))


def sharing(args: argparse.Namespace) -> dict:
    """Each quick-profile run of ``SHARED_PAIRS`` and then its head-only control, trained into an
    empty store twice: with Φ's side shared between them (the default) and with nothing shared
    (``initial.KEEP = 0``). Prints the controls' measurement seconds both ways: the saving."""
    from nfl_utils import initial, profiles
    from nfl_utils.store import load_run
    from nfl_utils.sweep import run_sweep

    table = profiles.table("quick")
    configs = [table[n] for pair in SHARED_PAIRS for n in pair]
    controls = {table[control].hash for _, control in SHARED_PAIRS}
    out, keep, store = {}, initial.KEEP, os.environ.get("NFL_RUNS_DIR")
    try:
        for mode, k in (("shared", keep), ("not shared", 0)):
            initial.KEEP = k
            initial.clear()
            with tempfile.TemporaryDirectory() as d:
                os.environ["NFL_RUNS_DIR"] = d
                res = run_sweep(configs, progress=False)
                assert not res.failed, res.failed
                metas = {c.hash: load_run(os.path.join(d, c.hash)).meta for c in configs}
            out[mode] = sum(m["measure_seconds"] for h, m in metas.items() if h in controls)
            out[mode + ", all"] = sum(m["train_seconds"] + m["measure_seconds"]
                                      for m in metas.values())
    finally:                                       # the caller's store and sharing as they were
        initial.KEEP = keep
        if store is None:
            os.environ.pop("NFL_RUNS_DIR", None)
        else:
            os.environ["NFL_RUNS_DIR"] = store
    print(f"# sharing Φ's side between a run and its head-only control "
          f"({', '.join(run for run, _ in SHARED_PAIRS)}; {torch.get_num_threads()} threads)")
    for mode in ("shared", "not shared"):
        print(f"controls' measurement, {mode:<10}: {out[mode]:6.2f} s (runs and controls: "
              f"{out[mode + ', all']:.1f} s of training and measurement)")
    saved = out["not shared"] - out["shared"]
    print(f"saving: {saved:.2f} s ({saved / out['not shared']:.0%} of the controls' measurement, "
          f"{saved / out['not shared, all']:.1%} of the pairs' time)")
    return out
