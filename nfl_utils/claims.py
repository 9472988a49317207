"""The claims table: one row per numbered claim of the spec (C1–C14, D1–D9), computed from stored
runs with the rules of :mod:`nfl_utils.verdicts` and :mod:`nfl_utils.analysis`.

    python -m nfl_utils.claims quick        # writes figures/quick/claims.md
"""
from __future__ import annotations

import math
import sys

import numpy as np
import torch

from . import analysis as A
from . import conventions
from .conventions import directions, keeps_weights
from . import profiles as P
from . import verdicts as V

CLAIMS = {
    "C1": "MF is reached within a few epochs and persists",
    "C2": "MF across architectures and datasets",
    "C3": "EF exists: a fully connected net on CIFAR-10 uses many more than C features",
    "C4": "Coefficient learning (head only): ρ_k, e_k, Π* stay, Π moves; under MSE mode k is fitted at a rate ∝ ρ_k",
    "C5": "In MF runs the spectrum concentrates (centred d_eff falls toward C−1, ρ_{C+1}/ρ_C → 0)",
    "C6": "Best generalisation after tuning coincides with the lowest D_LR",
    "C7": "Richness does not guarantee generalisation: shuffled labels are fitted richly, test at chance",
    "C8": "Neural collapse is a kernel statement (NC1, NC2 fall with D_LR; Π*(C) ≈ 1; C−1 equal modes)",
    "C9": "Regression: Φ collapses onto {1, f̂} (Π(2) ≥ 0.95, D_LR small; head-only stays broad)",
    "C10": "D_LR: full training richer than head-only",
    "C11": "Grokking is a lazy → rich transition (D_LR falls as test accuracy jumps)",
    "C12": "Batch norm promotes rich dynamics (lower D_LR)",
    "C13": "Training-set size changes richness (direction not known to us)",
    "C14": "D_LR is more robust than S_init and ‖θ‖ (weight decay, target scale)",
    "D1": "The DLGN output is a sum over m^L path experts (recursion = path sum)",
    "D2": "The overlap kernel is the Gram matrix of path indicators",
    "D3": "deep linear < DLGN ≲ ReLU at matched size",
    "D4": "Feature learning in DLGNs: frozen random gates ≪ trained; learned gates + fresh values recover",
    "D5": "The overlap kernel aligns with the target, mostly early in training",
    "D6": "Learned half-spaces contain smooth regions of the target",
    "D7": "Early training favours low-frequency regions of the target",
    "D8": "Later-layer neurons cluster more distinctly than first-layer ones",
    "D9": "Oblique-tree benchmark: DLGN 96.1, DLGN-SF 97.4, ReLU 90.6 (test %)",
}
REPORTED = {
    "C1": "typical nets reach MF within a few epochs", "C2": "many architectures and classification datasets",
    "C3": "FC net on CIFAR-10", "C4": "rate ∝ ρ_k [summary]; the invariance is exact by construction", "C5": "[ours]", "C6": "ResNet18 CIFAR-100 lr 0.005/0.05/0.2 → "
    "66.3/78.3/74.5% test, D_LR 0.053/0.025/0.039", "C7": "CIFAR-10 shuffled 0.034 (9.5%) vs clean 0.031 (95.0%)",
    "C8": "terminal phase of training", "C9": "[paper] claim, thresholds ours", "C10": "MNIST full 0.0087 (test 10.0%) vs head-only 0.63 (test 74.4%): "
    "the richer net can be the worse one",
    "C11": "mod-97 addition, transformer: 0.51 → 0.11", "C12": "VGG16 CIFAR-100: no BN 0.66 (test 21.7%), BN 0.073 (test 72.0%)",
    "C13": "direction not known", "C14": "[summary] four parts: (a) weight decay moves S_init, ‖θ‖ not D_LR; (b) D_LR monotone "
    "in α; (c) S_init, ‖θ‖ not; (d) NC1 opposite to D_LR", "D1": "exact", "D2": "exact [ours]", "D3": "[paper]",
    "D4": "[paper]", "D5": "[summary]", "D6": "[paper]", "D7": "[summary]", "D8": "[paper]",
    "D9": "DLGN 96.1, DLGN-SF 97.4, ReLU 90.6",
}


def mean_spread(values, fmt="{:.3f}") -> str:
    """'mean ± half-range' over seeds (just the mean for one value)."""
    v = np.asarray(values, dtype=float)
    return fmt.format(v.mean()) + (f" ± {V.spread(v) / 2:.3f}" if v.size > 1 else "")


def seed_table(groups: dict, columns: list[tuple[str, str]]) -> "pd.DataFrame":
    """Final value of each (column, label): mean ± half-range over the seeds of each setting."""
    import pandas as pd

    return pd.DataFrame({k: {lab: mean_spread(_final(runs, col)) for col, lab in columns} for k, runs in groups.items()}).T


def _final(runs, col):
    return [r.final(col) for r in runs]


def _row(cid, setting, measured, verdict, reason=""):
    return {"id": cid, "claim": CLAIMS[cid], "setting": setting, "measured": measured, "reported": REPORTED[cid],
            "verdict": verdict, "reason": reason}


# ----------------------------------------------------------------------------- feature-map claims
def main_claims(main: dict, C: int) -> list[dict]:
    full = {n: r for n, r in main.items() if not r.cfg.head_only}
    heads = {n: r for n, r in main.items() if r.cfg.head_only}
    setting = "; ".join(f"{n}: {r.cfg.dataset} {r.cfg.model} {r.cfg.loss}, {r.cfg.epochs} ep" for n, r in full.items())
    rows = [early_mf_claim(full, setting)]
    verdicts = {n: A.regime_numbers(r)["verdict"] for n, r in full.items()}
    n_mf = sum(x == "MF" for x in verdicts.values())
    rows.append(_row("C2", setting, "; ".join(f"{n}: {x}" for n, x in verdicts.items()),
                     V.AGREES if n_mf == len(full) else V.PARTLY if n_mf else V.DISAGREES,
                     f"{n_mf} of {len(full)} fully trained runs end MF"))
    rows.append(_row("C3", "—", "our MLP runs: " + ", ".join(f"{n} {verdicts[n]}" for n in full if "MLP" in n),
                     V.UNTESTABLE, "no CIFAR-10 on this machine (paper profile, GPU)"))
    rows.append(rate_claim(heads))
    rows.append(concentration_claim(full, verdicts, C, setting))
    return rows


