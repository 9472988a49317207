# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python (nfl companion)
#     language: python
#     name: nfl-companion
# ---

# %% [markdown]
# # 04 · Minimal-feature (MF) vs extended-feature (EF) regimes
#
# **The paper's claim** (arXiv 2410.04264, v1): most trained networks end up *dominated by a number
# of eigenfunctions equal to the number of classes* C (the **MF** regime, reached after a few epochs
# and akin to neural collapse), while some, e.g. a fully connected net on CIFAR-10, use significantly
# more (**EF**). Head-only training (*coefficient learning*) cannot change the features at all.
#
# **Our criterion** (docs/measures.md, fixed before the runs; the paper's numeric criteria are not
# known to us), on the training measurement set, with Π̃*(C) = Π*(C)/Π*(p), the share of what Φ
# can express at all that its top C features express:
#
# | verdict | spectral gap ρ_C/ρ_{C+1} | Π̃*(C) |
# | --- | --- | --- |
# | MF | ≥ 10 | ≥ 0.9 |
# | EF | < 2 | < 0.9 |
# | between | otherwise | |
#
# Every verdict is printed beside its controls: the same net at initialisation and its head-only
# twin. (The utility Π(C) is not part of the criterion: a random head already reads mostly the top
# modes, so Π(C) is high for frozen random features too.)

# %% tags=["parameters"]
profile = "quick"

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from nfl_utils import analysis, claims, plots, profiles

plots.setup()
main = profiles.load(profile, "main")
full = {n: r for n, r in main.items() if not r.cfg.head_only}
controls = {n: main[n + ", head-only"] for n in full}
C = next(iter(main.values())).num_classes

# %% [markdown]
# ## The verdicts, beside their controls

# %%
table = analysis.regime_table(full, controls)
table

# %% [markdown]
# ## The criterion's two numbers over training
# Full training solid, head-only dashed. Dotted lines are the thresholds.

# %%
panels = [("train_u_gap", r"gap $\rho_C/\rho_{C+1}$", True), ("train_u_pistar_C", "Π*(C), quality", False),
          ("train_c_d_eff", "d_eff (centred)", True), ("train_dlr", "D_LR", False)]
fig, axes = plt.subplots(1, 4, figsize=(18, 4))
share = {n: r.metrics["train_u_pistar_C"] / r.metrics["train_u_pistar_all"] for n, r in main.items()}
for ax, (metric, label, logy) in zip(axes, panels):
    plots.metric_panel(ax, main, metric, label, logy=logy)
axes[1].cla()
for col, (n, r) in zip(plots.colors(len(main)), main.items()):
    axes[1].plot(r.epochs, share[n], "--" if r.cfg.head_only else "-", color=col, marker="o", ms=2.5, label=n)
axes[1].set(xlabel="epoch", ylabel="Π̃*(C) = Π*(C)/Π*(p)", ylim=(0, 1.02))
for y in (analysis.MF_GAP, analysis.EF_GAP):
    axes[0].axhline(y, color="0.3", ls=":", lw=1)
axes[1].axhline(analysis.SHARE, color="0.3", ls=":", lw=1)
axes[0].legend(fontsize="x-small")
fig.suptitle(f"MF vs EF: the criterion's numbers over training, full and head-only ({profile} profile)")
fig.tight_layout()
nums = {f"{n}: verdict (gap, Π̃*(C)); init; head-only": f"{r['verdict']} ({r['gap ρC/ρC+1']:.1f}, {r['Π̃*(C)']:.3f}); "
        f"{r['init: verdict']}; {r['head-only: verdict']}" for n, r in table.iterrows()}
plots.save(fig, "04_mf_vs_ef_measures",
           "The spectral gap ρ_C/ρ_{C+1} (dotted: 2 and 10), Π̃*(C) (dotted: 0.9), the centred effective dimension and D_LR "
           "against epoch on the training measurement set, full training (solid) and head-only control (dashed).", nums, profile)
