"""The rules of the richness claims (C6, C7, C10–C14): D_LR against performance, labels, grokking,
batch norm, training-set size and the robustness of D_LR beside S_init and ‖θ‖. Each turns stored
runs into one claims-table row (:func:`nfl_utils.claim_record.claim_row`) by the thresholds of
:mod:`nfl_utils.verdicts`, stated in docs/measures.md."""
from __future__ import annotations

import numpy as np

from . import conventions
from . import verdicts as V
from .claim_record import (across_conventions, by_parts, claim_row, convention_dirs, final_values,
                           mean_spread, with_conventions)


def seeded_contrast(cid: str, groups: dict, a: str, b: str, expected: str, setting: str) -> dict:
    """D_LR of setting ``a`` against ``b`` over seeds; ``expected``: 'lower' or 'higher'. A
    direction that another of D_LR's conventions does not share makes the verdict partly."""
    da, db = final_values(groups[a], "train_dlr"), final_values(groups[b], "train_dlr")
    obs = V.compare(da, db)
    meas = (f"{a}: D_LR {mean_spread(da)} (test "
            f"{mean_spread(final_values(groups[a], 'test_acc'))}); {b}: D_LR {mean_spread(db)} "
            f"(test {mean_spread(final_values(groups[b], 'test_acc'))}); {len(da)} seeds, ± "
            "half-range")
    v = V.direction_verdict(obs, expected)
    dirs = convention_dirs(groups[a], groups[b])
    same, words = across_conventions(obs, dirs)
    if not same and v != V.PARTLY:
        v, words = V.PARTLY, "the direction depends on D_LR's convention: " + words
    why = "; ".join(x for x in ("a seed varies init, order and data subset", words) if x)
    return with_conventions(claim_row(cid, setting, meas + f"; {a} is {obs}", v, why),
                            f"{a} vs {b}, final", dirs)


def lr_claim(groups: dict, setting: str) -> dict:
    """C6 (docs/measures.md): the learning rates whose test accuracy is not below the best beyond
    the seed spread are the tuned optimum; not testable when one of them is at the grid's edge;
    agrees when the optimum is one learning rate and it has the lowest D_LR; partly when the
    lowest-D_LR rate is among several that the seeds cannot tell apart, or when its D_LR is not
    below the best's beyond the spread; disagrees otherwise."""
    acc = {k: final_values(v, "test_acc") for k, v in groups.items()}
    dlr = {k: np.mean(final_values(v, "train_dlr")) for k, v in groups.items()}
    best, lowest = max(acc, key=lambda k: np.mean(acc[k])), min(dlr, key=dlr.get)
    tied = [k for k in groups if V.compare(acc[k], acc[best]) == "no clear difference"]
    meas = "; ".join(f"{k}: test {mean_spread(acc[k])}, "
                     f"D_LR {mean_spread(final_values(v, 'train_dlr'))}" for k, v in groups.items())
    meas += f"; best accuracy at {', '.join(tied)}, lowest D_LR at {lowest}"
    if any(V.at_edge(list(groups), k) for k in tied):
        return claim_row("C6", setting, meas, V.UNTESTABLE,
                         "the best accuracy sits at the edge of the grid (within the seed spread): "
                         "the optimum is not bracketed, so no tuned optimum to compare with")
    v, why = _lr_verdict(groups, tied, best, lowest)
    if all(conventions.has_weights(g) for g in groups.values()):
        means = {k: {n: np.mean(x) for n, x in conventions.values(g).items()}
                 for k, g in groups.items()}
        low = {n: min(means, key=lambda k: means[k][n]) for n in conventions.CONVENTIONS}
        same, words = across_conventions(lowest, low)
        why += "; " + words.replace("direction", "lowest-D_LR learning rate")
        if not same and v != V.PARTLY:
            v, why = V.PARTLY, "the lowest D_LR moves with D_LR's convention: " + why
        return with_conventions(claim_row("C6", setting, meas, v, why), "lowest final D_LR at", low)
    return claim_row("C6", setting, meas, v, why)


