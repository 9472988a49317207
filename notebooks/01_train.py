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
# read, for the chosen `profile` (one flat table of runs in `nfl_utils/profiles.py`), and shows the
# learning curves.
#
# * `quick` (default): **MNIST** and **FashionMNIST** (class-balanced subsets; torchvision downloads
#   them, or they are read from `NFL_DATA_ROOT`): an MLP 784-512-512-512 trained with the squared
#   loss (MSE) and with cross-entropy (CE), a small CNN, each beside its *head-only* control (Φ
#   frozen at initialisation); a scalar regression task; the richness contrasts of the later
#   versions of the paper with three seeds each; grokking on modular addition; the DLGN runs.
#   About five minutes on a 2-core CPU (66 runs).
# * `full`: `quick` with the paper's own settings where a CPU reaches them: the main nets on the
#   full 60,000-image training sets (both architectures on both datasets, the same budget), v3's
#   grokking transformer beside the MLP (two seeds each), a terminal-phase run, a learning-rate
#   grid that brackets the best rate, the target-scale contrast without weight decay. Under an hour.
# * `offline`: the same table on **mnist1d** (generated on the machine, no download).
# * `paper`: adds full MNIST and CIFAR-10 runs for a GPU.
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

plots.setup()
# one line per run on stderr (under `make figures`: in the terminal)
result = sweep.run_sweep(profiles.table(profile), backend=backend, progress="lines" if backend == "serial" else False)
print(result)
if result.failed:
    raise RuntimeError(f"{len(result.failed)} run(s) failed: {result.failed}")

# %% [markdown]
# ## What was trained

# %%
groups = sorted({k.split(": ", 1)[0] for k in profiles.table(profile)}, key=list(dict.fromkeys(
    k.split(": ", 1)[0] for k in profiles.table(profile))).index)
rows = []
for g in groups:
    for name, run in profiles.load(profile, g).items():
        c = run.cfg
        rows.append({"group": g, "run": name, "dataset": c.dataset, "model": c.model, "loss": c.loss, "lr": c.lr,
                     "epochs": c.epochs, "head only": c.head_only, "seed": c.seed, "final train acc": run.final("train_acc"),
                     "final test acc": run.final("test_acc"), "train s": run.meta["train_seconds"],
                     "measure s": run.meta["measure_seconds"], "hash": run.hash})
table = pd.DataFrame(rows).set_index(["group", "run"])
display(Markdown(f"{len(table)} runs; training took {table['train s'].sum():.0f} s in all and measuring every "
                 f"checkpoint {table['measure s'].sum():.0f} s (as recorded when each run was trained)."))
table.style.format(precision=3)

# %% [markdown]
# ## Learning curves
# The main runs (head-only controls dashed) and the regression task. For the regression run,
# "accuracy" rounds the predicted digit value. Train accuracy is measured on the class-balanced
# training measurement set (docs/measures.md), test accuracy on the class-balanced test measurement set.

# %%
named = lambda g: {(n if r.cfg.dataset in n else f"{n} ({r.cfg.dataset})"): r for n, r in g.items()}
shown = {"main": named(profiles.load(profile, "main")), "regression": named(profiles.load(profile, "regression"))}
fig, axes = plt.subplots(2, len(shown), figsize=(6.5 * len(shown), 6.4), sharex="col", squeeze=False)
for j, (title, group) in enumerate(shown.items()):
    plots.metric_panel(axes[0, j], group, "train_acc", "train accuracy")
    plots.metric_panel(axes[1, j], group, "test_acc", "test accuracy")
    axes[0, j].set_title(title)
    axes[1, j].legend(fontsize="x-small")
fig.suptitle(f"Learning curves ({profile} profile)")
fig.tight_layout()
plots.save(fig, "01_train_learning_curves",
           "Train (top) and test (bottom) accuracy against epoch for the main runs (head-only controls dashed) and "
           "the scalar regression task.", {f"final test acc, {n}": r.final("test_acc") for g in shown.values()
                                           for n, r in g.items()}, profile)
plt.show()