plt.show()

# %% [markdown]
# ## Coefficient learning: is mode k fitted at a rate ∝ ρ_k?
# With Φ frozen (the head-only controls) and an MSE loss, gradient descent on the head shrinks the
# residual's component along e_k by (1 − ηρ_k) a step, so the top modes are fitted first. Each
# point is a mode, timed when its squared residual first halves (rule in docs/measures.md); the
# grey line has slope 1 (a rate ∝ ρ_k), drawn through the points' geometric mean.

# %%
heads = {n: r for n, r in main.items() if r.cfg.head_only and r.cfg.loss == "mse"}
fig, axes = plt.subplots(1, len(heads), figsize=(5 * len(heads), 3.9), squeeze=False)
rates = {n: analysis.coefficient_rates(r) for n, r in heads.items()}
for ax, (n, x), col in zip(axes[0], rates.items(), plots.colors(len(heads))):
    ax.loglog(x["rho"], x["rate"], "o", ms=3, color=col)
    if x["n"]:
        g = np.exp(np.mean(np.log(x["rate"]) - np.log(x["rho"])))          # slope-1 line through them
        xs = np.array([x["rho"].min(), x["rho"].max()])
        ax.loglog(xs, g * xs, color="0.5", lw=1)
    ax.set(xlabel=r"eigenvalue $\rho_k$ of Φ (frozen)", ylabel="fitting rate of mode k (per epoch)",
           title=f"{n}: {x['n']} timed modes, {x['verdict']}")
fig.suptitle(f"Head-only MSE runs: the rate at which each mode is fitted against ρ_k ({profile} profile)")
fig.tight_layout()
c4 = claims.rate_claim(heads)
plots.save(fig, "04_mf_vs_ef_rates", "Per mode of the frozen Φ, the rate at which the head fits it (timed when the "
           "squared residual first halves) against ρ_k, for each head-only MSE run; grey: slope 1.",
           {"C4": c4["measured"], "C4 verdict": c4["verdict"]}, profile)
plt.show()
display(Markdown(claims.say(c4)))

# %% [markdown]
# ## A learning-rate sweep (small MLP, three seeds)
# Final test accuracy and D_LR per learning rate; each point a seed, the line their mean.

# %%
lr = profiles.by_setting(profiles.load(profile, "lr"))
fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
lrs = [runs[0].cfg.lr for runs in lr.values()]
for ax, (col, label) in zip(axes, (("test_acc", "final test accuracy"), ("train_dlr", "final D_LR"), ("train_u_gap", "final gap ρC/ρC+1"))):
    vals = [[r.final(col) for r in runs] for runs in lr.values()]
    for x, v in zip(lrs, vals):
        ax.semilogx([x] * len(v), v, "o", color=plots.colors(1)[0], alpha=0.6)
    ax.semilogx(lrs, [np.mean(v) for v in vals], "-", color=plots.colors(1)[0])
    ax.set(xlabel="learning rate", ylabel=label)
axes[2].set_yscale("log")
fig.suptitle(f"Learning-rate sweep, {next(iter(lr.values()))[0].cfg.dataset} MLP 256×2, 3 seeds ({profile} profile)")
fig.tight_layout()
row = claims.lr_claim(lr, claims.small_setting(lr))
plots.save(fig, "04_mf_vs_ef_lr_sweep", "Final test accuracy, D_LR and spectral gap against the learning rate; each point "
           "a seed, the line the mean over seeds.", {"C6": row["measured"], "C6 verdict": row["verdict"]}, profile)
plt.show()

# %% [markdown]
# ## Agreement with the paper, stated plainly
# Generated from the claims rules (`nfl_utils/claims.py`); the whole table is `figures/<profile>/claims.md`.

# %%
display(Markdown("\n".join(claims.say(r) for r in claims.main_claims(main, C) + [row])))
