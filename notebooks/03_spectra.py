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
# # 03 · Spectra, quality and utility over training
#
# For every checkpoint of every architecture we plot, on the training measurement set:
#
# * the normalised spectrum ρ_k/ρ_1 against k (log-log), with a dashed line at k = C;
# * the cumulative **quality** Π*(k) = Σ_{j≤k} Σ_c⟨e_j, f*_c⟩² / Σ_c‖f*_c‖²: how much of the *target*
#   the top k features express;
# * the cumulative **utility** Π(k), the same for the network's *output* f̂.
#
# Definitions: `docs/measures.md` (names from the paper's summaries; the normalisation is
# ours). Both views are shown: **uncentred** (the kernel Φ·Φ', whose top mode is near-constant for
# ReLU features) and **centred** (the covariance of Φ, against centred targets and outputs).
# Darker lines are later checkpoints.

# %% tags=["parameters"]
profile = "quick"

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from nfl_utils import plots, profiles
from nfl_utils.analysis import fmt_k

plots.setup()
main = profiles.load(profile, "main")
runs = {n: r for n, r in main.items() if not r.cfg.head_only}


# %%
for name, run in runs.items():
    C = run.num_classes
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    for i, (c, label) in enumerate(((False, "uncentred"), (True, "centred"))):
        plots.spectrum_panel(axes[i, 0], run, "train", c, C)
        plots.cumulative_panel(axes[i, 1], run, "quality", "train", c, C)
        plots.cumulative_panel(axes[i, 2], run, "utility", "train", c, C)
        for ax in axes[i]:
            ax.set_title(label, fontsize="small")
    fig.suptitle(f"{name}: spectrum, quality Π*(k) and utility Π(k) per checkpoint ({profile} profile)")
    fig.tight_layout()
    m0, m1 = run.metrics.iloc[0], run.metrics.iloc[-1]
    nums = {"Π*(C) uncentred, init": m0["train_u_pistar_C"], "Π*(C) uncentred, final": m1["train_u_pistar_C"],
            "Π(C) uncentred, init": m0["train_u_pi_C"], "Π(C) uncentred, final": m1["train_u_pi_C"],
            "Π*(C) centred, final": m1["train_c_pistar_C"], "k*90 uncentred, final": fmt_k(m1["train_u_kstar90"], "Π*"),
            "k90 uncentred, final": fmt_k(m1["train_u_k90"], "Π")}
    plots.save(fig, f"03_spectra_{plots.slug(name)}",
               f"{name}: ρ_k/ρ_1 (left), Π*(k) (middle) and Π(k) (right) for every checkpoint, uncentred (top) and "
               "centred (bottom), on the training measurement set; dashed line at k = C.", nums, profile)
    plt.show()
    display(Markdown(
        f"**{name}.** The top C = {C} features express {m0['train_u_pistar_C']:.1%} of the target at initialisation "
        f"and {m1['train_u_pistar_C']:.1%} after training (centred: {m1['train_c_pistar_C']:.1%}); "
        f"the output draws {m0['train_u_pi_C']:.1%} → {m1['train_u_pi_C']:.1%} of its norm from them. "
        f"Features needed for 90% of the target after training: k*90 = {fmt_k(m1['train_u_kstar90'], 'Π*')}; "
        f"for 90% of the output: k90 = {fmt_k(m1['train_u_k90'], 'Π')}."))

# %% [markdown]
# ## Effective dimension over training
# d_eff = exp(−Σ p_k ln p_k) with p_k = ρ_k/Σρ: the number of equally strong modes with the same
# entropy. Full training solid, head-only dashed (its Φ never changes, so its d_eff is flat).

# %%
both = main
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
plots.metric_panel(axes[0], both, "train_u_d_eff", "d_eff (uncentred)")
plots.metric_panel(axes[1], both, "train_c_d_eff", "d_eff (centred)")
axes[1].legend(fontsize="x-small")
fig.suptitle(f"Effective dimension of Φ over training ({profile} profile)")
fig.tight_layout()
nums = {f"d_eff centred, {n}, init → final": f"{r.metrics['train_c_d_eff'].iloc[0]:.2f} → {r.metrics['train_c_d_eff'].iloc[-1]:.2f}"
        for n, r in both.items()}
plots.save(fig, "03_spectra_deff", "Effective dimension of the uncentred (left) and centred (right) spectrum "
           "against epoch; head-only controls dashed.", nums, profile)
plt.show()
display(Markdown("; ".join(f"{n}: centred d_eff {v}" for n, v in nums.items()) + "."))
