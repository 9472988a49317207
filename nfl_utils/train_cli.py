"""The command line of :mod:`nfl_utils.train`: ``python -m nfl_utils.train --dataset mnist ...``
trains one run (or loads it from the store) and prints its summary table."""
from __future__ import annotations

import argparse
import importlib
import sys

from .config import add_config_arguments, config_from_args
from .errors import one_line, user_errors
from .run import Run


SUMMARY_COLUMNS = ["epoch", "train_acc", "test_acc", "train_u_pi_C", "train_u_pistar_C",
                   "train_u_k90", "train_u_gap", "train_c_d_eff", "train_dlr", "s_init", "nc1",
                   "train_time", "measure_time"]


def summary_table(run: Run) -> str:
    cols = [c for c in SUMMARY_COLUMNS if c in run.metrics]
    return run.metrics[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nfl_utils.train",
                                description="Train one run (or load it from the store) and print "
                                            "its summary.")
    add_config_arguments(p)
    p.add_argument("--force", action="store_true", help="retrain even if the run is in the store")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return p


def main(argv: list[str] | None = None) -> Run:
    """Train one run (or load it) from command-line config fields; print its summary."""
    args = parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
        T = importlib.import_module("nfl_utils.train")     # the module (the package exports a
        run = T.train(cfg, progress=not args.quiet, force=args.force)   # function of that name)
    except user_errors() as e:
        if args.debug:
            raise
        sys.exit(one_line(e))
    print(f"run directory: {run.path}")
    print(summary_table(run))
    return run
