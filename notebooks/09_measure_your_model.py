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
# # 09 · Measure your own model
#
# The later versions of the paper argue that D_LR is a *practical* measurement: it needs only the
# features and the outputs of a network over some data. `nfl_utils.probe` takes any PyTorch model
# and any data loader, hooks the penultimate features (the input of the last `nn.Linear`, or any
# module you name), streams every batch through the same accumulator the companion uses for its own
# runs (Φ is never held in memory), and returns the spectrum, Π*/Π, the regime verdict, D_LR and
# NC1–NC4 (definitions: `docs/measures.md`). From a shell:
#
# ```bash
# python -m nfl_utils.probe RUN_HASH                          # a run of the store
# python -m nfl_utils.probe --arch resnet18 --weights FILE.pt --dataset cifar10 --split test
# ```
#
# This notebook first checks `probe` against the measures the companion recorded for its own runs,
# then measures a torchvision ResNet-18 at initialisation and after a short training run.

# %% tags=["parameters"]
profile = "quick"

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
import torchvision
from IPython.display import Markdown, display

from nfl_utils import plots, profiles
from nfl_utils.analysis import fmt_k
from nfl_utils.probe import label, probe
from nfl_utils.probe_cli import as_rgb_images, fit, from_run

plots.setup()
main = profiles.load(profile, "main")

# %% [markdown]
# ## The companion's own runs, measured from outside
# `from_run` loads a stored network and feeds its training measurement set to `probe` in batches:
# the numbers must be the ones recorded at the last checkpoint (a test checks this to 1e-10).

# %%
rows = {}
for name in ("MLP, MSE", "CNN, MSE"):
    run = main[name]
    rep, _ = from_run(run.hash, "train")
    for key in ("u_pistar_C", "u_gap", "dlr", "nc1"):
        recorded = run.final(f"train_{key}" if key != "nc1" else key)
        rows[(name, label(key))] = {"probe": rep.numbers[key], "recorded": recorded,
                             "|difference|": abs(rep.numbers[key] - recorded)}
    rows[(name, "regime")] = {"probe": rep.numbers["regime"], "recorded": "", "|difference|": ""}
agree = pd.DataFrame(rows).T
agree

# %% [markdown]
# ## A torchvision ResNet-18, at initialisation and after training
# The images of the profile's CNN run (FashionMNIST in `quick`; grey images are repeated to three
# channels, mnist1d signals become 1×40 images in the offline profiles) go through an unmodified
# `torchvision.models.resnet18`. Φ is the 512-dimensional input of its `fc` layer. We measure the
# same network before and after a short SGD run, on held-out test images. This shows the probe at
# work on a network it knows nothing about; it is not the paper's setting (a ResNet trained to
# convergence on CIFAR), so the regime it reads here is no verdict on the paper's claims.

# %%
data = main["CNN, MSE"].data()
C = data.num_classes
x_train, y_train = as_rgb_images(data.x_train[:2000]), data.y_train[:2000]
held_out = data.test_measure_idx[:2000]          # 2,000 test images of the measurement set
x_test, y_test = as_rgb_images(data.x_test[held_out]), data.y_test[held_out]
batches = [(x_test[i:i + 250], y_test[i:i + 250]) for i in range(0, len(x_test), 250)]

torch.manual_seed(0)
net = torchvision.models.resnet18(num_classes=C)
at_init = probe(net, batches)
fit(net, x_train, y_train, epochs=2, lr=0.02)
trained = probe(net, batches)
with torch.no_grad():
    acc = float((net(x_test).argmax(1) == y_test).float().mean())

keys = ["regime", "u_gap", "u_share_C", "u_pistar_C", "u_kstar90", "c_d_eff", "dlr", "nc1", "nc4"]
table = pd.DataFrame({"at initialisation": {label(k): at_init.numbers[k] for k in keys},
                      "after training": {label(k): trained.numbers[k] for k in keys}})
display(table)
display(Markdown(
    f"After two epochs on 2,000 images the ResNet-18 reaches {acc:.1%} test accuracy. Its regime by the "
    f"criterion goes from **{at_init.numbers['regime']}** (gap {at_init.numbers['u_gap']:.2f}, "
    f"Π̃*(C) {at_init.numbers['u_share_C']:.2f}) to **{trained.numbers['regime']}** (gap "
    f"{trained.numbers['u_gap']:.2f}, Π̃*(C) {trained.numbers['u_share_C']:.2f}); D_LR "
    f"{at_init.numbers['dlr']:.3f} → {trained.numbers['dlr']:.3f}, NC1 {at_init.numbers['nc1']:.2f} → "
    f"{trained.numbers['nc1']:.2f}. Notes from the probe: {'; '.join(trained.notes) or 'none'}."))

# %%
for tag, rep in (("init", at_init), ("trained", trained)):
    fig = rep.plot(f"ResNet-18 on {data.name} test images, {'at initialisation' if tag == 'init' else 'after training'}")
    plots.save(fig, f"09_probe_resnet18_{tag}",
               f"torchvision ResNet-18 {'at initialisation' if tag == 'init' else 'after 2 epochs of SGD on 2,000 images'}"
               f", measured by nfl_utils.probe on {rep.n} {data.name} test images: spectrum ρ_k/ρ_1 (uncentred and "
               "centred), Π*(k) and Π(k), and the summary numbers.",
               {k: rep.numbers[k] for k in keys if k not in ("regime", "u_kstar90")}
               | {"k*90": fmt_k(rep.numbers["u_kstar90"], "Π*"), "regime": rep.numbers["regime"]}, profile)
    plt.show()

# %% [markdown]
# ## Your model, your data
# Any `nn.Module` and any iterable of batches: `(x, y)` tuples, dicts such as
# `{"image": x, "label": y}`, or inputs alone (then only what needs no labels is computed and the
# report says what it skipped). Name a module to measure another layer; features that are not
# (n, p) are flattened, or averaged over positions with `reduce="pool"`.

# %%
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_test, y_test), batch_size=200)
mine = probe(net, loader, layer="layer4", reduce="pool", nc4=False)      # the output of the last block
print(mine.text())
