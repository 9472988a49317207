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
# # 05 · Neural collapse as a kernel picture, and its extension to regression
#
# **Neural collapse** (Papyan, Han & Donoho 2020): late in training, features of each class collapse
# to their class mean (NC1), the centred class means form a simplex equiangular tight frame (NC2),
# the head aligns with them (NC3) and the net classifies like nearest-class-mean (NC4).
# Definitions as in `shared/spec/measures.md`.
#
# **The kernel picture** (the paper's claim; the precise statement is ours): NC1 + NC2 ⇔ the operator
# T of Φ equals the *minimal projection* T_MP = a₁⟨1,·⟩1 + a₂P_Ĥ ⇔ the top-C eigenfunctions span the
# class indicators (Π*(C) = 1), the C−1 centred eigenvalues are equal, and ρ_k = 0 beyond. D_LR =
# 1 − CKA(T, T_MP) measures the distance to that state without labels (0 = collapsed).
#
# The picture **needs no classes**: for a scalar regression target the collapsed state is rank 2
# (the constant and f̂), so Π(2) ≈ 1, the top centred eigenfunction is ∝ f̂ − mean f̂, and D_LR ≈ 0;
# head-only training keeps a broad spectrum. We test that with a regression task: predict the digit
# value (standardised) with the squared loss.

# %% tags=["parameters"]
profile = "quick"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from nfl_utils import analysis, plots, profiles
from nfl_utils.spectrum import diagonalize
from nfl_utils.train import train

plots.setup()
pairs = profiles.pairs(profile)
full = {n: train(c, progress=False) for n, c in pairs.items()}
head = {n: train(profiles.head_only(c), progress=False) for n, c in pairs.items()}
reg = {n: train(c, progress=False) for n, c in profiles.regression(profile).items()}
C = next(iter(full.values())).config["num_classes"]

# %% [markdown]
# ## NC1–NC4 and D_LR over training, on one set of axes
# Top row full training, bottom row the head-only control (Φ frozen: NC1, NC2 and D_LR cannot move;
# NC3 and NC4 can, since they involve the head).

# %%
nc = [("nc1", "NC1"), ("nc2_equinorm", "NC2 equinorm"), ("nc2_equiangular", "NC2 equiangular"),
      ("nc3", "NC3"), ("nc4", "NC4"), ("train_dlr", "D_LR")]
fig, axes = plt.subplots(2, len(pairs), figsize=(6.5 * len(pairs), 7.5), squeeze=False, sharey=True)
cols = plots.colors(len(nc))
for j, name in enumerate(pairs):
    for i, (group, label) in enumerate(((full, "full"), (head, "head-only"))):
        ax, m = axes[i, j], group[name].metrics
        for col, (key, lab) in zip(cols, nc):
            ax.plot(m["epoch"], m[key].clip(lower=1e-6), "o-", ms=2.5, color=col, label=lab)
        ax.set(yscale="log", xlabel="epoch", ylabel="value (log)", title=f"{name}, {label}")
axes[0, 0].legend(fontsize="x-small", ncol=2)
fig.suptitle(f"Neural-collapse metrics and D_LR over training ({profile} profile)")
fig.tight_layout()
nums = {f"{n}, final {lab}": float(full[n].metrics[key].iloc[-1]) for n in pairs for key, lab in nc}
plots.save(fig, "05_collapse_nc_dlr", "NC1, NC2 (equinorm, equiangular), NC3, NC4 and D_LR against epoch (log scale) "
           "on the training measurement set: full training (top) and head-only control (bottom).", nums, profile)
plt.show()

# %% [markdown]
# ## The kernel statement, checked numerically
# At exact collapse every column below reads: Π*(C) = 1, Π*(C−1) centred = 1, ρ_{C−1}/ρ_1 = 1,
# both tail shares 0, NC1 = NC2 = D_LR = 0.

# %%
rows = []
for name in pairs:
    for label, run, ck in ((f"{name}, init", full[name], 0), (f"{name}, full, final", full[name], -1),
                           (f"{name}, head-only, final", head[name], -1)):
        rows.append({"run": label, **analysis.kernel_statement(run, C, ck)})
ks = pd.DataFrame(rows).set_index("run")
fig, axes = plt.subplots(1, len(pairs), figsize=(6.5 * len(pairs), 3.8), squeeze=False)
for ax, name in zip(axes[0], pairs):
    styles = {"init": dict(color="0.2", lw=4, alpha=0.35), "full, final": dict(marker="o", ms=3),
              "head-only, final": dict(marker="s", ms=3, ls="--")}
    for col, (label, run, ck) in zip(plots.colors(3), (("init", full[name], 0), ("full, final", full[name], -1),
                                                       ("head-only, final", head[name], -1))):
        ev = run.arrays["train_c_eigenvalues"][ck]
        ev = ev[np.isfinite(ev)][: 3 * C]
        ax.semilogy(np.arange(1, len(ev) + 1), ev / ev[0], **{"color": col, **styles[label]}, label=label)
    ax.axvline(C - 1, color="0.3", ls="--", lw=1)
    ax.set(xlabel="k", ylabel=r"centred $\rho_k/\rho_1$", title=name)
    ax.legend(fontsize="small")
fig.suptitle("Centred spectrum: C−1 equal eigenvalues, then nothing, at exact collapse (dashed: k = C−1)")
fig.tight_layout()
plots.save(fig, "05_collapse_kernel", "Top centred eigenvalues ρ_k/ρ_1 at initialisation, after full training and "
           "after head-only training (which keeps the initial spectrum exactly, so its curve lies on the thick grey "
           "init curve); at exact collapse the first C−1 are equal and the rest vanish.",
           {f"{r}: {k}": v for r, row in ks.iterrows() for k, v in row.items() if k in
            ("Π*(C−1) centred", "ρ_C−1/ρ_1 centred (1 = equal)", "tail share ρ_k>C−1 centred (0 = collapse)")}, profile)
