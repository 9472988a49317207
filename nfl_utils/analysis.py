"""Numbers and verdicts the notebooks quote, computed from stored runs: the regime criterion, the
kernel picture of collapse, and its regression form. Every criterion here is stated in
docs/measures.md before the runs that use it; the thresholds are ours (the paper's numeric criteria
are not known to us)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from .run import Run

LEVEL = 0.9          # the "90%" of k90 / k*90
MF_GAP = 10.0        # MF needs ρ_C/ρ_{C+1} ≥ MF_GAP ...
EF_GAP = 2.0         # ... EF needs ρ_C/ρ_{C+1} < EF_GAP
SHARE = 0.9          # ... and Π̃*(C) ≥ SHARE (MF) or < SHARE (EF)


def fmt_k(v: float, curve: str = "Π*") -> str:
    """k90 (curve "Π") or k*90 (curve "Π*") for text: the count, or 'never' where it never reaches
    90%."""
    return f"{v:.0f}" if np.isfinite(v) else f"never ({curve} stays < 0.9)"


def top_fraction(eigenvalues: np.ndarray, k: int) -> float:
    """Σ_{j≤k} ρ_j / Σ ρ_j: the share of the kernel's trace in its top k modes."""
    return float(eigenvalues[:k].sum() / eigenvalues.sum())


def regime(gap: float, pistar_C: float, pistar_all: float) -> str:
    """The regime criterion (docs/measures.md): with Π̃*(C) = Π*(C)/Π*(p),
    MF ⇔ gap ≥ 10 and Π̃*(C) ≥ 0.9; EF ⇔ gap < 2 and Π̃*(C) < 0.9; otherwise "between"."""
    share = pistar_C / pistar_all if pistar_all > 0 else math.nan
    if gap >= MF_GAP and share >= SHARE:
        return "MF"
    if gap < EF_GAP and share < SHARE:
        return "EF"
    return "between"


def regime_numbers(run: Run, checkpoint: int = -1) -> dict:
    """The two numbers of the criterion at one checkpoint (train measurement set, uncentred) and the
    verdict."""
    m = run.metrics.iloc[checkpoint]
    gap, pc, pall = (
        float(m["train_u_gap"]),
        float(m["train_u_pistar_C"]),
        float(m["train_u_pistar_all"]),
    )
    return {"epoch": int(m["epoch"]), "gap": gap, "share": pc / pall,
            "verdict": regime(gap, pc, pall)}


def regime_row(run: Run, control: Run | None = None, checkpoint: int = -1) -> dict:
    """The verdict beside its controls: the same net at initialisation and, when given, its
    head-only twin at the same checkpoint."""
    m = run.metrics.iloc[checkpoint]
    now, init = regime_numbers(run, checkpoint), regime_numbers(run, 0)
    row = {"epoch": now["epoch"], "test acc": float(m["test_acc"]), "gap ρC/ρC+1": now["gap"],
           "Π̃*(C)": now["share"], "verdict": now["verdict"], "k*90": float(m["train_u_kstar90"]),
           "d_eff (centred)": float(m["train_c_d_eff"]), "D_LR": float(m["train_dlr"]),
           "init: gap": init["gap"], "init: Π̃*(C)": init["share"],
           "init: verdict": init["verdict"]}
    if control is not None:
        c = regime_numbers(control, checkpoint)
        row.update({"head-only: gap": c["gap"], "head-only: Π̃*(C)": c["share"],
                    "head-only: verdict": c["verdict"]})
    return row


def regime_table(runs: dict, controls: dict | None = None) -> pd.DataFrame:
    """One regime_row per named run; ``controls`` maps a name to its head-only twin."""
    controls = controls or {}
    return pd.DataFrame({n: regime_row(r, controls.get(n)) for n, r in runs.items()}).T


