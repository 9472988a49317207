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
# Definitions: `docs/measures.md`.
#
# **The kernel picture** (the paper's claim; the precise statement is ours): exact NC1 + NC2 ⇒ the
# operator T of Φ equals the *minimal projection* T_MP = a₁⟨1,·⟩1 + a₂P_Ĥ when f̂ lies in the span
# of the class indicators (NC3 gives that) and the classes are balanced; then the top-C
# eigenfunctions span the class indicators (Π*(C) = 1), the C−1 centred eigenvalues are equal, and
# ρ_k = 0 beyond. The source states one direction; the converse needs those two conditions too.
# D_LR = 1 − CKA(T, T_MP) measures the distance to that state without labels (0 = collapsed).
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
from IPython.display import Markdown, display

from nfl_utils import analysis, claims, plots, profiles
from nfl_utils.measure import forward_all
from nfl_utils.spectrum import diagonalize

plots.setup()
main = profiles.load(profile, "main")
names = [n for n, r in main.items() if not r.cfg.head_only]
reg = profiles.load(profile, "regression")
C = main[names[0]].num_classes

# %% [markdown]
# ## NC1–NC4 and D_LR over training
# Top row full training, bottom row the head-only control (Φ frozen: NC1 and NC2 cannot move; D_LR
# can, since it compares Φ with the span of the *outputs*, which the head changes; NC3 and NC4
# involve the head too). D_LR, which lies in [0, 1], is on its own linear axis (right).

# %%
nc = [("nc1", "NC1"), ("nc2_equinorm", "NC2 equinorm"), ("nc2_equiangular", "NC2 equiangular"), ("nc3", "NC3")]
fig, axes = plt.subplots(2, len(names), figsize=(6.5 * len(names), 7.5), squeeze=False)
cols = plots.colors(len(nc) + 2)
for j, name in enumerate(names):
    for i, run in enumerate((main[name], main[name + ", head-only"])):
        ax, m = axes[i, j], run.metrics
        for col, (key, lab) in zip(cols, nc):
            ax.plot(m["epoch"], m[key], "o-", ms=2.5, color=col, label=lab)
        ax.set(yscale="log", xlabel="epoch", ylabel="NC1–NC3 (log)", title=f"{name}{', head-only' if i else ''}")
        ax2 = ax.twinx()                      # the two shares in [0, 1] (NC4 can be exactly 0): linear
        ax2.plot(m["epoch"], m["train_dlr"], "s--", ms=3, color=cols[-2], label="D_LR (right axis)")
        ax2.plot(m["epoch"], m["nc4"], "^:", ms=3, color=cols[-1], label="NC4 (right axis)")
        ax2.set(ylabel="D_LR, NC4", ylim=(0, 1))
        ax2.grid(False)
axes[0, 0].legend(fontsize="x-small", ncol=2, loc="lower left")
ax2.legend(fontsize="x-small", loc="upper right")
fig.suptitle(f"NC1–NC3 (log, left), D_LR and NC4 (linear, right) over training ({profile} profile)")
fig.tight_layout()
nums = {f"{n}, final {lab}": main[n].final(key) for n in names
        for key, lab in nc + [("nc4", "NC4"), ("train_dlr", "D_LR")]}
plots.save(fig, "05_collapse_nc_dlr", "NC1, NC2 (equinorm, equiangular) and NC3 (log axis), D_LR and NC4 (linear right axis) "
           "against epoch on the training measurement set: full training (top) and head-only control (bottom).", nums, profile)
plt.show()

# %% [markdown]
# ## The kernel statement, checked numerically
# At exact collapse: Π*(C) = 1, Π*(C−1) centred = 1, ρ_{C−1}/ρ_1 = 1, both tail shares 0, NC1 =
# NC2 = D_LR = 0.

# %%
cases = {f"{n}, {lab}": (run, ck) for n in names for lab, run, ck in
         (("init", main[n], 0), ("full, final", main[n], -1), ("head-only, final", main[n + ", head-only"], -1))}
ks = pd.DataFrame({k: analysis.kernel_statement(run, ck) for k, (run, ck) in cases.items()}).T
fig, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 3.8), squeeze=False)
styles = {"init": dict(color="0.2", lw=4, alpha=0.35), "full, final": dict(marker="o", ms=3),
          "head-only, final": dict(marker="s", ms=3, ls="--")}
