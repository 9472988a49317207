"""D_LR under the finite-sample conventions v3 leaves open (docs/measures.md), so that a verdict
that flips with a convention is never read as a finding about the network.

D_LR = 1 − ‖Φcᵀ Q‖²_F / (‖ΦcᵀΦc‖_F · √r), Q an orthonormal basis (n, r) of the span Ĥ of the
outputs. The conventions: which outputs span Ĥ (logits or softmax probabilities), whether Φ and
the outputs are centred, and the numerical rank r of Ĥ (the singular values of the outputs that
count). With C close to p (modular addition: C = 97, p = 128) the rank decides a lot: logits whose
energy sits in a few directions still have C − 1 tiny singular values above a 1e-8 cut.
"""
from __future__ import annotations

import math

import torch

from .linalg import RANK_RTOL
from .errors import InputError
from .run import Run

# name → (outputs: "logits" | "probabilities", centred, rank rule: ("rtol", x) | ("energy", x))
CONVENTIONS = {
    "ours (logits, centred, rank cut 1e-8)": ("logits", True, ("rtol", RANK_RTOL)),
    "rank cut 1e-3": ("logits", True, ("rtol", 1e-3)),
    "rank cut 1e-2": ("logits", True, ("rtol", 1e-2)),
    "rank: 99% of the outputs' energy": ("logits", True, ("energy", 0.99)),
    "softmax probabilities": ("probabilities", True, ("rtol", RANK_RTOL)),
    "uncentred": ("logits", False, ("rtol", RANK_RTOL)),
}


def _rank(s: torch.Tensor, rule) -> int:
    """How many singular values (descending) span Ĥ under ``rule``."""
    kind, x = rule
    if kind == "rtol":
        return int((s > x * s[0]).sum())
    e = torch.cumsum(s * s, 0) / (s * s).sum()                  # share of ‖F‖²_F in the top r
    return int((e < x).sum()) + 1


def dlr(phi: torch.Tensor, outputs: torch.Tensor, centred: bool = True,
        rule: tuple[str, float] = ("rtol", RANK_RTOL)) -> float:
    """D_LR of Φ (n, p) against the span of ``outputs`` (n, C), in float64, from the SVD."""
    P, F = torch.as_tensor(phi).double(), torch.as_tensor(outputs).double()
    if centred:
        P, F = P - P.mean(0), F - F.mean(0)
    U, s, _ = torch.linalg.svd(F, full_matrices=False)
    r = _rank(s, rule)
    if r == 0 or float(s[0]) <= 0:
        raise InputError("the outputs span nothing over the sample: D_LR is undefined")
    Q = U[:, :r]                                                  # (n, r) basis of Ĥ
    num = float((P.T @ Q).square().sum())
    den = float(torch.linalg.matrix_norm(P.T @ P)) * math.sqrt(r)
    return min(1.0, max(0.0, 1.0 - num / den))


def dlr_variants(phi: torch.Tensor, logits: torch.Tensor) -> dict[str, float]:
    """{convention: D_LR} for one sample of features and logits."""
    probs = torch.softmax(torch.as_tensor(logits).double(), 1)
    return {name: dlr(phi, logits if out == "logits" else probs, centred, rule)
            for name, (out, centred, rule) in CONVENTIONS.items()}


@torch.no_grad()
def run_variants(run: Run, checkpoint: int) -> dict[str, float]:
    """D_LR under every convention for a stored run at a checkpoint index (the run must keep its
    checkpoint weights: save_models), on its training measurement set."""
    data = run.data()
    x = data.x_train[data.measure_idx]
    model = run.model(checkpoint=checkpoint)
    phi = model.features(x)
    return dlr_variants(phi, model.head(phi) * model.output_scale)


def directions(runs: list[Run], at: list[int]) -> dict[str, tuple[list, list, str]]:
    """{convention: (D_LR at checkpoint at[i] of each run, D_LR at the end, direction end vs then)},
    the direction beyond the seed spread (verdicts.compare): 'lower', 'higher' or no clear one."""
    from .verdicts import compare

    before = [run_variants(r, i) for r, i in zip(runs, at)]
    after = [run_variants(r, len(r) - 1) for r in runs]
    out = {}
    for name in CONVENTIONS:
        a, b = [v[name] for v in before], [v[name] for v in after]
        out[name] = (a, b, compare(b, a))
    return out


def memorisation_index(run: Run) -> int:
    """The first checkpoint with train accuracy ≥ verdicts.GROK_TRAIN (memorisation), or, in a run
    that never gets there, the checkpoint of its highest train accuracy."""
    from .verdicts import GROK_TRAIN

    acc = run.metrics["train_acc"].to_numpy()
    hit = (acc >= GROK_TRAIN).nonzero()[0]
    return int(hit[0]) if len(hit) else int(acc.argmax())


def keeps_weights(runs: list[Run]) -> bool:
    """Whether every run stored its checkpoint weights (what the conventions need)."""
    return all(r.cfg.save_models for r in runs)


_FINAL: dict = {}      # (run directory, checkpoint) → {convention: D_LR}: a run is measured once


def has_weights(runs: list[Run]) -> bool:
    """Whether every run stored its final weights (model.pt): what :func:`values` needs."""
    return all((r.path / "model.pt").is_file() for r in runs)


def values(runs: list[Run], checkpoint: int | None = None) -> dict[str, list[float]]:
    """{convention: [D_LR of each run]} at ``checkpoint`` (None: the final weights)."""
    out = {n: [] for n in CONVENTIONS}
    for r in runs:
        key = (str(r.path), checkpoint)
        if key not in _FINAL:
            _FINAL[key] = run_variants(r, checkpoint)
        for n in CONVENTIONS:
            out[n].append(_FINAL[key][n])
    return out


def contrast(a_runs: list[Run], b_runs: list[Run]) -> dict[str, str]:
    """{convention: direction of the final D_LR of ``a_runs`` against ``b_runs``}, beyond the seed
    spread (verdicts.compare): 'lower', 'higher' or 'no clear difference'."""
    from .verdicts import compare

    va, vb = values(a_runs), values(b_runs)
    return {n: compare(va[n], vb[n]) for n in CONVENTIONS}