def rate_claim(heads: dict) -> dict:
    """C4 on the head-only runs trained by MSE: per mode, the residual's rate against ρ_k
    (verdicts.mode_rates). That ρ_k, e_k and Π* stay is a property of the code (Φ is frozen), a
    unit test (tests/test_rates.py), not evidence; the row shows how far Π moved (the head trained)."""
    mse = {n: r for n, r in heads.items() if r.cfg.loss == "mse" and "train_u_residual" in r.arrays}
    if not mse:
        return _row("C4", ", ".join(heads) or "—", "no head-only MSE run with residuals per mode",
                    V.UNTESTABLE, "needs a head-only MSE run measured with per-mode residuals")
    res = {n: A.coefficient_rates(r) for n, r in mse.items()}
    moved = {n: float(np.nanmax(np.abs(r.arrays["train_u_cum_utility"] - r.arrays["train_u_cum_utility"][0])))
             for n, r in mse.items()}
    meas = "; ".join(f"{n}: {x['n']} timed modes" + ("" if np.isnan(x["corr"]) else
                     f", Spearman(rate, ρ) {x['corr']:.2f}, log-log slope {x['slope']:.2f}") +
                     f", max |ΔΠ| {moved[n]:.3f}" for n, x in res.items())
    vs = [x["verdict"] for x in res.values() if x["verdict"] != V.UNTESTABLE]
    v = (V.UNTESTABLE if not vs else V.AGREES if all(x == V.AGREES for x in vs) else
         V.DISAGREES if all(x == V.DISAGREES for x in vs) else V.PARTLY)
    fails = [n for n, x in res.items() if x["verdict"] not in (V.AGREES, V.UNTESTABLE)]
    why = (f"rule [ours]: a mode is timed when its squared residual first falls to ≤ {V.RATE_HALF:g} of "
           f"its start, rate = ln(R₀/R_t)/2t; ∝ ρ_k = Spearman ≥ {V.RATE_CORR:g} and slope in "
           f"[{V.RATE_SLOPE[0]:g}, {V.RATE_SLOPE[1]:g}] over ≥ {V.RATE_MIN_MODES} timed modes")
    if fails:
        why = f"fails: {', '.join(fails)}; " + why
    return _row("C4", ", ".join(mse), meas, v, why)


def concentration_claim(full: dict, verdicts: dict, C: int, setting: str) -> dict:
    """C5 by parts for the MF runs: centred d_eff ends within V.NEAR_C_MINUS_1 of C−1, the gap
    ρ_{C+1}/ρ_C ends at most V.GAP_TO_ZERO, and every MF run ends closer to C−1 than every non-MF one."""
    mf = {n: r for n, r in full.items() if verdicts[n] == "MF"}
    if not mf:
        return _row("C5", setting, "no run ends MF", V.UNTESTABLE, "needs an MF run")
    dist = {n: abs(r.final("train_c_d_eff") - (C - 1)) for n, r in full.items()}
    others = [dist[n] for n in full if n not in mf]
    parts = {f"centred d_eff within {V.NEAR_C_MINUS_1:.0%} of C−1":
             all(dist[n] <= V.NEAR_C_MINUS_1 * (C - 1) for n in mf),
             f"ρC+1/ρC ≤ {V.GAP_TO_ZERO:g}": all(1 / r.final("train_u_gap") <= V.GAP_TO_ZERO for r in mf.values())}
    if others:
        parts["closer to C−1 than the non-MF runs"] = max(dist[n] for n in mf) < min(others)
    meas = "; ".join(f"{n}: centred d_eff {r.at('train_c_d_eff', 0):.1f} → {r.final('train_c_d_eff'):.1f}, "
                     f"ρC+1/ρC = {1 / r.final('train_u_gap'):.3f}" for n, r in mf.items())
    meas += f" (C−1 = {C - 1})" + ("; non-MF runs end at centred d_eff " + ", ".join(
        f"{full[n].final('train_c_d_eff'):.1f} ({n})" for n in full if n not in mf) if others else "")
    v, why = _parts(parts)
    return _row("C5", ", ".join(mf), meas, v, why)


def _mf_timing(run) -> dict:
    """First MF checkpoint (in the run's epochs and in epochs of the full training set), how many
    checkpoints read MF, and whether every one from the first on does."""
    first = A.first_epoch_in(run)
    n_mf = sum(A.regime_numbers(run, i)["verdict"] == "MF" for i in range(len(run)))
    n = int(run.meta.get("n_train") or run.cfg.train_size or 0)
    full = None if first is None else V.full_data_epochs(first, n, run.cfg.dataset)
    return {"first": first, "full": full, "n_mf": n_mf, "stays": A.stays_in(run)}


def early_mf_claim(full: dict, setting: str) -> dict:
    """C1, both parts: *early* = first MF within V.EARLY_EPOCHS epochs of the full training set;
    *persists* = MF at every later checkpoint and at ≥ V.PERSIST_CHECKPOINTS checkpoints."""
    t = {n: _mf_timing(r) for n, r in full.items()}
    early = {n: x["full"] is not None and x["full"] <= V.EARLY_EPOCHS for n, x in t.items()}
    persists = {n: x["stays"] and x["n_mf"] >= V.PERSIST_CHECKPOINTS for n, x in t.items()}
    meas = "; ".join(
        f"{n}: " + ("never MF" if x["first"] is None else
                    f"first MF at epoch {x['first']} of {full[n].cfg.epochs} (= {x['full']:.2g} full-data "
                    f"epochs), MF at {x['n_mf']} checkpoint(s){'' if x['stays'] else ', not kept'}")
        for n, x in t.items())
    both = [n for n in full if early[n] and persists[n]]
    if both:
        v, why = V.AGREES, f"early and persistent: {', '.join(both)}"
    elif any(x["first"] is not None for x in t.values()):
        fail = [p for p, ok in (("early", any(early.values())), ("persists", any(persists.values()))) if not ok]
        v, why = V.PARTLY, ("MF reached, but no run is early and persistent" + (f" (fails for every run: "
                            f"{', '.join(fail)})" if fail else ""))
    else:
        v, why = V.DISAGREES, "no run reaches MF"
    rule = (f"early = first MF by {V.EARLY_EPOCHS} full-data epochs; persists = MF at every later "
            f"checkpoint and at ≥ {V.PERSIST_CHECKPOINTS}")
    return _row("C1", setting, meas, v, f"{why} ({rule})")


