"""One claim record and its grading helpers, shared by the rules of :mod:`nfl_utils.claims_fm`
(feature-map claims C1–C14) and :mod:`nfl_utils.claims_dlgn` (D1–D9).

A row: id, claim (CLAIMS), setting, measured, reported (REPORTED), verdict (verdicts.py's four
words), reason; optionally the sub-result under each D_LR convention (``by_convention``).
"""
from __future__ import annotations

import numpy as np

from . import conventions
from . import verdicts as V
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    import pandas as pd

CLAIMS = {
    "C1": "MF is reached within a few epochs and persists",
    "C2": "MF across architectures and datasets",
    "C3": "EF exists: a fully connected net on CIFAR-10 uses many more than C features",
    "C4": "Coefficient learning (head only): ρ_k, e_k, Π* stay, Π moves; under MSE mode k is "
          "fitted at a rate ∝ ρ_k",
    "C5": "In MF runs the spectrum concentrates (centred d_eff falls toward C−1, ρ_{C+1}/ρ_C → 0)",
    "C6": "Best generalisation after tuning coincides with the lowest D_LR",
    "C7": "Richness does not guarantee generalisation: shuffled labels are fitted richly, test at "
          "chance",
    "C8": "Neural collapse is a kernel statement (NC1, NC2 fall with D_LR; Π*(C) ≈ 1; C−1 equal "
          "modes)",
    "C9": "Regression: Φ collapses onto {1, f̂} (Π(2) ≥ 0.95, D_LR small; head-only stays broad)",
    "C10": "D_LR: full training richer than head-only",
    "C11": "Grokking is a lazy → rich transition (D_LR falls as test accuracy jumps)",
    "C12": "Batch norm promotes rich dynamics (lower D_LR)",
    "C13": "Training-set size changes richness (direction not known to us)",
    "C14": "D_LR is more robust than S_init and ‖θ‖ (weight decay, target scale)",
    "D1": "The DLGN output is a sum over m^L path experts (recursion = path sum)",
    "D2": "The overlap kernel is the Gram matrix of path indicators",
    "D3": "deep linear < DLGN ≲ ReLU at matched size",
    "D4": "Feature learning in DLGNs: frozen random gates ≪ trained; learned gates + fresh values "
          "recover",
    "D5": "The overlap kernel aligns with the target, mostly early in training",
    "D6": "Learned half-spaces contain smooth regions of the target",
    "D7": "Early training favours low-frequency regions of the target",
    "D8": "Later-layer neurons cluster more distinctly than first-layer ones",
    "D9": "Oblique-tree benchmark: DLGN 96.1, DLGN-SF 97.4, ReLU 90.6 (test %)",
}


REPORTED = {
    "C1": "typical nets reach MF within a few epochs",
    "C2": "many architectures and classification datasets",
    "C3": "FC net on CIFAR-10",
    "C4": "rate ∝ ρ_k [summary]; the invariance is exact by construction", "C5": "[ours]",
    "C6": "ResNet18 CIFAR-100 lr 0.005/0.05/0.2 → 66.3/78.3/74.5% test, D_LR 0.053/0.025/0.039",
    "C7": "CIFAR-10 shuffled 0.034 (9.5%) vs clean 0.031 (95.0%)",
    "C8": "terminal phase of training", "C9": "[paper] claim, thresholds ours",
    "C10": "MNIST full 0.0087 (test 10.0%) vs head-only 0.63 (test 74.4%): the richer net can be "
           "the worse one",
    "C11": "mod-97 addition, transformer: 0.51 → 0.11",
    "C12": "VGG16 CIFAR-100: no BN 0.66 (test 21.7%), BN 0.073 (test 72.0%)",
    "C13": "direction not known",
    "C14": "[summary] four parts: (a) weight decay moves S_init, ‖θ‖ not D_LR; (b) D_LR monotone "
    "in α; (c) S_init, ‖θ‖ not; (d) NC1 opposite to D_LR", "D1": "exact", "D2": "exact [ours]",
    "D3": "[paper]",
    "D4": "[paper]", "D5": "[summary]", "D6": "[paper]", "D7": "[summary]", "D8": "[paper]",
    "D9": "DLGN 96.1, DLGN-SF 97.4, ReLU 90.6",
}


def mean_spread(values: list[float], fmt: str = "{:.3f}") -> str:
    """'mean ± half-range' over seeds (just the mean for one value)."""
    v = np.asarray(values, dtype=float)
    return fmt.format(v.mean()) + (f" ± {V.spread(v) / 2:.3f}" if v.size > 1 else "")


def seed_table(groups: dict, columns: list[tuple[str, str]]) -> "pd.DataFrame":
    """Final value of each (column, label): mean ± half-range over the seeds of each setting."""
    import pandas as pd

    return pd.DataFrame(
        {
            k: {lab: mean_spread(final_values(runs, col)) for col, lab in columns}
            for k, runs in groups.items()
        }
    ).T


def final_values(runs: list, col: str) -> list[float]:
    return [r.final(col) for r in runs]


def claim_row(cid: str, setting: str, measured: str, verdict: str, reason: str = "") -> dict:
    return {"id": cid, "claim": CLAIMS[cid], "setting": setting, "measured": measured,
            "reported": REPORTED[cid],
            "verdict": verdict, "reason": reason}


def by_parts(parts: dict) -> tuple[str, str]:
    """(verdict, reason) of a claim made of named parts: agrees when all hold, disagrees when none
    does, partly otherwise with the failing parts named (the caller appends its rule)."""
    failing = [n for n, ok in parts.items() if not ok]
    if not failing:
        return V.AGREES, "all parts hold"
    if len(failing) == len(parts):
        return V.DISAGREES, "no part holds: " + ", ".join(failing) + " fail"
    return V.PARTLY, "fails: " + ", ".join(failing)


def across_conventions(observed: str, dirs: dict[str, str] | None) -> tuple[bool, str]:
    """(the direction holds under every convention of D_LR, the words for it). ``dirs``
    {convention: direction}; None when the runs kept no weights to recompute D_LR from."""
    if dirs is None:
        return True, ""
    flips = [f"{n} {d}" for n, d in dirs.items() if d != observed]
    if not flips:
        return True, "the direction is the same under every D_LR convention of docs/measures.md"
    return False, "under other D_LR conventions: " + ", ".join(flips)


def with_conventions(row: dict, what: str, dirs: dict | None) -> dict:
    """The row with its sub-result under each D_LR convention (``what`` it compares), if any."""
    if dirs is not None:
        row["by_convention"], row["by_convention_what"] = dict(dirs), what
    return row


def convention_dirs(a_runs: list, b_runs: list) -> dict | None:
    """conventions.contrast of two groups, or None when their weights are not stored."""
    ok = conventions.has_weights(a_runs) and conventions.has_weights(b_runs)
    return conventions.contrast(a_runs, b_runs) if ok else None
