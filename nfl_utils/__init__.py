"""nfl_utils: train networks, diagonalise their forward feature map Φ, and plot what they learn.

Companion to Nam, Mingard, Lee, Hayou & Louis, arXiv 2410.04264. Definitions: docs/measures.md.
"""
import os

# OpenBLAS (NumPy's and SciPy's: the eigendecompositions, dsyrk) keeps its worker threads spinning
# for 2^28 cycles (~0.1 s) after each call; on a 2-core machine they then take a core from the
# torch operation that follows (a checkpoint's float64 product ran 26 ms instead of 15 ms, and
# the first checkpoints of a run ~1.5x slower). 2^18 cycles (~0.1 ms) keeps the eigendecomposition
# as fast (its BLAS calls follow each other closely) and frees the core. Read when OpenBLAS loads:
# set here before this package imports SciPy, and by the Makefile for every command it runs.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "18")

__version__ = "0.1.0"

import sys  # noqa: E402
import types  # noqa: E402

# The public API, loaded on first use: ``import nfl_utils`` imports no torch, and ``python -m
# nfl_utils.train`` is not imported twice. Everything else lives in its module (nfl_utils.plots...).
_PUBLIC = {
    "diagonalize": "spectrum", "low_rank_measure": "spectrum", "effective_dimension": "spectrum",
    "Spectrum": "spectrum", "SpectralAccumulator": "spectrum", "probe": "probe", "Report": "probe",
    "Tracker": "track", "Config": "config", "train": "train", "run_sweep": "sweep",
    "load_run": "store", "list_runs": "store", "Run": "run",
    "NflError": "errors", "InputError": "errors", "DataError": "datafiles", "DamagedRun": "store",
}
__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'nfl_utils' has no attribute {name!r}; public names: "
                             f"{', '.join(sorted(_PUBLIC))} (the rest live in their modules)")
    import importlib

    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value          # cached: the next access is a plain attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))


class _Package(types.ModuleType):
    """``train`` and ``probe`` name both a module and its function. Importing the module sets the
    package's attribute to the module; this keeps the function there instead, so that ``from
    nfl_utils import train`` is the function whatever was imported before. The modules themselves:
    ``from nfl_utils.train import main`` or ``importlib.import_module("nfl_utils.train")``."""

    def __setattr__(self, name, value):
        if name in ("train", "probe") and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