def collapse_claim(run, name: str) -> dict:
    """C8 by parts: NC1, NC2 and D_LR fall from start to end; they move together across the
    checkpoints (rank correlation ≥ V.CO_MOVE of NC1 and of NC2 with D_LR); and the terminal
    kernel picture (Π*(C) ≥ 0.9, ρC−1/ρ1 ≥ 0.8, centred tail ≤ 0.1) [thresholds ours]."""
    k0, k1 = A.kernel_statement(run, 0), A.kernel_statement(run)
    m = run.metrics
    falls = k1["NC1"] < k0["NC1"] and k1["NC2 equiangular"] < k0["NC2 equiangular"] and k1["D_LR"] < k0["D_LR"]
    r1, r2 = V.rank_corr(m["nc1"], m["train_dlr"]), V.rank_corr(m["nc2_equiangular"], m["train_dlr"])
    together = r1 >= V.CO_MOVE and r2 >= V.CO_MOVE
    terminal = k1["Π*(C)"] >= 0.9 and k1["ρC−1/ρ1 centred"] >= 0.8 and k1["centred tail share"] <= 0.1
    meas = (f"NC1 {k0['NC1']:.2f} → {k1['NC1']:.3f}, NC2 {k0['NC2 equiangular']:.2f} → {k1['NC2 equiangular']:.3f}, "
            f"D_LR {k0['D_LR']:.3f} → {k1['D_LR']:.3f}; rank correlation with D_LR over {len(m)} checkpoints: "
            f"NC1 {r1:.2f}, NC2 {r2:.2f}; final Π*(C) {k1['Π*(C)']:.3f}, ρC−1/ρ1 {k1['ρC−1/ρ1 centred']:.2f}, "
            f"centred tail {k1['centred tail share']:.3f}")
    v, why = _parts({"fall from start to end": falls, f"fall together (rank corr. ≥ {V.CO_MOVE:g})": together,
                     "terminal kernel picture": terminal})
    return _row("C8", name, meas, v, why + "; thresholds [ours]: Π*(C) ≥ 0.9, ρC−1/ρ1 ≥ 0.8 (spread ≤ 20%), "
                "tail ≤ 0.1")


def regression_claim(full, head) -> dict:
    """C9 by parts [thresholds ours]: Π(2) ≥ V.SPAN_2, the top centred eigenfunction ∝ f̂ − mean
    (|corr| ≥ V.ALIGNED), D_LR below the head-only control's, and the control broad (Π(2) < V.SPAN_2)."""
    a, b = A.regression_statement(full), A.regression_statement(head)
    meas = (f"full: Π(2) {a['Π(2)']:.3f}, |corr(e1, f̂)| {a['|corr(e1, f̂)|']:.3f}, D_LR {a['D_LR']:.3f}; "
            f"head-only: Π(2) {b['Π(2)']:.3f}, D_LR {b['D_LR']:.3f}")
    v, why = _parts({f"Π(2) ≥ {V.SPAN_2:g}": a["Π(2)"] >= V.SPAN_2,
                     f"e1 ∝ f̂ (|corr| ≥ {V.ALIGNED:g})": a["|corr(e1, f̂)|"] >= V.ALIGNED,
                     "D_LR below head-only": a["D_LR"] < b["D_LR"],
                     f"head-only broad (Π(2) < {V.SPAN_2:g})": b["Π(2)"] < V.SPAN_2})
    return _row("C9", f"{full.cfg.dataset} {full.cfg.model}, digit value by MSE, C = 2 (the modes "
                f"1, f̂), {full.cfg.epochs} ep", meas, v, why + " [thresholds ours]")


def across_conventions(observed: str, dirs: dict[str, str] | None) -> tuple[bool, str]:
    """(the direction holds under every convention of D_LR, the words for it). ``dirs``
    {convention: direction}; None when the runs kept no weights to recompute D_LR from."""
    if dirs is None:
        return True, ""
    flips = [f"{n} {d}" for n, d in dirs.items() if d != observed]
    if not flips:
        return True, "the direction is the same under every D_LR convention of docs/measures.md"
    return False, "under other D_LR conventions: " + ", ".join(flips)


def _by_convention(row: dict, what: str, dirs: dict | None) -> dict:
    """The row with its sub-result under each D_LR convention (``what`` it compares), if any."""
    if dirs is not None:
        row["by_convention"], row["by_convention_what"] = dict(dirs), what
    return row


def _dirs(a_runs, b_runs):
    """conventions.contrast of two groups, or None when their weights are not stored."""
    ok = conventions.has_weights(a_runs) and conventions.has_weights(b_runs)
    return conventions.contrast(a_runs, b_runs) if ok else None


