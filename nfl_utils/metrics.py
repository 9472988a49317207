"""Every number the companion records, defined once: its column name, a reader's label, what it
means and the docs/measures.md section that defines it. Runs (metrics.csv), ``probe``'s report, the
tracker's history, the plots and the claims all read their names from here.

Spectral numbers exist once per spectrum: ``train_u_gap`` is the gap of the uncentred spectrum on
the training measurement set (``test_…`` on the test set, ``c`` centred); ``probe`` and the tracker,
which measure one set, drop the split: ``u_gap``. :func:`column` builds every such name.

To add a measure of your own (CONTRIBUTING.md): write ``fn(checkpoint) -> float`` and call
:func:`register`; every run trained from then on records it as a column of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import InputError


@dataclass(frozen=True)
class Metric:
    name: str                 # the column (ASCII), e.g. "nc1" or the spectral key "gap"
    label: str                # a reader's name, e.g. "NC1", "gap ρ_C/ρ_C+1"
    meaning: str
    section: str              # the docs/measures.md section that defines it
    fn: Callable | None = None   # a registered measure: fn(Checkpoint) -> float


Q, M, S = "Quality, utility and the summary numbers", "Measures", "The spectrum of Φ"
D, NC = "Richness: D_LR", "Neural collapse and its kernel picture"
_SPECTRAL = [
    Metric("C", "C", "the C of the numbers below (2 for a scalar regression target)", Q),
    Metric("rank", "rank", "modes kept (eigenvalues above 1e-12 of the largest)", S),
    Metric("d_eff", "d_eff", "effective dimension: exp of the entropy of ρ_k/Σρ", Q),
    Metric("rho_1", "ρ_1", "the largest eigenvalue", S),
    Metric("trace", "Σρ", "the sum of the eigenvalues", S),
    Metric("gap", "gap ρ_C/ρ_C+1", "ρ_C/ρ_{C+1} (centred: ρ_{C−1}/ρ_C)", Q),
    Metric("pi_C", "Π(C)", "utility: share of the outputs f̂ in the top C eigenfunctions", Q),
    Metric("pi_all", "Π(p)", "share of the outputs in the span of all eigenfunctions", Q),
    Metric("k90", "k90", "fewest eigenfunctions holding 90% of the outputs (NaN: never)", Q),
    Metric("pistar_C", "Π*(C)", "quality: share of the target f* in the top C eigenfunctions", Q),
    Metric("pistar_all", "Π*(p)", "share of the target in the span of all eigenfunctions", Q),
    Metric("kstar90", "k*90", "fewest eigenfunctions holding 90% of the target (NaN: never)", Q),
    Metric("share_C", "Π*(C)/Π*(p)", "Π̃*(C), the regime criterion's share",
           "The regime criterion"),
]
_SCALAR = [
    Metric("epoch", "epoch", "the checkpoint's epoch", M),
    Metric("step", "step", "optimiser steps", M),
    Metric("train_loss", "train loss", "loss on the training measurement set", M),
    Metric("train_acc", "train accuracy", "accuracy on the training measurement set", M),
    Metric("test_loss", "test loss", "loss on the test measurement set", M),
    Metric("test_acc", "test accuracy", "accuracy on the test measurement set", M),
    Metric("train_dlr", "D_LR", "1 − CKA(T, T_MP) on the training measurement set", D),
    Metric("test_dlr", "D_LR (test)", "D_LR on the test measurement set", D),
    Metric("dlr", "D_LR", "D_LR of the measured set (probe, tracker)", D),
    Metric("s_init", "S_init", "linear CKA of Φ with Φ at initialisation", D),
    Metric("theta_norm2", "‖θ‖²", "squared norm of all parameters", D),
    Metric("theta_dist", "‖θ − θ₀‖", "distance of the parameters from initialisation", D),
    Metric("nc1", "NC1", "tr(Σ_W Σ_B⁺)/C", NC),
    Metric("nc2_equinorm", "NC2 (equinorm)", "spread of ‖μ_c − μ_G‖", NC),
    Metric("nc2_equiangular", "NC2 (equiangular)", "distance of the class means from a simplex ETF",
           NC),
    Metric("nc3", "NC3", "self-duality of the head and the class means", NC),
    Metric("nc4", "NC4", "disagreement with the nearest-class-mean rule", NC),
    Metric("regime", "regime", "MF, EF or between (the regime criterion)", "The regime criterion"),
    Metric("layer", "layer", "the module measured (probe, tracker)", M),
    Metric("n", "n", "samples measured", M), Metric("p", "p", "the features' width", M),
    Metric("measure_time", "measure s", "seconds this checkpoint's measurement took", M),
    Metric("train_time", "train s", "seconds of training since the last checkpoint", M),
]
SPECTRAL: dict[str, Metric] = {m.name: m for m in _SPECTRAL}
SCALAR: dict[str, Metric] = {m.name: m for m in _SCALAR}
EXTRA: dict[str, Metric] = {}         # measures registered by users (register())
SPLITS, SIDES = ("train", "test"), ("u", "c")


def column(key: str, centred: bool = False, split: str | None = "train") -> str:
    """The column of a spectral number: ``column("gap")`` → ``train_u_gap``; ``split=None`` →
    ``u_gap`` (probe, tracker)."""
    if key not in SPECTRAL:
        raise InputError(f"{key!r} is not a spectral number; known: {', '.join(SPECTRAL)}")
    side = "c" if centred else "u"
    return f"{side}_{key}" if split is None else f"{split}_{side}_{key}"


def parse(col: str) -> tuple[str | None, str | None, Metric] | None:
    """(split, side, Metric) of a column, None if it is not one the companion defines."""
    if col in SCALAR or col in EXTRA:
        return None, None, SCALAR.get(col) or EXTRA[col]
    parts = col.split("_", 2)
    if len(parts) == 3 and parts[0] in SPLITS and parts[1] in SIDES and parts[2] in SPECTRAL:
        return parts[0], parts[1], SPECTRAL[parts[2]]
    side, _, key = col.partition("_")
    if side in SIDES and key in SPECTRAL:
        return None, side, SPECTRAL[key]
    return None


def label(col: str) -> str:
    """A reader's name: ``u_pistar_C`` → ``Π*(C)``, ``train_c_gap`` → ``gap ρ_C/ρ_C+1 (centred)``;
    an unknown column as it is."""
    got = parse(col)
    if got is None:
        return col
    split, side, m = got
    return m.label + (" (centred)" if side == "c" else "") + (" (test)" if split == "test" else "")


def register(name: str, fn: Callable, label: str | None = None, meaning: str = "",
             section: str = "") -> Metric:
    """Add a measure every later checkpoint records as column ``name``: ``fn(checkpoint)`` → float,
    with ``checkpoint`` a :class:`nfl_utils.measure.Checkpoint` (Φ, labels, outputs, model,
    config)."""
    if not name.isidentifier() or not name.isascii() or parse(name) is not None:
        raise InputError(f"{name!r}: a measure needs a new ASCII identifier for its column")
    EXTRA[name] = Metric(name, label or name, meaning, section, fn)
    return EXTRA[name]


def unregister(name: str) -> None:
    EXTRA.pop(name, None)