def _lr_verdict(groups: dict, tied: list, best: str, lowest: str) -> tuple[str, str]:
    """C6's verdict and reason, the optimum (``tied``) bracketed by the grid."""
    if lowest in tied:
        if len(tied) == 1:
            return V.AGREES, "best learning rate inside the grid"
        return V.PARTLY, (f"fails: the best accuracy is not resolved: {', '.join(tied)} are within "
                          "the seed spread of the best, the lowest D_LR among them")
    sep = V.compare(final_values(groups[best], "train_dlr"),
                    final_values(groups[lowest], "train_dlr"))
    if sep == "no clear difference":
        return V.PARTLY, ("fails: the best learning rate's D_LR is not above the lowest beyond the "
                          "seed spread")
    return V.DISAGREES, "the lowest D_LR is at a learning rate whose accuracy is below the best"


def shuffle_claim(groups: dict, C: int, setting: str) -> dict:
    sh, cl = groups["shuffled"], groups["clean"]
    mem = min(final_values(sh, "train_acc"))
    if mem < V.MEMORISED:
        return claim_row("C7", setting, f"shuffled runs reach train accuracy {mem:.3f} only",
                         V.UNTESTABLE,
                    f"the net did not memorise (train < {V.MEMORISED})")
    row = seeded_contrast("C7", groups, "shuffled", "clean", "no clear difference", setting)
    chance = all(V.at_chance(x, C) for x in final_values(sh, "test_acc"))
    obs = V.compare(final_values(sh, "train_dlr"), final_values(cl, "train_dlr"))
    # the absolute anchor
    moved = V.compare(final_values(sh, "train_dlr"), [r.at("train_dlr", 0) for r in sh])
    parts = {"shuffled not lazier than clean": obs != "higher", "shuffled tests at chance": chance,
             "shuffled richer than at its initialisation": moved == "lower"}
    dirs = convention_dirs(sh, cl)
    if dirs is not None:
        parts["not lazier under every D_LR convention"] = all(d != "higher" for d in dirs.values())
    row["verdict"], why = by_parts(parts)
    row["reason"] = why + " (directions beyond the seed spread; a seed varies init, order and data)"
    return row


def _grok_setting(name: str, c) -> str:
    net = (f"transformer {c.depth}×d{c.width}, {c.heads} heads" if c.model == "transformer"
           else f"MLP {c.width}×{c.depth}")
    data = (f"modadd p={c.modadd_p}, {c.modadd_fraction:.0%} train" if c.dataset == "modadd"
            else f"{c.dataset} n={c.train_size}, init ×{c.init_scale:g}")
    return (f"{name}: {data}, {net}, {c.loss}, AdamW lr {c.lr:g} β₂ {c.adam_beta2:g}, "
            f"wd {c.weight_decay:g}, batch {c.batch_size}, {c.epochs} ep")