for ax, name in zip(axes[0], names):
    for col, lab in zip(plots.colors(3), styles):
        run, ck = cases[f"{name}, {lab}"]
        ev = run.eigenvalues(ck, centred=True)[: 3 * C]
        ax.semilogy(np.arange(1, len(ev) + 1), ev / ev[0], **{"color": col, **styles[lab]}, label=lab)
    ax.axvline(C - 1, color="0.3", ls="--", lw=1)
    ax.set(xlabel="k", ylabel=r"centred $\rho_k/\rho_1$", title=name)
    ax.legend(fontsize="small")
fig.suptitle(f"Centred spectrum of the data: exact collapse would give C−1 equal eigenvalues, then nothing "
             f"(dashed: k = C−1; {profile} profile)")
fig.tight_layout()
plots.save(fig, "05_collapse_kernel", "Top centred eigenvalues ρ_k/ρ_1 at initialisation, after full training and after "
           "head-only training (which keeps the initial spectrum exactly, so its curve lies on the thick grey init curve); "
           "at exact collapse the first C−1 are equal and the rest vanish.",
           {f"{r}: {k}": v for r, row in ks.iterrows() for k, v in row.items()
            if k in ("Π*(C−1) centred", "ρC−1/ρ1 centred", "centred tail share")}, profile)
plt.show()
display(ks.style.format(precision=3))
display(Markdown(claims.say(claims.collapse_claim(main["MLP, MSE"], "main: MLP, MSE"))
                 + "\n\nThe same rule applied to every main run: "
                 + "; ".join(f"{n}: **{claims.collapse_claim(main[n], n)['verdict']}**" for n in names) + "."))

# %% [markdown]
# ## Regression: does Φ collapse onto {1, f̂}?
# The MLP trained on the scalar target (the digit value, standardised, MSE), beside its head-only
# control.

# %%
fig, axes = plt.subplots(1, 4, figsize=(17, 3.9))
cols = plots.colors(2)
for col, (label, run) in zip(cols, reg.items()):
    data = run.data()
    phi, out = forward_all(run.model(), data.x_train[data.measure_idx])
    phi, out = phi.double(), out.double()
    e1 = diagonalize(phi, outputs=out, centre=True).eigenfunctions(phi)[:, 0]
    cu = run.cum_utility()
    axes[0].semilogx(np.arange(1, len(cu) + 1), cu, color=col, label=label)
    ev = run.eigenvalues(centred=True)
    axes[1].loglog(np.arange(1, len(ev) + 1), ev / ev[0], color=col, label=label)
    axes[2].plot(run.epochs, run.metrics["train_dlr"], "o-", ms=3, color=col, label=label)
    axes[3].scatter(out[:, 0].numpy(), e1.numpy(), s=4, alpha=0.4, color=col, label=label)
axes[0].axvline(2, color="0.3", ls="--", lw=1)
axes[0].set(xlabel="k", ylabel="Π(k), final", ylim=(0, 1.02))
axes[1].set(xlabel="k", ylabel=r"centred $\rho_k/\rho_1$, final")
axes[2].set(xlabel="epoch", ylabel="D_LR", ylim=(0, 1))
axes[3].set(xlabel="network output f̂", ylabel="top centred eigenfunction $e_1$")
for ax in axes:
    ax.legend(fontsize="small")
fig.suptitle(f"Regression (digit value, MSE): does Φ collapse onto {{1, f̂}}? ({profile} profile)")
fig.tight_layout()
rs = pd.DataFrame({n: analysis.regression_statement(r) for n, r in reg.items()}).T
plots.save(fig, "05_collapse_regression", "Scalar regression: Π(k) after training (dashed: k = 2), the centred spectrum, "
           "D_LR over training, and the top centred eigenfunction against the output on the measurement set; full training "
           "and the head-only control.", {f"{r}: {k}": v for r, row in rs.iterrows() for k, v in row.items()}, profile)
plt.show()
display(rs.style.format(precision=3))
display(Markdown("D_LR over training (from the stored checkpoints): " + "; ".join(
    f"{n} {analysis.path_words(r.epochs, r.metrics['train_dlr'])}" for n, r in reg.items()) + "."))
display(Markdown(claims.say(claims.regression_claim(reg["MLP"], reg["MLP, head-only"]))))
