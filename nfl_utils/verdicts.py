"""Small, tested rules that turn measured numbers into the words the notebooks and the claims table
use. Each is stated here once; no notebook types a direction or a verdict."""
from __future__ import annotations

from typing import Sequence

import numpy as np

AGREES, DISAGREES, PARTLY, UNTESTABLE = "agrees", "disagrees", "partly", "not testable here"
CHANCE_MARGIN = 2.0   # "at chance": test accuracy below CHANCE_MARGIN / C
MEMORISED = 0.95      # a net "memorises" its training set when train accuracy reaches this
GROK_TRAIN = GROK_TEST = 0.9
GROK_DELAY = 10  # "grokked": train ≥ 90% reached at least 10× earlier (in steps) than test ≥ 90%
EARLY_EPOCHS = 5      # C1 "within a few epochs": first MF by 5 epochs of the *full* training set
# C1 "persists": MF at every checkpoint from the first on, and at ≥ 2 of them
PERSIST_CHECKPOINTS = 2
CO_MOVE = 0.5         # C8 "fall together": rank correlation ≥ 0.5 across checkpoints
NEAR_C_MINUS_1 = 0.25  # C5 "toward C−1": final centred d_eff within 25% of C − 1
GAP_TO_ZERO = 0.1     # C5 "ρ_{C+1}/ρ_C → 0": at most 0.1 at the end
# C4, the rate of coefficient learning under MSE [ours]: a mode is *timed* at the first checkpoint
# where its squared residual is at most RATE_HALF of its initial value, rate = ln(R₀/R_t) / 2t; a
# mode already below RATE_FLOOR there was fitted too fast to time, one whose initial residual is
# under RATE_MIN_SHARE of the total had nothing to fit. "∝ ρ_k": over ≥ RATE_MIN_MODES timed modes,
# Spearman(rate, ρ) ≥ RATE_CORR and the log-log slope of rate on ρ within RATE_SLOPE.
RATE_HALF, RATE_FLOOR, RATE_MIN_SHARE, RATE_MIN_MODES = 0.5, 1e-3, 1e-6, 5
RATE_CORR, RATE_SLOPE = 0.8, (0.75, 1.25)
SPAN_2 = 0.95         # C9: Φ collapsed onto {1, f̂} when Π(2) ≥ 0.95 [ours]
ALIGNED = 0.9         # C9: the top centred eigenfunction ∝ f̂ − mean f̂ when |corr| ≥ 0.9 [ours]
FULL_TRAIN_SIZE = {"mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000, "cifar100": 50_000}


def spread(values: Sequence[float]) -> float:
    """Range (max − min) over seeds; 0 for a single value."""
    v = np.asarray(values, dtype=float)
    return float(v.max() - v.min()) if v.size else float("nan")


def compare(a: Sequence[float], b: Sequence[float]) -> str:
    """'lower', 'higher' or 'no clear difference' for the mean of ``a`` against the mean of ``b``:
    a direction is claimed only when the difference of the means exceeds the larger seed spread."""
    d = float(np.mean(a) - np.mean(b))
    if abs(d) <= max(spread(a), spread(b)):
        return "no clear difference"
    return "lower" if d < 0 else "higher"


def direction_verdict(observed: str, expected: str) -> str:
    """agrees when the observed direction is the expected one beyond the spread, disagrees when it
    is the opposite one beyond the spread, partly when the seeds cannot tell."""
    if observed == expected:
        return AGREES
    return PARTLY if observed == "no clear difference" else DISAGREES


def monotone(values: Sequence[float]) -> str:
    """'rises', 'falls' or 'is not monotone' along a sequence."""
    d = np.sign(np.diff(np.asarray(values, dtype=float)))
    return "rises" if (d > 0).all() else "falls" if (d < 0).all() else "is not monotone"


def first_step_at(steps: Sequence[float], values: Sequence[float], level: float) -> int | None:
    """The first step whose value reaches ``level``, or None."""
    hit = np.nonzero(np.asarray(values, dtype=float) >= level)[0]
    return int(np.asarray(steps)[hit[0]]) if len(hit) else None


def grokked(steps: Sequence[float], train_acc: Sequence[float],
            test_acc: Sequence[float]) -> tuple[bool, int | None, int | None]:
    """(grokked?, first step train ≥ 90%, first step test ≥ 90%): grokked only when train reached
    90% at least GROK_DELAY× earlier (in steps) than test did."""
    s_tr, s_te = first_step_at(steps, train_acc, GROK_TRAIN), first_step_at(
        steps, test_acc, GROK_TEST
    )
    ok = s_tr is not None and s_te is not None and s_te >= GROK_DELAY * max(s_tr, 1)
    return ok, s_tr, s_te


def full_data_epochs(epoch: float, n_train: int, dataset: str) -> float:
    """``epoch`` epochs of an ``n_train``-image subset in epochs of the dataset's full training set
    (the same number of examples seen); the subset itself where the full size is not known."""
    return epoch * n_train / FULL_TRAIN_SIZE.get(dataset, n_train)


def at_edge(keys: list, best: str) -> bool:
    """Whether ``best`` is the first or the last of an ordered grid (an optimum not bracketed)."""
    return best in (keys[0], keys[-1])


def rank_corr(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two sequences (ties get their mean rank); NaN if constant."""
    def ranks(v):
        v = np.asarray(v, dtype=float)
        order = v.argsort(kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for x in np.unique(v):                       # ties share their mean rank
            r[v == x] = r[v == x].mean()
        return r
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def at_chance(test_acc: float, num_classes: int) -> bool:
    return test_acc < CHANCE_MARGIN / num_classes


def mode_rates(epochs: np.ndarray, rho: np.ndarray, resid: np.ndarray) -> dict:
    """C4's rule on one head-only MSE run: ``epochs`` (T,), ``rho`` (r,) Φ's eigenvalues (frozen),
    ``resid`` (T, r) squared residual per mode at each checkpoint (measure.mode_residual).
    Returns the timed modes' (rho, rate), their Spearman correlation, log-log slope and a verdict:
    agrees (ordered and ∝ ρ), partly (ordered, slope outside RATE_SLOPE), disagrees, or not
    testable (fewer than RATE_MIN_MODES timed modes)."""
    t, rho, R = np.asarray(epochs, float), np.asarray(rho, float), np.asarray(resid, float)
    ok = np.isfinite(rho) & (rho > 0) & (R[0] > RATE_MIN_SHARE * np.nansum(R[0]))
    ratio = R[1:] / np.where(ok, R[0], np.nan)                    # (T−1, r)
    below = ratio <= RATE_HALF
    first = np.where(below.any(0), below.argmax(0), -1)  # first checkpoint at half, per mode
    keep = ok & (first >= 0)
    at = ratio[np.maximum(first, 0), np.arange(len(rho))]
    keep &= at >= RATE_FLOOR
    rate = np.log(1 / at[keep]) / (2 * (t[1:][first[keep]] - t[0]))
    out = {"rho": rho[keep], "rate": rate, "n": int(keep.sum())}
    if out["n"] < RATE_MIN_MODES:
        return {**out, "corr": float("nan"), "slope": float("nan"), "verdict": UNTESTABLE}
    out["corr"] = rank_corr(rho[keep], rate)
    out["slope"] = float(np.polyfit(np.log(rho[keep]), np.log(rate), 1)[0])
    ordered = out["corr"] >= RATE_CORR
    prop = RATE_SLOPE[0] <= out["slope"] <= RATE_SLOPE[1]
    return {**out, "verdict": AGREES if ordered and prop else PARTLY if ordered else DISAGREES}