def grokking_claim(runs: list, name: str = "modadd") -> dict:
    """C11 for one setting over its seeds. D_LR at memorisation (first checkpoint with train ≥ 90%),
    at grokking (first with test ≥ 90%) and at the end: agrees when both later values are lower
    than at memorisation beyond the seed spread, disagrees when both are higher, partly otherwise
    (the failing part named); not testable unless every seed groks by V.grokked. Where the runs
    keep their weights, a direction to the end that differs under another of D_LR's open
    conventions (nfl_utils/conventions.py) makes it partly."""
    runs = list(runs) if isinstance(runs, (list, tuple)) else [runs]
    setting = _grok_setting(name, runs[0].cfg) + f"; {len(runs)} seed(s)"
    g = [V.grokked(r.steps, r.metrics["train_acc"], r.metrics["test_acc"]) for r in runs]
    steps = ", ".join(f"{a}/{b}" for _, a, b in g)
    if not all(ok for ok, _, _ in g):
        return claim_row("C11", setting, f"first step train/test ≥ 90%: {steps}", V.UNTESTABLE,
                    f"{sum(not ok for ok, _, _ in g)} of {len(runs)} seed(s) did not grok by our "
                    f"rule (train ≥ 90% at least {V.GROK_DELAY}× earlier than test ≥ 90%)")
    at = lambda r, s_, col: float(r.metrics[col].to_numpy()[int(np.nonzero(r.steps == s_)[0][0])])
    mem = [at(r, s_tr, "train_dlr") for r, (_, s_tr, _) in zip(runs, g)]
    grok = [at(r, s_te, "train_dlr") for r, (_, _, s_te) in zip(runs, g)]
    end = final_values(runs, "train_dlr")
    nc_mem = [at(r, s_tr, "nc1") for r, (_, s_tr, _) in zip(runs, g)]
    a_grok, a_end = V.compare(grok, mem), V.compare(end, mem)
    meas = (f"grokked (first step train/test ≥ 90%: {steps}); D_LR at memorisation "
            f"{mean_spread(mem)}, at grokking {mean_spread(grok)}, final {mean_spread(end)}; NC1 "
            f"{mean_spread(nc_mem, '{:.2f}')} → {mean_spread(final_values(runs, 'nc1'), '{:.2f}')}")
    v = (V.AGREES if a_grok == a_end == "lower" else V.DISAGREES if a_grok == a_end == "higher"
         else V.PARTLY)
    why = (f"D_LR from memorisation to grokking is {a_grok}, to the end {a_end} (± half-range over "
           f"seeds; a seed varies init, order and split)")
    if conventions.keeps_weights(runs):
        i_mem = [int(np.nonzero(r.steps == s_tr)[0][0]) for r, (_, s_tr, _) in zip(runs, g)]
        dirs = {n: d for n, (_, _, d) in conventions.directions(runs, i_mem).items()}
        flips = [n for n, d in dirs.items() if d != a_end]
        why += ("; the direction to the end is the same under every D_LR convention of "
                "docs/measures.md" if not flips else "; to the end under other D_LR conventions: "
                + ", ".join(f"{n} {dirs[n]}" for n in flips))
        if flips and v != V.PARTLY:       # a direction that flips with a convention is no finding
            v, why = V.PARTLY, "the direction depends on D_LR's convention: " + why
        return with_conventions(claim_row("C11", setting, meas, v, why), "end vs memorisation",
                                dirs)
    return claim_row("C11", setting, meas, v, why)


def grokking_claims(groups: dict) -> list[dict]:
    """One C11 row per grokking setting ({setting: [runs over seeds]})."""
    return [grokking_claim(runs, name) for name, runs in groups.items()]


def _means(groups: dict, col: str) -> list[float]:
    return [float(np.mean(final_values(v, col))) for v in groups.values()]


def _trend(groups: dict, col: str) -> str:
    """'rises' / 'falls' (the means along the groups monotone, first to last beyond the seed
    spread), 'is not monotone', or 'no clear change'."""
    ends = list(groups.values())
    if V.compare(final_values(ends[-1], col), final_values(ends[0], col)) == "no clear difference":
        return "no clear change"
    return V.monotone(_means(groups, col))