def seeded_contrast(cid, groups: dict, a: str, b: str, expected: str, setting: str) -> dict:
    """D_LR of setting ``a`` against ``b`` over seeds; ``expected``: 'lower' or 'higher'. A
    direction that another of D_LR's conventions does not share makes the verdict partly."""
    da, db = _final(groups[a], "train_dlr"), _final(groups[b], "train_dlr")
    obs = V.compare(da, db)
    meas = (f"{a}: D_LR {mean_spread(da)} (test {mean_spread(_final(groups[a], 'test_acc'))}); {b}: D_LR {mean_spread(db)} "
            f"(test {mean_spread(_final(groups[b], 'test_acc'))}); {len(da)} seeds, ± half-range")
    v = V.direction_verdict(obs, expected)
    dirs = _dirs(groups[a], groups[b])
    same, words = across_conventions(obs, dirs)
    if not same and v != V.PARTLY:
        v, words = V.PARTLY, "the direction depends on D_LR's convention: " + words
    why = "; ".join(x for x in ("a seed varies init, order and data subset", words) if x)
    return _by_convention(_row(cid, setting, meas + f"; {a} is {obs}", v, why), f"{a} vs {b}, final", dirs)


def lr_claim(groups: dict, setting: str) -> dict:
    acc = {k: np.mean(_final(v, "test_acc")) for k, v in groups.items()}
    dlr = {k: np.mean(_final(v, "train_dlr")) for k, v in groups.items()}
    best, lowest = max(acc, key=acc.get), min(dlr, key=dlr.get)
    meas = "; ".join(f"{k}: test {mean_spread(_final(v, 'test_acc'))}, D_LR {mean_spread(_final(v, 'train_dlr'))}" for k, v in groups.items())
    sep = V.compare(_final(groups[best], "train_dlr"), _final(groups[lowest], "train_dlr")) if best != lowest else "same"
    meas += f"; best accuracy at {best}, lowest D_LR at {lowest}"
    if V.at_edge(list(groups), best):
        return _row("C6", setting, meas, V.UNTESTABLE,
                    "the best accuracy sits at the edge of the grid: the optimum is not bracketed, so no "
                    "tuned optimum to compare with")
    v = V.AGREES if best == lowest else (V.PARTLY if sep == "no clear difference" else V.DISAGREES)
    why = "best learning rate inside the grid"
    if all(conventions.has_weights(g) for g in groups.values()):
        means = {k: {n: np.mean(x) for n, x in conventions.values(g).items()} for k, g in groups.items()}
        low = {n: min(means, key=lambda k: means[k][n]) for n in conventions.CONVENTIONS}
        same, words = across_conventions(lowest, low)
        why += "; " + words.replace("direction", "lowest-D_LR learning rate")
        if not same and v != V.PARTLY:
            v, why = V.PARTLY, "the lowest D_LR moves with D_LR's convention: " + why
        return _by_convention(_row("C6", setting, meas, v, why), "lowest final D_LR at", low)
    return _row("C6", setting, meas, v, why)


def shuffle_claim(groups: dict, C: int, setting: str) -> dict:
    sh, cl = groups["shuffled"], groups["clean"]
    mem = min(_final(sh, "train_acc"))
    if mem < V.MEMORISED:
        return _row("C7", setting, f"shuffled runs reach train accuracy {mem:.3f} only", V.UNTESTABLE,
                    f"the net did not memorise (train < {V.MEMORISED})")
    row = seeded_contrast("C7", groups, "shuffled", "clean", "no clear difference", setting)
    chance = all(V.at_chance(x, C) for x in _final(sh, "test_acc"))
    obs = V.compare(_final(sh, "train_dlr"), _final(cl, "train_dlr"))
    moved = V.compare(_final(sh, "train_dlr"), [r.at("train_dlr", 0) for r in sh])   # the absolute anchor
    parts = {"shuffled not lazier than clean": obs != "higher", "shuffled tests at chance": chance,
             "shuffled richer than at its initialisation": moved == "lower"}
    dirs = _dirs(sh, cl)
    if dirs is not None:
        parts["not lazier under every D_LR convention"] = all(d != "higher" for d in dirs.values())
    row["verdict"], why = _parts(parts)
    row["reason"] = why + " (directions beyond the seed spread; a seed varies init, order and data)"
    return row


def _grok_setting(name: str, c) -> str:
    net = (f"transformer {c.depth}×d{c.width}, {c.heads} heads" if c.model == "transformer"
           else f"MLP {c.width}×{c.depth}")
    data = (f"modadd p={c.modadd_p}, {c.modadd_fraction:.0%} train" if c.dataset == "modadd"
            else f"{c.dataset} n={c.train_size}, init ×{c.init_scale:g}")
    return (f"{name}: {data}, {net}, {c.loss}, AdamW lr {c.lr:g} β₂ {c.adam_beta2:g}, "
            f"wd {c.weight_decay:g}, batch {c.batch_size}, {c.epochs} ep")


def grokking_claim(runs, name: str = "modadd") -> dict:
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
        return _row("C11", setting, f"first step train/test ≥ 90%: {steps}", V.UNTESTABLE,
                    f"{sum(not ok for ok, _, _ in g)} of {len(runs)} seed(s) did not grok by our rule "
                    f"(train ≥ 90% at least {V.GROK_DELAY}× earlier than test ≥ 90%)")
    at = lambda r, s_, col: float(r.metrics[col].to_numpy()[int(np.nonzero(r.steps == s_)[0][0])])
    mem = [at(r, s_tr, "train_dlr") for r, (_, s_tr, _) in zip(runs, g)]
    grok = [at(r, s_te, "train_dlr") for r, (_, _, s_te) in zip(runs, g)]
    end = _final(runs, "train_dlr")
    nc_mem = [at(r, s_tr, "nc1") for r, (_, s_tr, _) in zip(runs, g)]
    a_grok, a_end = V.compare(grok, mem), V.compare(end, mem)
    meas = (f"grokked (first step train/test ≥ 90%: {steps}); D_LR at memorisation {mean_spread(mem)}, "
            f"at grokking {mean_spread(grok)}, final {mean_spread(end)}; NC1 {mean_spread(nc_mem, '{:.2f}')}"
            f" → {mean_spread(_final(runs, 'nc1'), '{:.2f}')}")
    v = (V.AGREES if a_grok == a_end == "lower" else V.DISAGREES if a_grok == a_end == "higher"
         else V.PARTLY)
    why = (f"D_LR from memorisation to grokking is {a_grok}, to the end {a_end} (± half-range over "
           f"seeds; a seed varies init, order and split)")
    if keeps_weights(runs):
        i_mem = [int(np.nonzero(r.steps == s_tr)[0][0]) for r, (_, s_tr, _) in zip(runs, g)]
        dirs = {n: d for n, (_, _, d) in directions(runs, i_mem).items()}
        flips = [n for n, d in dirs.items() if d != a_end]
        why += ("; the direction to the end is the same under every D_LR convention of "
                "docs/measures.md" if not flips else f"; to the end under other D_LR conventions: "
                + ", ".join(f"{n} {dirs[n]}" for n in flips))
        if flips and v != V.PARTLY:       # a direction that flips with a convention is no finding
            v, why = V.PARTLY, "the direction depends on D_LR's convention: " + why
        return _by_convention(_row("C11", setting, meas, v, why), "end vs memorisation", dirs)
    return _row("C11", setting, meas, v, why)


