"""The rules of the feature-map claims (C1–C5, C8, C9): each turns stored runs into one
claims-table row (:func:`nfl_utils.claim_record.claim_row`) by the thresholds of
:mod:`nfl_utils.verdicts`, stated in docs/measures.md. The richness claims: :mod:`claims_dlr`."""
from __future__ import annotations

import numpy as np

from . import analysis as A
from . import verdicts as V
from .claim_record import by_parts, claim_row
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from .run import Run

def main_claims(main: dict, C: int) -> list[dict]:
    full = {n: r for n, r in main.items() if not r.cfg.head_only}
    heads = {n: r for n, r in main.items() if r.cfg.head_only}
    setting = "; ".join(
        f"{n}: {r.cfg.dataset} {r.cfg.model} {r.cfg.loss}, {r.cfg.epochs} ep"
        for n, r in full.items()
    )
    rows = [early_mf_claim(full, setting)]
    verdicts = {n: A.regime_numbers(r)["verdict"] for n, r in full.items()}
    n_mf = sum(x == "MF" for x in verdicts.values())
    rows.append(claim_row("C2", setting, "; ".join(f"{n}: {x}" for n, x in verdicts.items()),
                     V.AGREES if n_mf == len(full) else V.PARTLY if n_mf else V.DISAGREES,
                     f"{n_mf} of {len(full)} fully trained runs end MF"))
    rows.append(
        claim_row(
            "C3",
            "—",
            "our MLP runs: " + ", ".join(f"{n} {verdicts[n]}" for n in full if "MLP" in n),
            V.UNTESTABLE,
            "no CIFAR-10 on this machine (paper profile, GPU)",
        )
    )
    rows.append(rate_claim(heads))
    rows.append(concentration_claim(full, verdicts, C, setting))
    return rows


def rate_claim(heads: dict) -> dict:
    """C4 on the head-only runs trained by MSE: per mode, the residual's rate against ρ_k
    (verdicts.mode_rates). That ρ_k, e_k and Π* stay is a property of the code (Φ is frozen), a
    unit test (tests/test_rates.py), not evidence; the row shows how far Π moved (the head
    trained)."""
    mse = {n: r for n, r in heads.items() if r.cfg.loss == "mse" and "train_u_residual" in r.arrays}
    if not mse:
        return claim_row("C4", ", ".join(heads) or "—",
                         "no head-only MSE run with residuals per mode",
                    V.UNTESTABLE, "needs a head-only MSE run measured with per-mode residuals")
    res = {n: A.coefficient_rates(r) for n, r in mse.items()}
    moved = {
        n: float(
            np.nanmax(np.abs(r.arrays["train_u_cum_utility"] - r.arrays["train_u_cum_utility"][0]))
        )
        for n, r in mse.items()
    }
    meas = "; ".join(f"{n}: {x['n']} timed modes" + ("" if np.isnan(x["corr"]) else
                     f", Spearman(rate, ρ) {x['corr']:.2f}, log-log slope {x['slope']:.2f}") +
                     f", max |ΔΠ| {moved[n]:.3f}" for n, x in res.items())
    vs = [x["verdict"] for x in res.values() if x["verdict"] != V.UNTESTABLE]
    v = (V.UNTESTABLE if not vs else V.AGREES if all(x == V.AGREES for x in vs) else
         V.DISAGREES if all(x == V.DISAGREES for x in vs) else V.PARTLY)
    fails = [n for n, x in res.items() if x["verdict"] not in (V.AGREES, V.UNTESTABLE)]
    why = (f"rule [ours]: a mode is timed when its squared residual first falls to ≤ "
           f"{V.RATE_HALF:g} of its start, rate = ln(R₀/R_t)/2t; ∝ ρ_k = Spearman ≥ "
           f"{V.RATE_CORR:g} and slope in [{V.RATE_SLOPE[0]:g}, {V.RATE_SLOPE[1]:g}] over ≥ "
           f"{V.RATE_MIN_MODES} timed modes")
    if fails:
        why = f"fails: {', '.join(fails)}; " + why
    return claim_row("C4", ", ".join(mse), meas, v, why)