plt.show()
ks.style.format(precision=3)

# %%
verdicts = []
for name in pairs:
    a, b = ks.loc[f"{name}, full, final"], ks.loc[f"{name}, head-only, final"]
    tail_a, tail_b = a["tail share ρ_k>C−1 centred (0 = collapse)"], b["tail share ρ_k>C−1 centred (0 = collapse)"]
    verdicts.append(
        f"* **{name}**: full training leaves {tail_a:.1%} of the centred trace outside the top C−1 modes "
        f"(head-only: {tail_b:.1%}), ρ_(C−1)/ρ_1 = {a['ρ_C−1/ρ_1 centred (1 = equal)']:.2f}, NC1 = {a['NC1']:.2f}. "
        f"By the tail share it is {'closer to' if tail_a < tail_b else 'no closer to'} the collapsed kernel than the "
        f"head-only control; by D_LR it is {'closer' if a['D_LR'] < b['D_LR'] else '**not** closer'} "
        f"({a['D_LR']:.3f} vs {b['D_LR']:.3f}). "
        + ("It is close to exact collapse." if tail_a < 0.1 and a["NC1"] < 0.1
           else f"After {full[name].config['epochs']} epochs it is far from exact collapse (the paper's statement is "
                "about the terminal phase of training; these runs stop earlier and use no weight decay)."))
display(Markdown("\n".join(verdicts)))

# %% [markdown]
# ## Regression: does Φ collapse onto {1, f̂}?
# Each architecture, at its classification learning rate, trained on the scalar target (top row of
# each pair: full training; the head-only control alongside).

# %%
fig, axes = plt.subplots(len(pairs), 4, figsize=(17, 3.9 * len(pairs)), squeeze=False)
cols = plots.colors(2)
statements = {}
for i, name in enumerate(pairs):
    fr, hr = reg[f"{name} regression, full"], reg[f"{name} regression, head-only"]
    model_f, data = analysis.load_model(fr)
    model_h, _ = analysis.load_model(hr, data=data)
    x = data.x_train[data.measure_idx]
    for col, (label, run, model) in zip(cols, (("full", fr, model_f), ("head-only", hr, model_h))):
        statements[f"{name}, {label}"] = analysis.regression_statement(run)
        with torch.no_grad():
            phi, out = analysis.features_of(model, x), model(x).double()
        e1 = diagonalize(phi, outputs=out, centre=True).eigenfunctions(phi)[:, 0]
        cu = run.arrays["train_u_cum_utility"][-1]
        cu = cu[np.isfinite(cu)]
        axes[i, 0].semilogx(np.arange(1, len(cu) + 1), cu, color=col, label=label)
        ev = run.arrays["train_c_eigenvalues"][-1]
        ev = ev[np.isfinite(ev)]
        axes[i, 1].loglog(np.arange(1, len(ev) + 1), ev / ev[0], color=col, label=label)
        axes[i, 2].plot(run.metrics["epoch"], run.metrics["train_dlr"], "o-", ms=3, color=col, label=label)
        axes[i, 3].scatter(out[:, 0].numpy(), e1.numpy(), s=4, alpha=0.4, color=col, label=label)
    axes[i, 0].axvline(2, color="0.3", ls="--", lw=1)
    axes[i, 0].set(xlabel="k", ylabel="Π(k), final", ylim=(0, 1.02), title=name)
    axes[i, 1].set(xlabel="k", ylabel=r"centred $\rho_k/\rho_1$, final", title=name)
    axes[i, 2].set(xlabel="epoch", ylabel="D_LR", title=name)
    axes[i, 3].set(xlabel="network output f̂", ylabel="top centred eigenfunction $e_1$", title=name)
    for ax in axes[i]:
        ax.legend(fontsize="small")
fig.suptitle(f"Regression (digit value, MSE): does Φ collapse onto {{1, f̂}}? ({profile} profile)")
fig.tight_layout()
rs = pd.DataFrame(statements).T
plots.save(fig, "05_collapse_regression",
           "Scalar regression for each architecture: Π(k) after training (dashed: k = 2), the centred spectrum, D_LR over "
           "training, and the top centred eigenfunction against the output on the measurement set; full training "
           "and the head-only control.", {f"{r}: {k}": v for r, row in rs.iterrows() for k, v in row.items()}, profile)
plt.show()
rs.style.format(precision=3)

# %%
lines = []
for name in pairs:
    a, b = rs.loc[f"{name}, full"], rs.loc[f"{name}, head-only"]
    collapsed = a["D_LR"] < b["D_LR"] and a["top-1 share of centred trace"] > b["top-1 share of centred trace"]
    lines.append(
        f"* **{name}**: full training gives Π(2) = {a['Π(2) uncentred']:.3f}, |corr(e_1, f̂)| = "
        f"{a['|corr(e_1 centred, f̂)|']:.3f}, top-1 share of the centred trace {a['top-1 share of centred trace']:.1%}, "
        f"D_LR = {a['D_LR']:.3f} (test accuracy of the rounded digit {a['test acc (rounded digit)']:.3f}); head-only: "
        f"Π(2) = {b['Π(2) uncentred']:.3f}, top-1 share {b['top-1 share of centred trace']:.1%}, D_LR = {b['D_LR']:.3f}. "
        + ("Full training concentrates Φ on {1, f̂} far more than the head-only control, as the kernel picture predicts."
           if collapsed else "This does **not** show the predicted concentration of Φ on {1, f̂}."))
display(Markdown("\n".join(lines)))
