"""The rules of the feature-map claims (C1–C14): each turns stored runs into one claims-table row
(:func:`nfl_utils.claim_record.claim_row`) by the thresholds of :mod:`nfl_utils.verdicts`, stated
in docs/measures.md."""
from __future__ import annotations

import numpy as np

from . import analysis as A
from . import conventions
from . import verdicts as V
from .claim_record import (across_conventions, by_parts, claim_row, convention_dirs, final_values, mean_spread,
                           with_conventions)

def main_claims(main: dict, C: int) -> list[dict]:
    full = {n: r for n, r in main.items() if not r.cfg.head_only}
    heads = {n: r for n, r in main.items() if r.cfg.head_only}
    setting = "; ".join(f"{n}: {r.cfg.dataset} {r.cfg.model} {r.cfg.loss}, {r.cfg.epochs} ep" for n, r in full.items())
    rows = [early_mf_claim(full, setting)]
    verdicts = {n: A.regime_numbers(r)["verdict"] for n, r in full.items()}
    n_mf = sum(x == "MF" for x in verdicts.values())
    rows.append(claim_row("C2", setting, "; ".join(f"{n}: {x}" for n, x in verdicts.items()),
                     V.AGREES if n_mf == len(full) else V.PARTLY if n_mf else V.DISAGREES,
                     f"{n_mf} of {len(full)} fully trained runs end MF"))
    rows.append(claim_row("C3", "—", "our MLP runs: " + ", ".join(f"{n} {verdicts[n]}" for n in full if "MLP" in n),
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
        return claim_row("C4", ", ".join(heads) or "—", "no head-only MSE run with residuals per mode",
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
    return claim_row("C4", ", ".join(mse), meas, v, why)


def concentration_claim(full: dict, verdicts: dict, C: int, setting: str) -> dict:
    """C5 by parts for the MF runs: centred d_eff ends within V.NEAR_C_MINUS_1 of C−1, the gap
    ρ_{C+1}/ρ_C ends at most V.GAP_TO_ZERO, and every MF run ends closer to C−1 than every non-MF one."""
    mf = {n: r for n, r in full.items() if verdicts[n] == "MF"}
    if not mf:
        return claim_row("C5", setting, "no run ends MF", V.UNTESTABLE, "needs an MF run")
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
    v, why = by_parts(parts)
    return claim_row("C5", ", ".join(mf), meas, v, why)


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
    return claim_row("C1", setting, meas, v, f"{why} ({rule})")


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
    v, why = by_parts({"fall from start to end": falls, f"fall together (rank corr. ≥ {V.CO_MOVE:g})": together,
                     "terminal kernel picture": terminal})
    return claim_row("C8", name, meas, v, why + "; thresholds [ours]: Π*(C) ≥ 0.9, ρC−1/ρ1 ≥ 0.8 (spread ≤ 20%), "
                "tail ≤ 0.1")


def regression_claim(full, head) -> dict:
    """C9 by parts [thresholds ours]: Π(2) ≥ V.SPAN_2, the top centred eigenfunction ∝ f̂ − mean
    (|corr| ≥ V.ALIGNED), D_LR below the head-only control's, and the control broad (Π(2) < V.SPAN_2)."""
    a, b = A.regression_statement(full), A.regression_statement(head)
    meas = (f"full: Π(2) {a['Π(2)']:.3f}, |corr(e1, f̂)| {a['|corr(e1, f̂)|']:.3f}, D_LR {a['D_LR']:.3f}; "
            f"head-only: Π(2) {b['Π(2)']:.3f}, D_LR {b['D_LR']:.3f}")
    v, why = by_parts({f"Π(2) ≥ {V.SPAN_2:g}": a["Π(2)"] >= V.SPAN_2,
                     f"e1 ∝ f̂ (|corr| ≥ {V.ALIGNED:g})": a["|corr(e1, f̂)|"] >= V.ALIGNED,
                     "D_LR below head-only": a["D_LR"] < b["D_LR"],
                     f"head-only broad (Π(2) < {V.SPAN_2:g})": b["Π(2)"] < V.SPAN_2})
    return claim_row("C9", f"{full.cfg.dataset} {full.cfg.model}, digit value by MSE, C = 2 (the modes "
                f"1, f̂), {full.cfg.epochs} ep", meas, v, why + " [thresholds ours]")


def seeded_contrast(cid, groups: dict, a: str, b: str, expected: str, setting: str) -> dict:
    """D_LR of setting ``a`` against ``b`` over seeds; ``expected``: 'lower' or 'higher'. A
    direction that another of D_LR's conventions does not share makes the verdict partly."""
    da, db = final_values(groups[a], "train_dlr"), final_values(groups[b], "train_dlr")
    obs = V.compare(da, db)
    meas = (f"{a}: D_LR {mean_spread(da)} (test {mean_spread(final_values(groups[a], 'test_acc'))}); {b}: D_LR {mean_spread(db)} "
            f"(test {mean_spread(final_values(groups[b], 'test_acc'))}); {len(da)} seeds, ± half-range")
    v = V.direction_verdict(obs, expected)
    dirs = convention_dirs(groups[a], groups[b])
    same, words = across_conventions(obs, dirs)
    if not same and v != V.PARTLY:
        v, words = V.PARTLY, "the direction depends on D_LR's convention: " + words
    why = "; ".join(x for x in ("a seed varies init, order and data subset", words) if x)
    return with_conventions(claim_row(cid, setting, meas + f"; {a} is {obs}", v, why), f"{a} vs {b}, final", dirs)


def lr_claim(groups: dict, setting: str) -> dict:
    acc = {k: np.mean(final_values(v, "test_acc")) for k, v in groups.items()}
    dlr = {k: np.mean(final_values(v, "train_dlr")) for k, v in groups.items()}
    best, lowest = max(acc, key=acc.get), min(dlr, key=dlr.get)
    meas = "; ".join(f"{k}: test {mean_spread(final_values(v, 'test_acc'))}, D_LR {mean_spread(final_values(v, 'train_dlr'))}" for k, v in groups.items())
    sep = V.compare(final_values(groups[best], "train_dlr"), final_values(groups[lowest], "train_dlr")) if best != lowest else "same"
    meas += f"; best accuracy at {best}, lowest D_LR at {lowest}"
    if V.at_edge(list(groups), best):
        return claim_row("C6", setting, meas, V.UNTESTABLE,
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
        return with_conventions(claim_row("C6", setting, meas, v, why), "lowest final D_LR at", low)
    return claim_row("C6", setting, meas, v, why)


def shuffle_claim(groups: dict, C: int, setting: str) -> dict:
    sh, cl = groups["shuffled"], groups["clean"]
    mem = min(final_values(sh, "train_acc"))
    if mem < V.MEMORISED:
        return claim_row("C7", setting, f"shuffled runs reach train accuracy {mem:.3f} only", V.UNTESTABLE,
                    f"the net did not memorise (train < {V.MEMORISED})")
    row = seeded_contrast("C7", groups, "shuffled", "clean", "no clear difference", setting)
    chance = all(V.at_chance(x, C) for x in final_values(sh, "test_acc"))
    obs = V.compare(final_values(sh, "train_dlr"), final_values(cl, "train_dlr"))
    moved = V.compare(final_values(sh, "train_dlr"), [r.at("train_dlr", 0) for r in sh])   # the absolute anchor
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
        return claim_row("C11", setting, f"first step train/test ≥ 90%: {steps}", V.UNTESTABLE,
                    f"{sum(not ok for ok, _, _ in g)} of {len(runs)} seed(s) did not grok by our rule "
                    f"(train ≥ 90% at least {V.GROK_DELAY}× earlier than test ≥ 90%)")
    at = lambda r, s_, col: float(r.metrics[col].to_numpy()[int(np.nonzero(r.steps == s_)[0][0])])
    mem = [at(r, s_tr, "train_dlr") for r, (_, s_tr, _) in zip(runs, g)]
    grok = [at(r, s_te, "train_dlr") for r, (_, _, s_te) in zip(runs, g)]
    end = final_values(runs, "train_dlr")
    nc_mem = [at(r, s_tr, "nc1") for r, (_, s_tr, _) in zip(runs, g)]
    a_grok, a_end = V.compare(grok, mem), V.compare(end, mem)
    meas = (f"grokked (first step train/test ≥ 90%: {steps}); D_LR at memorisation {mean_spread(mem)}, "
            f"at grokking {mean_spread(grok)}, final {mean_spread(end)}; NC1 {mean_spread(nc_mem, '{:.2f}')}"
            f" → {mean_spread(final_values(runs, 'nc1'), '{:.2f}')}")
    v = (V.AGREES if a_grok == a_end == "lower" else V.DISAGREES if a_grok == a_end == "higher"
         else V.PARTLY)
    why = (f"D_LR from memorisation to grokking is {a_grok}, to the end {a_end} (± half-range over "
           f"seeds; a seed varies init, order and split)")
    if conventions.keeps_weights(runs):
        i_mem = [int(np.nonzero(r.steps == s_tr)[0][0]) for r, (_, s_tr, _) in zip(runs, g)]
        dirs = {n: d for n, (_, _, d) in conventions.directions(runs, i_mem).items()}
        flips = [n for n, d in dirs.items() if d != a_end]
        why += ("; the direction to the end is the same under every D_LR convention of "
                "docs/measures.md" if not flips else f"; to the end under other D_LR conventions: "
                + ", ".join(f"{n} {dirs[n]}" for n in flips))
        if flips and v != V.PARTLY:       # a direction that flips with a convention is no finding
            v, why = V.PARTLY, "the direction depends on D_LR's convention: " + why
        return with_conventions(claim_row("C11", setting, meas, v, why), "end vs memorisation", dirs)
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
    way to D_LR along α. (a) and (b) must hold under every D_LR convention where weights are stored."""
    w0, w1 = list(wd.values())[0], list(wd.values())[-1]
    moves = {c: V.compare(final_values(w1, c), final_values(w0, c)) for c in ("train_dlr", "s_init", "theta_norm2")}
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
    meas = (f"weight decay {list(wd)[0]} → {list(wd)[-1]}: D_LR {mean_spread(final_values(w0, 'train_dlr'))} → "
            f"{mean_spread(final_values(w1, 'train_dlr'))} ({moves['train_dlr']}), S_init {moves['s_init']}, "
            f"‖θ‖² {moves['theta_norm2']}; target scale α ↓ ({', '.join(ts)}): D_LR {trend['train_dlr']} ("
            + " → ".join(f"{x:.3f}" for x in _means(ts, "train_dlr")) + f"), S_init {trend['s_init']}, "
            f"‖θ‖² {trend['theta_norm2']}, NC1 {trend['nc1']}")
    c = next(iter(ts.values()))[0].cfg
    setting = (f"{c.dataset} MLP {c.width}×{c.depth}, n={c.train_size}, {c.epochs} ep, "
               f"{len(w0)} seeds each; α·one-hot MSE with lr/α, no momentum, weight decay "
               f"{c.weight_decay:g} in the α runs")
    v, why = by_parts(parts)
    return with_conventions(claim_row("C14", setting, meas, v, why + " (directions beyond the seed spread)"),
                          "D_LR with weight decay, and along α", dirs)


def size_claim(groups: dict) -> dict:
    """C13: the largest training set against the smallest, beyond the seed spread (any direction),
    under every convention of D_LR where the weights are stored."""
    keys = list(groups)
    obs = V.compare(final_values(groups[keys[-1]], "train_dlr"), final_values(groups[keys[0]], "train_dlr"))
    meas = "; ".join(f"{k}: D_LR {mean_spread(final_values(v, 'train_dlr'))}" for k, v in groups.items())
    c = groups[keys[0]][0].cfg
    setting = (f"{c.dataset} MLP {c.width}×{c.depth}, n = {', '.join(k.split('=')[-1] for k in keys)} with "
               f"equal steps ({c.epochs} ep at the smallest), {len(groups[keys[0]])} seeds")
    v = V.AGREES if obs != "no clear difference" else V.DISAGREES
    dirs = convention_dirs(groups[keys[-1]], groups[keys[0]])
    same, words = across_conventions(obs, dirs)
    if not same:
        v = V.PARTLY
    why = "; ".join(x for x in ("a change beyond the seed spread (a seed varies init, order and data)",
                                words) if x)
    return with_conventions(claim_row("C13", setting, meas + f"; largest n is {obs} than smallest", v, why),
                          f"{keys[-1]} vs {keys[0]}, final", dirs)


def small_setting(groups: dict) -> str:
    runs = next(iter(groups.values()))
    c = runs[0].cfg
    return (f"{c.dataset} MLP {c.width}×{c.depth}, n={c.train_size}, {c.loss}, {c.epochs} ep, "
            f"{len(runs)} seeds")