def grokking_claims(groups: dict) -> list[dict]:
    """One C11 row per grokking setting ({setting: [runs over seeds]})."""
    return [grokking_claim(runs, name) for name, runs in groups.items()]


def _means(groups: dict, col: str) -> list[float]:
    return [float(np.mean(_final(v, col))) for v in groups.values()]


def _trend(groups: dict, col: str) -> str:
    """'rises' / 'falls' (the means along the groups monotone, first to last beyond the seed
    spread), 'is not monotone', or 'no clear change'."""
    ends = list(groups.values())
    if V.compare(_final(ends[-1], col), _final(ends[0], col)) == "no clear difference":
        return "no clear change"
    return V.monotone(_means(groups, col))


def robustness_claim(wd: dict, ts: dict) -> dict:
    """C14 in four parts (docs/measures.md): (a) the largest weight decay against none moves
    S_init and ‖θ‖² down (what older measures read as richer) beyond the seed spread while D_LR is
    not lower; (b) D_LR is monotone in α; (c) S_init and ‖θ‖² are not; (d) NC1 moves the opposite
    way to D_LR along α. (a) and (b) must hold under every D_LR convention where weights are stored."""
    w0, w1 = list(wd.values())[0], list(wd.values())[-1]
    moves = {c: V.compare(_final(w1, c), _final(w0, c)) for c in ("train_dlr", "s_init", "theta_norm2")}
    trend = {c: _trend(ts, c) for c in ("train_dlr", "s_init", "theta_norm2", "nc1")}
    mono = ("rises", "falls")
    opposite = {"rises": "falls", "falls": "rises"}.get(trend["train_dlr"])
    parts = {"(a) weight decay lowers S_init and ‖θ‖², not D_LR": moves["s_init"] == moves["theta_norm2"]
             == "lower" and moves["train_dlr"] != "lower",
             "(b) D_LR monotone in α": trend["train_dlr"] in mono,
             "(c) S_init and ‖θ‖² not monotone in α": trend["s_init"] not in mono and
             trend["theta_norm2"] not in mono,
             "(d) NC1 opposite to D_LR along α": opposite is not None and trend["nc1"] == opposite}
    dirs = None
    if conventions.has_weights(w0 + w1) and all(conventions.has_weights(g) for g in ts.values()):
        a = conventions.contrast(w1, w0)
        b = {n: V.monotone([np.mean(conventions.values(g)[n]) for g in ts.values()]) for n in a}
        parts["(a), (b) under every D_LR convention"] = (all(d != "lower" for d in a.values()) and
                                                        all(d == trend["train_dlr"] for d in b.values()))
        dirs = {n: f"wd: {a[n]}; α ↓: {b[n]}" for n in a}
    meas = (f"weight decay {list(wd)[0]} → {list(wd)[-1]}: D_LR {mean_spread(_final(w0, 'train_dlr'))} → "
            f"{mean_spread(_final(w1, 'train_dlr'))} ({moves['train_dlr']}), S_init {moves['s_init']}, "
            f"‖θ‖² {moves['theta_norm2']}; target scale α ↓ ({', '.join(ts)}): D_LR {trend['train_dlr']} ("
            + " → ".join(f"{x:.3f}" for x in _means(ts, "train_dlr")) + f"), S_init {trend['s_init']}, "
            f"‖θ‖² {trend['theta_norm2']}, NC1 {trend['nc1']}")
    c = next(iter(ts.values()))[0].cfg
    setting = (f"{c.dataset} MLP {c.width}×{c.depth}, n={c.train_size}, {c.epochs} ep, "
               f"{len(w0)} seeds each; α·one-hot MSE with lr/α, no momentum, weight decay "
               f"{c.weight_decay:g} in the α runs")
    v, why = _parts(parts)
    return _by_convention(_row("C14", setting, meas, v, why + " (directions beyond the seed spread)"),
                          "D_LR with weight decay, and along α", dirs)


def size_claim(groups: dict) -> dict:
    """C13: the largest training set against the smallest, beyond the seed spread (any direction),
    under every convention of D_LR where the weights are stored."""
    keys = list(groups)
    obs = V.compare(_final(groups[keys[-1]], "train_dlr"), _final(groups[keys[0]], "train_dlr"))
    meas = "; ".join(f"{k}: D_LR {mean_spread(_final(v, 'train_dlr'))}" for k, v in groups.items())
    c = groups[keys[0]][0].cfg
    setting = (f"{c.dataset} MLP {c.width}×{c.depth}, n = {', '.join(k.split('=')[-1] for k in keys)} with "
               f"equal steps ({c.epochs} ep at the smallest), {len(groups[keys[0]])} seeds")
    v = V.AGREES if obs != "no clear difference" else V.DISAGREES
    dirs = _dirs(groups[keys[-1]], groups[keys[0]])
    same, words = across_conventions(obs, dirs)
    if not same:
        v = V.PARTLY
    why = "; ".join(x for x in ("a change beyond the seed spread (a seed varies init, order and data)",
                                words) if x)
    return _by_convention(_row("C13", setting, meas + f"; largest n is {obs} than smallest", v, why),
                          f"{keys[-1]} vs {keys[0]}, final", dirs)


