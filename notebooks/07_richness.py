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
# # 07 · Richness and performance
#
# The later versions of the paper (v2/v3) separate **dynamical richness** (how far training moves
# the feature kernel towards the minimal projection T_MP onto the outputs) from **generalisation**.
# Their measure, **D_LR = 1 − CKA(T, T_MP)** ∈ [0, 1], uses no labels, no initial kernel and no
# accuracy: 0 is maximally rich, 1 lazy. We rerun their contrasts on a small MNIST MLP (and a small
# CNN for batch norm; in the `full` profile VGG16 at an eighth of its channels), **three seeds
# each**, compare D_LR with older measures (S_init = CKA(K_t, K_0), ‖θ‖², ‖θ − θ₀‖, NC1), and put our numbers next to the values v3 reports (from secondary
# summaries, unverified; docs/measures.md). A direction is claimed only when the difference of the
# seed means exceeds the seed spread; the settings differ from the paper's, so agreement is about
# *directions*, not values.

# %% tags=["parameters"]
profile = "quick"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from nfl_utils import claims, conventions, plots, profiles, verdicts

plots.setup()
G = {g: profiles.by_setting(profiles.load(profile, g)) for g in
     ("weight decay", "target scale", "rich vs lazy", "shuffled labels", "batch norm", "train size", "lr")}
C = next(iter(G["lr"].values()))[0].num_classes
measures = [("train_dlr", "D_LR"), ("s_init", "S_init = CKA(K_t, K_0)"), ("theta_norm2", "‖θ‖²"),
            ("theta_dist", "‖θ − θ₀‖"), ("nc1", "NC1")]



def sweep_figure(name, stem):
    fig, axes = plt.subplots(1, len(measures), figsize=(19, 3.6))
    for ax, (col, label) in zip(axes, measures):
        for col_, (k, runs) in zip(plots.colors(len(G[name])), G[name].items()):
            for i, r in enumerate(runs):
                ax.plot(r.epochs, r.metrics[col], "o-", ms=2.5, lw=1, alpha=0.8, color=col_, label=k if i == 0 else None)
        ax.set(xlabel="epoch", ylabel=label, yscale="log" if col in ("nc1", "theta_norm2") else "linear")
    axes[0].legend(fontsize="x-small")
    fig.suptitle(f"D_LR and older measures against epoch, {name} varied (3 seeds each, {profile} profile)")
    fig.tight_layout()
    tab = claims.seed_table(G[name], measures + [("test_acc", "test acc")])
    plots.save(fig, stem, f"D_LR, S_init, ‖θ‖², ‖θ−θ₀‖ and NC1 against epoch, {name} varied; one line per seed.",
               {f"{k}: D_LR / S_init / test acc": f"{r['D_LR']} / {r['S_init = CKA(K_t, K_0)']} / {r['test acc']}"
                for k, r in tab.iterrows()}, profile)
    plt.show()
    display(tab)


# %% [markdown]
# ## Which measures move which way: weight decay, then target down-scaling
# Target scaling trains MSE on α·one-hot targets with the learning rate scaled by 1/α (plain SGD),
# so that the function moves at the same speed. In `quick` these runs keep the weight decay of the
# others (5e-4), so the decay per step changes with the learning rate and the scale of the target
# is not all that changes; `full` trains them without weight decay (the claims row says which).

# %%
sweep_figure("weight decay", "07_richness_wd")

# %%
sweep_figure("target scale", "07_richness_target")
display(Markdown(claims.say(claims.robustness_claim(G["weight decay"], G["target scale"]))))

# %% [markdown]
# ## Rich vs lazy (full vs head-only), and shuffled labels on a net that memorises

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4))
for col, (k, runs) in zip(plots.colors(2), G["rich vs lazy"].items()):
    axes[0].scatter([r.final("train_dlr") for r in runs], [r.final("test_acc") for r in runs], s=50, color=col, label=k)
axes[0].set(xlabel="D_LR (final)", ylabel="test accuracy (final)", title="rich vs lazy (3 seeds)")
axes[0].legend(fontsize="small")
for col, (k, runs) in zip(plots.colors(2), G["shuffled labels"].items()):
    for i, r in enumerate(runs):
        axes[1].semilogx(r.steps[1:], r.metrics["train_acc"].iloc[1:], "-", color=col, label=f"{k}: train" if i == 0 else None)
        axes[1].semilogx(r.steps[1:], r.metrics["test_acc"].iloc[1:], "--", color=col, label=f"{k}: test" if i == 0 else None)
        axes[2].semilogx(r.steps[1:], r.metrics["train_dlr"].iloc[1:], "o-", ms=3, color=col, label=k if i == 0 else None)