def concentration_claim(full: dict, verdicts: dict, C: int, setting: str) -> dict:
    """C5 by parts for the MF runs: centred d_eff ends within V.NEAR_C_MINUS_1 of C−1, the gap
    ρ_{C+1}/ρ_C ends at most V.GAP_TO_ZERO, and every MF run ends closer to C−1 than every non-MF
    one."""
    mf = {n: r for n, r in full.items() if verdicts[n] == "MF"}
    if not mf:
        return claim_row("C5", setting, "no run ends MF", V.UNTESTABLE, "needs an MF run")
    dist = {n: abs(r.final("train_c_d_eff") - (C - 1)) for n, r in full.items()}
    others = [dist[n] for n in full if n not in mf]
    parts = {
        f"centred d_eff within {V.NEAR_C_MINUS_1:.0%} of C−1": all(
            dist[n] <= V.NEAR_C_MINUS_1 * (C - 1) for n in mf
        ),
        f"ρC+1/ρC ≤ {V.GAP_TO_ZERO:g}": all(
            1 / r.final("train_u_gap") <= V.GAP_TO_ZERO for r in mf.values()
        ),
    }
    if others:
        parts["closer to C−1 than the non-MF runs"] = max(dist[n] for n in mf) < min(others)
    meas = "; ".join(
        f"{n}: centred d_eff {r.at('train_c_d_eff', 0):.1f} → "
        f"{r.final('train_c_d_eff'):.1f}, ρC+1/ρC = {1 / r.final('train_u_gap'):.3f}"
        for n, r in mf.items()
    )
    meas += f" (C−1 = {C - 1})" + (
        "; non-MF runs end at centred d_eff "
        + ", ".join(f"{full[n].final('train_c_d_eff'):.1f} ({n})" for n in full if n not in mf)
        if others
        else ""
    )
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
                    f"first MF at epoch {x['first']} of {full[n].cfg.epochs} (= {x['full']:.2g} "
                    f"full-data epochs), MF at {x['n_mf']} "
                    f"checkpoint(s){'' if x['stays'] else ', not kept'}")
        for n, x in t.items())
    both = [n for n in full if early[n] and persists[n]]
    if both:
        v, why = V.AGREES, f"early and persistent: {', '.join(both)}"
    elif any(x["first"] is not None for x in t.values()):
        fail = [p for p, ok in (("early", any(early.values())),
                                ("persists", any(persists.values()))) if not ok]
        v, why = V.PARTLY, ("MF reached, but no run is early and persistent" + (f" (fails for "
                            f"every run: {', '.join(fail)})" if fail else ""))
    else:
        v, why = V.DISAGREES, "no run reaches MF"
    rule = (f"early = first MF by {V.EARLY_EPOCHS} full-data epochs; persists = MF at every later "
            f"checkpoint and at ≥ {V.PERSIST_CHECKPOINTS}")
    return claim_row("C1", setting, meas, v, f"{why} ({rule})")


def collapse_claim(run: Run, name: str) -> dict:
    """C8 by parts: NC1, NC2 and D_LR fall from start to end; they move together across the
    checkpoints (rank correlation ≥ V.CO_MOVE of NC1 and of NC2 with D_LR); and the terminal
    kernel picture (Π*(C) ≥ 0.9, ρC−1/ρ1 ≥ 0.8, centred tail ≤ 0.1) [thresholds ours]."""
    k0, k1 = A.kernel_statement(run, 0), A.kernel_statement(run)
    m = run.metrics
    falls = (
        k1["NC1"] < k0["NC1"]
        and k1["NC2 equiangular"] < k0["NC2 equiangular"]
        and k1["D_LR"] < k0["D_LR"]
    )
    r1 = V.rank_corr(m["nc1"], m["train_dlr"])
    r2 = V.rank_corr(m["nc2_equiangular"], m["train_dlr"])
    together = r1 >= V.CO_MOVE and r2 >= V.CO_MOVE
    terminal = (k1["Π*(C)"] >= 0.9 and k1["ρC−1/ρ1 centred"] >= 0.8
                and k1["centred tail share"] <= 0.1)
    meas = (f"NC1 {k0['NC1']:.2f} → {k1['NC1']:.3f}, NC2 {k0['NC2 equiangular']:.2f} → "
            f"{k1['NC2 equiangular']:.3f}, D_LR {k0['D_LR']:.3f} → {k1['D_LR']:.3f}; rank "
            f"correlation with D_LR over {len(m)} checkpoints: NC1 {r1:.2f}, NC2 {r2:.2f}; final "
            f"Π*(C) {k1['Π*(C)']:.3f}, ρC−1/ρ1 {k1['ρC−1/ρ1 centred']:.2f}, centred tail "
            f"{k1['centred tail share']:.3f}")
    v, why = by_parts({"fall from start to end": falls,
                       f"fall together (rank corr. ≥ {V.CO_MOVE:g})": together,
                     "terminal kernel picture": terminal})
    return claim_row("C8", name, meas, v,
                     why + "; thresholds [ours]: Π*(C) ≥ 0.9, ρC−1/ρ1 ≥ 0.8 (spread ≤ 20%), tail ≤ "
                           "0.1")


def regression_claim(full: Run, head: Run | None) -> dict:
    """C9 by parts [thresholds ours]: Π(2) ≥ V.SPAN_2, the top centred eigenfunction ∝ f̂ − mean
    (|corr| ≥ V.ALIGNED), D_LR below the head-only control's, and the control broad (Π(2) <
    V.SPAN_2)."""
    a, b = A.regression_statement(full), A.regression_statement(head)
    meas = (f"full: Π(2) {a['Π(2)']:.3f}, |corr(e1, f̂)| {a['|corr(e1, f̂)|']:.3f}, D_LR "
            f"{a['D_LR']:.3f}; head-only: Π(2) {b['Π(2)']:.3f}, D_LR {b['D_LR']:.3f}")
    v, why = by_parts({f"Π(2) ≥ {V.SPAN_2:g}": a["Π(2)"] >= V.SPAN_2,
                     f"e1 ∝ f̂ (|corr| ≥ {V.ALIGNED:g})": a["|corr(e1, f̂)|"] >= V.ALIGNED,
                     "D_LR below head-only": a["D_LR"] < b["D_LR"],
                     f"head-only broad (Π(2) < {V.SPAN_2:g})": b["Π(2)"] < V.SPAN_2})
    return claim_row("C9",
                     f"{full.cfg.dataset} {full.cfg.model}, digit value by MSE, C = 2 (the modes "
                f"1, f̂), {full.cfg.epochs} ep", meas, v, why + " [thresholds ours]")