# ----------------------------------------------------------------------------- DLGN claims
def circle_claims(circle) -> list[dict]:
    """D6: the gates' boundaries sit on the target's jumps (closer than at init and than random
    directions); D7: the low-frequency share of f̂(θ) peaks in the first quarter of training, then
    falls (nfl_utils/circle.py) [rules ours]."""
    from . import circle as O

    h0, h1 = circle.model(at_init=True).features.hyperplanes(), circle.model().features.hyperplanes()
    d0, d1 = O.break_distance(h0), O.break_distance(h1)
    rand = O.random_break_distance(sum(len(h) for h in h1))
    deg = lambda r: f"{math.degrees(r):.1f}°"
    d6 = _parts({"closer to the jumps than at init": d1 < d0, "closer than random directions": d1 < rand})
    rows = [_row("D6", "circle DLGN", f"mean distance from the target's {len(O.CIRCLE_BREAKS)} jumps to the nearest "
                 f"gate boundary: init {deg(d0)}, trained {deg(d1)} (random directions: {deg(rand)})", *d6)]
    share = [O.low_frequency_share(circle.model(checkpoint=i)) for i in range(len(circle))]
    ep = circle.epochs
    peak = 1 + int(np.argmax(share[1:]))
    d7 = _parts({"the low-frequency share peaks in the first quarter": ep[peak] <= circle.cfg.epochs // 4,
                 "then falls (final below the peak)": share[-1] < share[peak]})
    rows.append(_row("D7", "circle DLGN", f"share of f̂(θ)'s power in frequencies 1–{O.K_LOW}: init {share[0]:.3f}, "
                     f"peak {share[peak]:.3f} at epoch {ep[peak]}, final {share[-1]:.3f}", *d7))
    return rows


def tree_claim(tree: dict, grid: dict) -> dict:
    """D9: the ordering SF ≥ DLGN > ReLU and DLGN above 90% (test accuracy). Runs trained with
    keep_best are judged on their best-validation weights; with a grid, the ReLU MLP is the
    member (or the plain baseline) of best validation accuracy."""
    relu = {"ReLU MLP": tree["ReLU MLP"], **grid}
    pick = max(relu, key=lambda n: relu[n].meta.get("best_val_acc", relu[n].final("test_acc")))
    t = {"DLGN": tree["DLGN"].final("test_acc"), "DLGN-SF": tree["DLGN-SF"].final("test_acc"),
         "ReLU MLP": relu[pick].final("test_acc")}
    c = tree["DLGN"].cfg
    recipe = (f"sibling recipe: up to {c.epochs} epochs, stop at train loss < {c.stop_loss:g}, "
              f"best-validation weights" if c.keep_best else f"{c.epochs} epochs")
    setting = f"oblique tree, {recipe}" + (f"; ReLU tuned over {len(relu)} nets ({pick})" if grid else "")
    stops = ", ".join(f"{n} stopped at {r.meta['stopped_epoch']}" for n, r in tree.items()
                      if r.meta.get("stopped_epoch"))
    meas = ", ".join(f"{n} {100 * v:.1f}" for n, v in t.items()) + (f" ({stops})" if stops else "")
    order = t["DLGN-SF"] >= t["DLGN"] > t["ReLU MLP"]
    v, why = _parts({"ordering SF ≥ DLGN > ReLU": order, "DLGN above 90%": t["DLGN"] > 0.9})
    return _row("D9", setting, meas, v, why)


def image_claims(image: dict) -> list[dict]:
    """D3 and D4, both parts each, over seeds ({setting: [runs]}): a part holds beyond the seed
    spread (V.compare) and, where the claim says ≲ or ≪, by the margins stated in the reasons."""
    acc = {n: _final(runs, "test_acc") for n, runs in image.items()}
    m = {n: float(np.mean(a)) for n, a in acc.items()}
    c, k = image["DLGN"][0].cfg, len(image["DLGN"])
    setting = f"{c.dataset}, width {c.width}, depth {c.depth}, {c.epochs} ep, {k} seed(s)"
    ms = lambda n: mean_spread(acc[n])
    lin_below = V.compare(acc["deep linear"], acc["DLGN"]) == "lower"
    near_relu = m["DLGN"] <= m["ReLU MLP"] + 0.01
    d3 = _parts({"deep linear < DLGN": lin_below, "DLGN ≲ ReLU": near_relu})
    rows = [_row("D3", setting, f"deep linear {ms('deep linear')}, DLGN {ms('DLGN')}, ReLU {ms('ReLU MLP')}",
                 d3[0], d3[1] + "; < beyond the seed spread, ≲ allows 1 point")]
    fr, fl = "DLGN, frozen random gates", "DLGN, frozen learned gates"
    far_below = V.compare(acc[fr], acc["DLGN"]) == "lower" and m[fr] <= m["DLGN"] - 0.02
    recover = m[fl] >= m["DLGN"] - 0.02
    d4 = _parts({"frozen random gates ≪ trained": far_below, "learned gates + fresh values recover": recover})
    rows.append(_row("D4", setting, f"trained {ms('DLGN')}, frozen random gates {ms(fr)}, "
                     f"frozen learned gates + fresh values {ms(fl)}", d4[0],
                     d4[1] + "; ≪ = at least 2 points and beyond the seed spread, recover = within 2 "
                     "points [ours]"))
    return rows


def _parts(parts: dict) -> tuple[str, str]:
    """(verdict, reason) of a claim made of named parts: agrees when all hold, disagrees when none
    does, partly otherwise with the failing parts named (the caller appends its rule)."""
    failing = [n for n, ok in parts.items() if not ok]
    if not failing:
        return V.AGREES, "all parts hold"
    if len(failing) == len(parts):
        return V.DISAGREES, "no part holds: " + ", ".join(failing) + " fail"
    return V.PARTLY, "fails: " + ", ".join(failing)