axes[1].set(xlabel="step (log; step 0 left out)", ylabel="accuracy", title="label shuffling")
axes[2].set(xlabel="step (log; step 0 left out)", ylabel="D_LR", title="label shuffling")
axes[1].legend(fontsize="x-small")
axes[2].legend(fontsize="small")
fig.suptitle(f"Richness vs performance: head-only control and shuffled labels ({profile} profile)")
fig.tight_layout()
rows = {"C10": claims.seeded_contrast("C10", G["rich vs lazy"], "full", "full, head-only", "lower",
                                      claims.small_setting(G["rich vs lazy"])),
        "C7": claims.shuffle_claim(G["shuffled labels"], C, claims.memo_setting(G["shuffled labels"]))}
plots.save(fig, "07_richness_lazy_shuffle", "Left: final D_LR against test accuracy, full and head-only training, one point per "
           "seed. Middle/right: train and test accuracy and D_LR against step for clean and fully shuffled labels.",
           {k: f"{r['verdict']}: {r['measured']}" for k, r in rows.items()}, profile)
plt.show()
display(Markdown("\n".join(claims.say(r) for r in rows.values())))

# %% [markdown]
# ## Batch norm, and training-set size

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4))
for col, (k, runs) in zip(plots.colors(2), G["batch norm"].items()):
    for i, r in enumerate(runs):
        axes[0].plot(r.epochs, r.metrics["train_dlr"], "o-", ms=3, color=col, label=k if i == 0 else None)
axes[0].set(xlabel="epoch", ylabel="D_LR", title="batch norm: " + claims.bn_setting(G["batch norm"]).split(", n=")[0])
axes[0].legend(fontsize="small")
ns = [runs[0].cfg.train_size for runs in G["train size"].values()]
for ax, col, lab in ((axes[1], "train_dlr", "D_LR (final)"), (axes[2], "test_acc", "test accuracy (final)")):
    vals = [[r.final(col) for r in runs] for runs in G["train size"].values()]
    for n, v in zip(ns, vals):
        ax.semilogx([n] * len(v), v, "o", color=plots.colors(1)[0], alpha=0.6)
    ax.semilogx(ns, [np.mean(v) for v in vals], "-", color=plots.colors(1)[0])
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.set(xlabel="training examples", ylabel=lab, title="training-set size (small MLP, 3 seeds)")
fig.suptitle(f"Batch norm and training-set size ({profile} profile)")
fig.tight_layout()
rows = {"C12": claims.seeded_contrast("C12", G["batch norm"], "BN", "no BN", "lower",
                                       claims.bn_setting(G["batch norm"])),
        "C13": claims.size_claim(G["train size"])}
plots.save(fig, "07_richness_bn_size", "Left: D_LR against epoch with and without batch norm, one line per seed. Middle/right: "
           "final D_LR and test accuracy against the training-set size; each point a seed, the line the mean.",
           {k: f"{r['verdict']}: {r['measured']}" for k, r in rows.items()}, profile)
plt.show()
display(Markdown("\n".join(claims.say(r) for r in rows.values())))

# %% [markdown]
# ## Learning rate: accuracy against D_LR

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for col, (k, runs) in zip(plots.colors(len(G["lr"])), G["lr"].items()):
    ax.scatter([r.final("train_dlr") for r in runs], [r.final("test_acc") for r in runs], s=40, color=col, label=k)
ax.set(xlabel="D_LR (final)", ylabel="test accuracy (final)", title="learning-rate sweep, one point per seed")
ax.legend(fontsize="small")
fig.tight_layout()
row = claims.lr_claim(G["lr"], claims.small_setting(G["lr"]))
plots.save(fig, "07_richness_lr", "Final test accuracy against final D_LR for each learning rate, one point per seed.",
           {"C6": f"{row['verdict']}: {row['measured']}"}, profile)
plt.show()
display(Markdown(claims.say(row)))

# %% [markdown]
# ## Grokking
# a + b mod 97, 40% of the pairs for training, cross-entropy, AdamW with weight decay 1: an MLP
# on one-hot a and b (one hidden layer of 512, full batch) and, in the `full` profile, v3's own
# setting, a 2-block transformer on the tokens `a b =` (Φ = the final-norm residual at `=`), and
# Omnigrok's MNIST setting (1,000 images, a large initialisation, MSE, small weight decay). We
# call a run *grokked* only when train accuracy reached 90% at least 10× earlier (in steps) than
# test accuracy did; the same rule for every setting. The claims rows compare D_LR at
# memorisation with D_LR at grokking and at the end, over seeds (a seed here varies the split
# too).

