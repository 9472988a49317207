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
# # 01 · Train every run the companion reads
#
# Nam, Mingard, Lee, Hayou & Louis (arXiv 2410.04264) split a network into a **feature map** Φ
# (input → penultimate post-activations, width p) and a **linear head** W, and watch the
# eigen-decomposition of Φ during training. This notebook trains every network the later notebooks
# read, for the chosen `profile`, and shows their learning curves.
#
# * `quick` (default): the embedded **mnist1d** dataset (8,000 training / 2,000 test 1-D signals,
#   10 classes, generated offline), an MLP and a small 1-D CNN, each with a *head-only*
#   (coefficient-learning) control in which Φ stays frozen at initialisation, a learning-rate sweep
#   and a scalar regression task. Minutes on a laptop CPU.
# * `paper`: MNIST, FashionMNIST, CIFAR-10 (MLP, VGG16-BN, ResNet18) and CIFAR-100 (ResNet18) on a GPU.
#
# Every run lives in `runs/<hash>/`, named by the hash of its configuration, written atomically:
# running this notebook again loads finished runs instantly and resumes interrupted ones.

# %% tags=["parameters"]
profile = "quick"
backend = "serial"   # or "ray": the grid runs in parallel (RAY_ADDRESS selects a cluster)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from nfl_utils import plots, profiles, sweep
from nfl_utils.train import train

plots.setup()
configs = profiles.all_runs(profile)
result = sweep.run_sweep(configs.values(), backend=backend, progress=False)
print(result)
runs = {name: train(cfg, progress=False) for name, cfg in configs.items()}   # loaded from the store

# %% [markdown]
# ## What was trained

# %%
rows = []
for name, run in runs.items():
    c, m = run.config, run.metrics.iloc[-1]
    rows.append({"run": name, "dataset": c["dataset"], "model": c["model"], "loss": c["loss"], "lr": c["lr"],
                 "epochs": c["epochs"], "head only": c["head_only"], "final train acc": m["train_acc"],
                 "final test acc": m["test_acc"], "train s": m["train_time"],
                 "measure s (all checkpoints)": run.metrics["measure_time"].sum(), "hash": run.hash})
table = pd.DataFrame(rows).set_index("run")
table.style.format(precision=3)

# %% [markdown]
# ## Learning curves
# Full training (solid) and the head-only control (dashed) for each architecture, then the
# learning-rate sweep. For the regression run, "accuracy" rounds the predicted digit value.

# %%
pairs = profiles.pairs(profile)
groups = {**{name: {name: runs[name], name + ", head-only": runs[name + ", head-only"]} for name in pairs},
          "learning-rate sweep": {n: runs[n] for n in profiles.lr_sweep(profile)},
          "regression": {n: runs[n] for n in profiles.regression(profile)}}
fig, axes = plt.subplots(2, len(groups), figsize=(4.2 * len(groups), 6.4), sharex="col", squeeze=False)
for j, (title, group) in enumerate(groups.items()):
    plots.metric_panel(axes[0, j], group, "train_acc", "train accuracy")
    plots.metric_panel(axes[1, j], group, "test_acc", "test accuracy")
    axes[0, j].set_title(title)
    axes[1, j].legend(fontsize="x-small")
fig.suptitle(f"Learning curves ({profile} profile)")
fig.tight_layout()
best = table.loc[list(pairs), "final test acc"].idxmax()
plots.save(fig, "01_train_learning_curves",
           "Train (top) and test (bottom) accuracy against epoch for every run: full training solid, "
           "head-only (Φ frozen) dashed; the learning-rate sweep; and the scalar regression task.",
           {f"final test acc, {n}": v for n, v in table["final test acc"].items()}, profile)
plt.show()

# %%
beats = all(table.loc[n, "final test acc"] > table.loc[n + ", head-only", "final test acc"] for n in pairs)
display(Markdown(
    f"Of the main architectures, the best test accuracy is **{table.loc[best, 'final test acc']:.3f}** ({best}). Full training "
    + ("beats the head-only control for every architecture: " if beats else
       "does **not** beat the head-only control for every architecture: ")
    + ", ".join(f"{n}: {table.loc[n, 'final test acc']:.3f} vs {table.loc[n + ', head-only', 'final test acc']:.3f}"
                for n in pairs)
    + ". Training took " + f"{table['train s'].sum():.0f} s in all, and measuring every checkpoint "
    + f"{table['measure s (all checkpoints)'].sum():.0f} s."))