def dlgn_claims(circle, image: dict, tree: dict, grid: dict | None = None) -> list[dict]:
    """D1–D9. ``image``: {setting: [runs over seeds]}; ``tree``: {name: run}; ``grid``: more ReLU
    baselines for D9, of which the best validation accuracy stands for the tuned ReLU MLP."""
    from .dlgn import centred_alignment, path_indicators, path_weights, stable_rank

    rows = []
    data = circle.data()
    model = circle.model().double()
    x = data.x_train[:400].double()
    with torch.no_grad():
        rec = model.head(model.features(x, hard=True))
        P = path_indicators(model.features, x)
        err = float((rec - P @ path_weights(model.features, model.head).T).abs().max())
        K = model.features.overlap_kernel(x, x)
        kerr = float((K - P @ P.T).abs().max())
    rows.append(_row("D1", "circle DLGN, trained", f"max |recursion − path sum| = {err:.1e}", V.AGREES if err < 1e-8 else V.DISAGREES))
    rows.append(_row("D2", "circle DLGN, trained", f"max |K − PPᵀ| = {kerr:.1e}", V.AGREES if kerr < 1e-8 else V.DISAGREES))
    rows += image_claims(image)
    xs, ys = data.x_train[data.measure_idx], data.y_train[data.measure_idx]
    al = []
    for i in range(len(circle)):
        m = circle.model(checkpoint=i)
        with torch.no_grad():
            al.append(centred_alignment(m.features.overlap_kernel(xs, xs), ys))
    peak = int(np.argmax(al))
    early = circle.epochs[peak] <= circle.cfg.epochs // 4
    d5 = _parts({"the alignment rises (final above init)": al[-1] > al[0],
                 "mostly early (its peak above init, in the first quarter)": al[peak] > al[0] and early})
    rows.append(_row("D5", "circle DLGN", f"alignment init {al[0]:.3f}, peak {al[peak]:.3f} at epoch "
                     f"{circle.epochs[peak]}, final {al[-1]:.3f}", d5[0], d5[1] + " [ours]"))
    rows += circle_claims(circle)
    dl_run = image["DLGN"][0]
    sr1 = [stable_rank(V_) for V_ in dl_run.model().features.hyperplanes()]
    sr0 = [stable_rank(V_) for V_ in dl_run.model(at_init=True).features.hyperplanes()]
    ordered = all(a > b for a, b in zip(sr1, sr1[1:]))
    more = (sr1[-1] / sr1[0]) < (sr0[-1] / sr0[0])
    rows.append(_row("D8", f"{dl_run.cfg.dataset} DLGN", "stable rank per layer, init " + " → ".join(f"{v:.1f}" for v in sr0)
                     + "; trained " + " → ".join(f"{v:.1f}" for v in sr1),
                     V.AGREES if ordered and more else V.PARTLY if more else V.DISAGREES,
                     "the ratio last/first must fall below its value at init (an ordering that already holds "
                     "at init is no clustering learned); agrees when later layers also have the lower stable rank"))
    rows.append(tree_claim(tree, grid or {}))
    return rows


# ----------------------------------------------------------------------------- the table
def table(profile: str) -> list[dict]:
    S = P.by_setting
    main = P.load(profile, "main")
    C = next(iter(main.values())).num_classes
    rows = main_claims(main, C)
    lr = S(P.load(profile, "lr"))
    rl = S(P.load(profile, "rich vs lazy"))
    rows.append(lr_claim(lr, small_setting(lr)))
    sh = S(P.load(profile, "shuffled labels"))
    rows.append(shuffle_claim(sh, C, memo_setting(sh)))
    groups = {k.split(": ", 1)[0] for k in P.table(profile)}
    if "terminal phase" in groups:
        rows.append(collapse_claim(P.load(profile, "terminal phase")["MLP, MSE"], _terminal_name(profile)))
    else:
        rows.append(collapse_claim(main["MLP, MSE"], "main: MLP, MSE"))
    reg = P.load(profile, "regression")
    rows.append(regression_claim(reg["MLP"], reg["MLP, head-only"]))
    rows.append(seeded_contrast("C10", rl, "full", "full, head-only", "lower", small_setting(rl)))
    rows += grokking_claims(S(P.load(profile, "grokking")))
    bn = S(P.load(profile, "batch norm"))
    rows.append(seeded_contrast("C12", bn, "BN", "no BN", "lower", bn_setting(bn)))
    rows.append(size_claim(S(P.load(profile, "train size"))))
    rows.append(robustness_claim(S(P.load(profile, "weight decay")), S(P.load(profile, "target scale"))))
    grid = P.load(profile, "dlgn tree grid") if "dlgn tree grid" in groups else None
    rows += dlgn_claims(P.load(profile, "dlgn circle")["DLGN"], S(P.load(profile, "dlgn image")),
                        P.load(profile, "dlgn tree"), grid)
    order = list(CLAIMS)
    return sorted(rows, key=lambda r: order.index(r["id"]))


def memo_setting(groups: dict) -> str:
    """The shuffled-label contrast's setting, from its runs."""
    runs = groups["shuffled"]
    c = runs[0].cfg
    return (f"{c.dataset} MLP {c.width}×{c.depth}, {c.train_size:,} images, {c.optimizer} lr {c.lr:g}, "
            f"{c.loss}, {c.epochs} ep, {len(runs)} seeds")


def bn_setting(groups: dict) -> str:
    """The batch-norm contrast's setting, from its no-BN runs."""
    runs = groups["no BN"]
    c = runs[0].cfg
    net = (f"VGG16 (13 conv layers) at {c.vgg_base}/64 of its channels" if c.model.startswith("vgg16")
           else f"small CNN ({c.channels} channels)")
    return (f"{c.dataset} {net}, n={c.train_size}, {c.loss}, lr {c.lr:g}, {c.epochs} ep, "
            f"{len(runs)} seeds")


def small_setting(groups: dict) -> str:
    runs = next(iter(groups.values()))
    c = runs[0].cfg
    return (f"{c.dataset} MLP {c.width}×{c.depth}, n={c.train_size}, {c.loss}, {c.epochs} ep, "
            f"{len(runs)} seeds")


