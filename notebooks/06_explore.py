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
# # 06 · Explore any run interactively
#
# Pick any finished run in the store (every dataset, model and setting trained by the other
# notebooks or by `python -m nfl_utils.train`), scrub through its checkpoints with the slider,
# choose k, and switch between the uncentred kernel and the centred covariance. The panels show the
# spectrum (this checkpoint in bold), the cumulative quality Π*(k) and utility Π(k), accuracy and
# D_LR over training, the class-conditional means of the top k eigenfunctions, and the inputs that
# excite the top two eigenfunctions most. Everything is read from the run store: a slider move only
# redraws.
#
# Run this notebook in JupyterLab (`make lab`). Executed headlessly (`make figures`), it renders
# the same view as a static figure of the profile's main MLP (MSE) instead. The d_eff in the
# summary is of the kernel chosen with the toggle (uncentred by default).

# %% tags=["parameters"]
profile = "quick"

# %%
from nfl_utils import plots, profiles, widgets

plots.setup()
first = profiles.load(profile, "main")["MLP, MSE"]
result = widgets.explore(static_run=first, profile=profile)

# %%
if widgets.headless():
    fig, summary = result
    plots.save(fig, "06_explore_static", "The explorer's view of the last checkpoint of the first run of the profile, "
               "rendered statically (headless execution).", summary, profile)
    from IPython.display import Image
    display(Image(plots.png_bytes(fig)))