def robustness_claim(wd: dict, ts: dict) -> dict:
    """C14 in four parts (docs/measures.md): (a) the largest weight decay against none moves
    S_init and ‖θ‖² down (what older measures read as richer) beyond the seed spread while D_LR is
    not lower; (b) D_LR is monotone in α; (c) S_init and ‖θ‖² are not; (d) NC1 moves the opposite
    way to D_LR along α. (a) and (b) must hold under every D_LR convention where weights are
    stored."""
    w0, w1 = list(wd.values())[0], list(wd.values())[-1]
    moves = {c: V.compare(final_values(w1, c), final_values(w0, c))
             for c in ("train_dlr", "s_init", "theta_norm2")}
    trend = {c: _trend(ts, c) for c in ("train_dlr", "s_init", "theta_norm2", "nc1")}
    mono = ("rises", "falls")
    opposite = {"rises": "falls", "falls": "rises"}.get(trend["train_dlr"])
    a_holds = moves["s_init"] == moves["theta_norm2"] == "lower" and moves["train_dlr"] != "lower"
    c_holds = trend["s_init"] not in mono and trend["theta_norm2"] not in mono
    parts = {"(a) weight decay lowers S_init and ‖θ‖², not D_LR": a_holds,
             "(b) D_LR monotone in α": trend["train_dlr"] in mono,
             "(c) S_init and ‖θ‖² not monotone in α": c_holds,
             "(d) NC1 opposite to D_LR along α": opposite is not None and trend["nc1"] == opposite}
    holds, dirs = _robust_under_conventions(w0, w1, ts, trend["train_dlr"])
    if holds is not None:
        parts["(a), (b) under every D_LR convention"] = holds
    meas = (f"weight decay {list(wd)[0]} → {list(wd)[-1]}: D_LR "
            f"{mean_spread(final_values(w0, 'train_dlr'))} → "
            f"{mean_spread(final_values(w1, 'train_dlr'))} ({moves['train_dlr']}), S_init "
            f"{moves['s_init']}, ‖θ‖² {moves['theta_norm2']}; target scale α ↓ ({', '.join(ts)}): "
            f"D_LR {trend['train_dlr']} ("
            + " → ".join(f"{x:.3f}" for x in _means(ts, "train_dlr")) + f"), S_init "
            f"{trend['s_init']}, ‖θ‖² {trend['theta_norm2']}, NC1 {trend['nc1']}")
    c = next(iter(ts.values()))[0].cfg
    setting = (f"{c.dataset} MLP {c.width}×{c.depth}, n={c.train_size}, {c.epochs} ep, "
               f"{len(w0)} seeds each; α·one-hot MSE with lr/α, no momentum, weight decay "
               f"{c.weight_decay:g} in the α runs")
    v, why = by_parts(parts)
    return with_conventions(claim_row("C14", setting, meas, v,
                                      why + " (directions beyond the seed spread)"),
                          "D_LR with weight decay, and along α", dirs)


def _robust_under_conventions(w0: list, w1: list, ts: dict, trend: str):
    """(whether (a) and (b) hold under every D_LR convention, {convention: directions}), or
    (None, None) where the runs keep no weights to recompute D_LR from."""
    kept = conventions.has_weights(w0 + w1) and all(conventions.has_weights(g) for g in ts.values())
    if not kept:
        return None, None
    a = conventions.contrast(w1, w0)
    b = {n: V.monotone([np.mean(conventions.values(g)[n]) for g in ts.values()]) for n in a}
    holds = all(d != "lower" for d in a.values()) and all(d == trend for d in b.values())
    return holds, {n: f"wd: {a[n]}; α ↓: {b[n]}" for n in a}


def size_claim(groups: dict) -> dict:
    """C13: the largest training set against the smallest, beyond the seed spread (any direction),
    under every convention of D_LR where the weights are stored."""
    keys = list(groups)
    obs = V.compare(final_values(groups[keys[-1]], "train_dlr"),
                    final_values(groups[keys[0]], "train_dlr"))
    meas = "; ".join(
        f"{k}: D_LR {mean_spread(final_values(v, 'train_dlr'))}" for k, v in groups.items()
    )
    c = groups[keys[0]][0].cfg
    setting = (f"{c.dataset} MLP {c.width}×{c.depth}, n = "
               f"{', '.join(k.split('=')[-1] for k in keys)} with equal steps ({c.epochs} ep at "
               f"the smallest), {len(groups[keys[0]])} seeds")
    v = V.AGREES if obs != "no clear difference" else V.DISAGREES
    dirs = convention_dirs(groups[keys[-1]], groups[keys[0]])
    same, words = across_conventions(obs, dirs)
    if not same:
        v = V.PARTLY
    why = "; ".join(x for x in ("a change beyond the seed spread (a seed varies init, order and "
                                "data)",
                                words) if x)
    return with_conventions(claim_row("C13", setting, meas + f"; largest n is {obs} than smallest",
                                      v, why),
                          f"{keys[-1]} vs {keys[0]}, final", dirs)


def small_setting(groups: dict) -> str:
    runs = next(iter(groups.values()))
    c = runs[0].cfg
    return (f"{c.dataset} MLP {c.width}×{c.depth}, n={c.train_size}, {c.loss}, {c.epochs} ep, "
            f"{len(runs)} seeds")