def _terminal_name(profile: str) -> str:
    c = P.group(profile, "terminal phase")["MLP, MSE"]
    return (f"terminal phase: {c.dataset} MLP {c.width}×{c.depth} MSE, n={c.train_size}, {c.epochs} ep, "
            f"lr {c.lr:g} {c.schedule} schedule, wd {c.weight_decay:g}")


# The figures that show each claim, where their JSON numbers do not name it (figure_links adds those)
SHOWN_IN = {"C1": ["04_mf_vs_ef_measures", "03_spectra_deff"], "C2": ["04_mf_vs_ef_measures"],
            "C4": ["04_mf_vs_ef_rates"], "C5": ["03_spectra_deff"], "C8": ["05_collapse_nc_dlr", "05_collapse_kernel"],
            "C9": ["05_collapse_regression"], "C11": ["07_richness_dlr_conventions"],
            "C14": ["07_richness_wd", "07_richness_target"], "D1": ["08_dlgn_overlap_spectrum"],
            "D2": ["08_dlgn_overlap_spectrum"], "D3": ["08_dlgn_image"], "D4": ["08_dlgn_image"],
            "D5": ["08_dlgn_circle_paths"], "D6": ["08_dlgn_circle_hyperplanes"], "D7": ["08_dlgn_circle_paths"],
            "D8": ["08_dlgn_image"], "D9": ["08_dlgn_tree_benchmark"]}


def figure_links(folder) -> dict[str, list[str]]:
    """{claim id: figure stems that exist in ``folder``}: those whose JSON numbers name the claim,
    and those of SHOWN_IN."""
    import json
    import re
    from pathlib import Path

    out: dict[str, list[str]] = {}
    for f in sorted(Path(folder).glob("*.json")):
        try:
            numbers = json.loads(f.read_text()).get("numbers", {})
        except (OSError, ValueError):
            continue
        for cid in sorted({m.group(1) for k in numbers for m in [re.match(r"(C\d+|D\d+)\b", str(k))] if m}):
            out.setdefault(cid, []).append(f.stem)
    for cid, stems in SHOWN_IN.items():
        out.setdefault(cid, []).extend(st for st in stems if (Path(folder) / f"{st}.png").exists()
                                       and st not in out[cid])
    return {k: v for k, v in out.items() if v}


def summary(rows: list[dict]) -> str:
    """'N rows: a agree, b partly, ...' in the order of verdicts.py."""
    counts = {v: sum(r["verdict"] == v for r in rows) for v in (V.AGREES, V.PARTLY, V.DISAGREES, V.UNTESTABLE)}
    return f"{len(rows)} rows: " + ", ".join(f"{n} {v}" for v, n in counts.items())


def markdown(rows: list[dict], profile: str, links: dict | None = None) -> str:
    links = links or {}
    lines = [f"# Claims table: profile `{profile}`", "",
             "Generated by `python -m nfl_utils.claims` from the stored runs; verdict rules in `nfl_utils/verdicts.py`,",
             "criteria in `docs/measures.md`. A verdict is about *this setting*: a disagreement on MNIST is not one on CIFAR-10.",
             "", f"**{summary(rows)}.**", "",
             "| id | claim | setting | measured | reported | verdict | why | figures |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    esc = lambda s: str(s).replace("|", "\\|")
    lines += [f"| {r['id']} | {esc(r['claim'])} | {esc(r['setting'])} | {esc(r['measured'])} | {esc(r['reported'])} | "
              f"**{r['verdict']}** | {esc(r['reason'])} | "
              + ", ".join(f"[{st}]({st}.png)" for st in links.get(r["id"], [])) + " |" for r in rows]
    return "\n".join(lines + conventions_section(rows)) + "\n"


def conventions_section(rows: list[dict]) -> list[str]:
    """The rows that rest on a D_LR direction: that direction under each of D_LR's open
    conventions (docs/measures.md), a table of its own below the claims."""
    rs = [r for r in rows if r.get("by_convention")]
    if not rs:
        return []
    names = list(conventions.CONVENTIONS)
    esc = lambda s: str(s).replace("|", "\\|")
    short = lambda s: s if len(s) <= 60 else s[:59] + "…"
    lines = ["", "## D_LR's directions under its open conventions", "",
             "Each row that rests on a D_LR direction, recomputed from the runs' stored weights under every "
             "convention of `docs/measures.md` (the claims table uses the first). A direction that differs "
             "between columns is no finding about the network; its row above reads *partly*.", "",
             "| id | setting | compares | " + " | ".join(names) + " |", "| --- " * (len(names) + 3) + "|"]
    lines += [f"| {r['id']} | {esc(short(r['setting']))} | {esc(r['by_convention_what'])} | "
              + " | ".join(esc(r["by_convention"].get(n, "—")) for n in names) + " |" for r in rs]
    return lines


def write(profile: str) -> str:
    from .plots import figures_dir

    out = figures_dir(profile) / "claims.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(table(profile), profile, figure_links(out.parent)))
    return str(out)


def say(row: dict) -> str:
    """One claims-table row as a Markdown sentence for a notebook."""
    why = f" ({row['reason']})" if row["reason"] else ""
    return (f"* **{row['id']}** {row['claim']} — **{row['verdict']}**{why}. Measured ({row['setting']}): "
            f"{row['measured']}. Reported: {row['reported']}.")


def main(argv=None) -> None:
    """``python -m nfl_utils.claims PROFILE``: one line (no traceback) when runs are missing."""
    from .errors import one_line, user_errors

    argv = sys.argv[1:] if argv is None else argv
    profile = argv[0] if argv else "quick"
    if profile not in P.PROFILES:
        sys.exit(f"error: unknown profile {profile!r}; valid: {', '.join(P.PROFILES)}")
    try:
        print(write(profile))
    except user_errors() as e:      # the user's store or machine, not a bug: one line
        sys.exit(one_line(e))


if __name__ == "__main__":
    main()