# %%
grok = profiles.by_setting(profiles.load(profile, "grokking"))
fig, axes = plt.subplots(len(grok), 2, figsize=(14, 3.9 * len(grok)), squeeze=False)
c3 = plots.colors(4)
for (name, runs), (ax, ax_nc) in zip(grok.items(), axes):
    ax2 = ax.twinx()
    for j, g in enumerate(runs):
        m, ls = g.metrics, ("-", "--", ":")[j % 3]
        ax.semilogx(g.steps[1:], m["train_acc"].iloc[1:], ls, color=c3[0], label=f"train acc, seed {j}")
        ax.semilogx(g.steps[1:], m["test_acc"].iloc[1:], ls, color=c3[1], label=f"test acc, seed {j}")
        ax2.semilogx(g.steps[1:], m["train_dlr"].iloc[1:], ls, marker="o", ms=3, color=c3[2],
                     label=f"D_LR, seed {j}")
        ax_nc.semilogx(g.steps[1:], m["nc1"].iloc[1:], ls, marker="o", ms=3, color=c3[3], label=f"seed {j}")
    ax.set(xlabel="step (log; step 0 left out)", ylabel="accuracy", ylim=(0, 1.02))
    ax2.set(ylabel="D_LR (0 rich, 1 lazy)", ylim=(0, 1))
    ax2.grid(False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize="x-small", loc="center left", ncol=2)
    ok = all(verdicts.grokked(g.steps, g.metrics["train_acc"], g.metrics["test_acc"])[0] for g in runs)
    ax.set_title(f"{name}: accuracy and D_LR ({'grokked' if ok else 'not grokked by our rule'})")
    ax_nc.set(xlabel="step (log)", yscale="log", title=f"{name}: NC1 on the training set")
    ax_nc.legend(fontsize="small")
fig.suptitle(f"Grokking: {', '.join(grok)} ({profile} profile)")
fig.tight_layout()
rows = claims.grokking_claims(grok)
plots.save(fig, "07_richness_grokking", "Train and test accuracy and D_LR (right axis) against step, one "
           "row per grokking setting, one line style per seed; NC1 (right panel).",
           {f"C11 ({n})": f"{r['verdict']}: {r['measured']}" for n, r in zip(grok, rows)}, profile)
plt.show()
display(Markdown("\n".join(claims.say(r) for r in rows)))

# %% [markdown]
# ## Does the grokking direction depend on how D_LR is computed?
# v3 leaves D_LR's finite-sample conventions open: which outputs span Ĥ (logits or softmax
# probabilities), whether Φ and the outputs are centred, and the numerical rank of Ĥ. On modular
# addition C = 97 is close to p = 128, and logits whose energy sits in a few Fourier directions
# still have many tiny singular values above our 1e-8 cut, so the rank convention can matter.
# From the stored checkpoint weights, D_LR at memorisation and at the end under each convention
# (`nfl_utils/conventions.py`; docs/measures.md); a direction is claimed beyond the seed spread.

# %%
kept = {n: r for n, r in grok.items() if conventions.keeps_weights(r)}
if kept:
    rows_c, fig, axes = [], *plt.subplots(1, len(kept), figsize=(6.5 * len(kept), 4), squeeze=False)
    for ax, (name, runs) in zip(axes[0], kept.items()):
        mem = [conventions.memorisation_index(r) for r in runs]      # first train ≥ 90% (else best train)
        for j, (conv, (a, b, d)) in enumerate(conventions.directions(runs, mem).items()):
            ax.plot([0, 1], [np.mean(a), np.mean(b)], "o-", color=plots.colors(len(conventions.CONVENTIONS))[j],
                    label=conv)
            rows_c.append({"setting": name, "convention": conv, "D_LR at memorisation": claims.mean_spread(a),
                           "D_LR at the end": claims.mean_spread(b), "direction": d})
        ax.set(xticks=[0, 1], xticklabels=["memorisation", "end"], ylabel="D_LR", ylim=(0, 1), title=name)
    axes[0][0].legend(fontsize="x-small")
    fig.suptitle(f"D_LR of the grokking runs under each open convention ({profile} profile)")
    fig.tight_layout()
    table_c = pd.DataFrame(rows_c).set_index(["setting", "convention"])
    plots.save(fig, "07_richness_dlr_conventions", "D_LR at memorisation and at the end of each grokking run "
               "(mean over seeds) under each finite-sample convention v3 leaves open.",
               {f"{s} | {c}": f"{r['D_LR at memorisation']} → {r['D_LR at the end']} ({r['direction']})"
                for (s, c), r in table_c.iterrows()}, profile)
    plt.show()
    display(table_c)
else:
    display(Markdown("This profile keeps no checkpoint weights of its grokking runs; the `full` "
                     "profile shows D_LR under each convention."))

# %% [markdown]
# ## The main MLP pair and the other contrasts under each convention
# The same conventions applied to the final weights of the rich-vs-lazy pair (full training
# against its head-only control, three seeds): D_LR under each, mean ± half-range over seeds,
# and the direction beyond the seed spread. The claims table lists, beneath its rows, the
# direction of every row that rests on D_LR under every convention (`figures/<profile>/claims.md`).

# %%
pair = G["rich vs lazy"]
va, vb = conventions.values(pair["full"]), conventions.values(pair["full, head-only"])
dirs = conventions.contrast(pair["full"], pair["full, head-only"])
pd.DataFrame({"full": {n: claims.mean_spread(v) for n, v in va.items()},
              "full, head-only": {n: claims.mean_spread(v) for n, v in vb.items()},
              "full against head-only": dirs}).rename_axis("D_LR convention")