def first_epoch_in(run: Run, verdict: str = "MF") -> int | None:
    """The first checkpoint epoch at which the run reads ``verdict``, or None."""
    for i in range(len(run)):
        if regime_numbers(run, i)["verdict"] == verdict:
            return int(run.epochs[i])
    return None


def stays_in(run: Run, verdict: str = "MF") -> bool:
    """Whether every checkpoint from the first one in ``verdict`` on reads ``verdict``
    (persistence)."""
    e = first_epoch_in(run, verdict)
    return e is not None and all(regime_numbers(run, i)["verdict"] == verdict
                                 for i in range(len(run)) if run.epochs[i] >= e)


def kernel_statement(run: Run, checkpoint: int = -1) -> dict:
    """The kernel picture of NC1+NC2, measured: how close the top-C eigenfunctions come to spanning
    the class indicators, and how equal the C−1 centred eigenvalues are (all 1/1/0 at exact
    collapse)."""
    C, m = run.num_classes, run.metrics.iloc[checkpoint]
    evc, evu = run.eigenvalues(checkpoint, centred=True), run.eigenvalues(checkpoint)
    return {"Π*(C)": float(m["train_u_pistar_C"]),
            "Π*(C−1) centred": float(run.cum_quality(checkpoint, centred=True)[C - 2]),
            "ρC−1/ρ1 centred": float(evc[C - 2] / evc[0]),
            "centred tail share": float(evc[C - 1:].sum() / evc.sum()),
            "uncentred tail share": 1 - top_fraction(evu, C), "NC1": float(m["nc1"]),
            "NC2 equiangular": float(m["nc2_equiangular"]), "D_LR": float(m["train_dlr"])}


def regression_statement(run: Run, checkpoint: int = -1) -> dict:
    """Collapse onto {1, f̂} for a scalar target: Π(2), the correlation of the top centred
    eigenfunction with f̂, the share of the centred trace in that one mode, and D_LR."""
    m = run.metrics.iloc[checkpoint]
    return {"Π(2)": float(m["train_u_pi_C"]), "Π*(2)": float(m["train_u_pistar_C"]),
            "|corr(e1, f̂)|": float(abs(run.output_corr(checkpoint)[0])),
            "top-1 centred share": top_fraction(run.eigenvalues(checkpoint, centred=True), 1),
            "D_LR": float(m["train_dlr"]), "test acc": float(m["test_acc"])}


def coefficient_rates(run: Run) -> dict:
    """C4's rate test on a head-only run (Φ frozen, so ρ_k is the same at every checkpoint):
    :func:`verdicts.mode_rates` on the squared residual per uncentred mode at each checkpoint."""
    from .verdicts import mode_rates

    rho = run.eigenvalues(0)
    resid = run.arrays["train_u_residual"][:, :len(rho)]                 # (T, r)
    return mode_rates(run.epochs, rho, resid)


def path_words(epochs: Sequence[float], values: Sequence[float], fmt: str = "{:.3f}") -> str:
    """A measure's path over training in words, from the numbers: where it starts, its lowest (or
    highest) point if that lies inside, and where it ends, e.g. 'falls from 0.59 at epoch 0 to its
    lowest, 0.05, at epoch 1, then rises to 0.14 at epoch 20'."""
    e, v = list(np.asarray(epochs)), np.asarray(values, dtype=float)
    f = lambda i: f"{fmt.format(v[i])} at epoch {e[i]}"
    lo, hi = int(v.argmin()), int(v.argmax())
    turn = lo if 0 < lo < len(v) - 1 else hi if 0 < hi < len(v) - 1 else None
    if turn is None:
        way = "falls" if v[-1] < v[0] else "rises" if v[-1] > v[0] else "stays"
        return f"{way} from {f(0)} to {f(-1)}"
    down = turn == lo
    return (f"{'falls' if down else 'rises'} from {f(0)} to its {'lowest' if down else 'highest'}, "
            f"{f(turn)}, then {'rises' if down else 'falls'} to {f(len(v) - 1)}")
