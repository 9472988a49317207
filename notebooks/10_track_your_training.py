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
# # 10 · Track your own training
#
# v3's title is *towards practical measurement*: D_LR needs only a network's features and outputs
# over some data, so it can follow any training loop. `nfl_utils.track.Tracker` measures the model
# as it is at that moment over a fixed measurement set, for the penultimate features or for every
# layer you name, in one forward pass, and leaves the model exactly as it found it (train/eval mode
# per module, batch-norm statistics, gradients, no hooks left). The five lines a loop needs:
#
# ```python
# from nfl_utils.track import Tracker
# tracker = Tracker(model, measure_batches, layers=["1", "3", "5"])   # names from model.named_modules()
# for epoch in range(epochs):
#     ...                                                             # your own training step(s)
#     tracker.measure(epoch)
# tracker.history          # one row per step × layer: dlr, u_gap, u_pistar_C, c_d_eff, nc1, ...
# ```
#
# Below, a plain PyTorch loop written in this notebook (no companion code inside it) trains a
# 3-hidden-layer MLP on the profile's data and the tracker follows D_LR at every hidden layer.
# Layer outputs that are not (n, p) would be averaged over their positions (`reduce="pool"`).

# %% tags=["parameters"]
profile = "quick"

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from torch import nn

from nfl_utils import plots, verdicts
from nfl_utils.data import load_dataset
from nfl_utils.track import Tracker

plots.setup()
dataset = "mnist1d" if profile in ("smoke", "offline") else "fashion-mnist"
epochs = 3 if profile == "smoke" else 12
data = load_dataset(dataset, train_size=4000 if dataset == "mnist1d" else 10_000,
                    measure_size=2000, test_measure_size=2000)
x, y = data.x_train, data.y_train
xm, ym = data.x_train[data.measure_idx], data.y_train[data.measure_idx]    # the measurement set
xt, yt = data.x_test[data.test_measure_idx], data.y_test[data.test_measure_idx]

# %%
torch.manual_seed(0)
d = x[0].numel()
model = nn.Sequential(nn.Flatten(), nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                      nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, data.num_classes))
layers = ["2", "4", "6"]                       # the three ReLU outputs, first to last
tracker = Tracker(model, [(xm[i:i + 500], ym[i:i + 500]) for i in range(0, len(ym), 500)], layers=layers)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
acc = []
g = torch.Generator().manual_seed(0)
for epoch in range(epochs + 1):
    if epoch:                                  # epoch 0: the network at initialisation
        for b in torch.randperm(len(y), generator=g).split(128):
            loss = nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    tracker.measure(epoch)
    with torch.no_grad():                      # no dropout or batch norm here: one mode throughout
        acc.append({"epoch": epoch, "train": float((model(xm).argmax(1) == ym).float().mean()),
                    "test": float((model(xt).argmax(1) == yt).float().mean())})
h = tracker.history
h.pivot(index="step", columns="layer", values="dlr").round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
ep = [a["epoch"] for a in acc]
axes[0].plot(ep, [a["train"] for a in acc], "o-", label="train (measurement set)")
axes[0].plot(ep, [a["test"] for a in acc], "s-", label="test")
axes[0].set(xlabel="epoch", ylabel="accuracy", title=f"accuracy ({dataset})")
axes[0].legend(fontsize="small")
for col, layer in zip(plots.colors(len(layers)), layers):
    hl = h[h["layer"] == layer]
    axes[1].plot(hl["step"], hl["dlr"], "o-", color=col, label=f"ReLU output {layer}")
    axes[2].semilogy(hl["step"], hl["nc1"], "o-", color=col, label=f"ReLU output {layer}")
axes[1].set(xlabel="epoch", ylabel="D_LR (0 rich, 1 lazy)", ylim=(0, 1), title="D_LR per layer")
axes[2].set(xlabel="epoch", ylabel="NC1", title="NC1 per layer")
for ax in axes[1:]:
    ax.legend(fontsize="small")
fig.suptitle(f"Tracking a plain PyTorch loop: MLP 3×256 on {dataset} ({profile} profile)")
fig.tight_layout()
final = h[h["step"] == epochs].set_index("layer").loc[layers]
plots.save(fig, "10_track_layers", "Left: train and test accuracy of a plain PyTorch loop. Middle and right: "
           "D_LR and NC1 of each hidden layer's output, measured by the tracker after every epoch.",
           {**{f"final D_LR, layer {k}": float(v) for k, v in final["dlr"].items()},
            "final test accuracy": acc[-1]["test"]}, profile)
plt.show()
trend = verdicts.monotone(final["dlr"].to_numpy())
display(Markdown(f"At the last epoch D_LR **{trend}** from the first hidden layer to the last "
                 f"({', '.join(f'{v:.3f}' for v in final['dlr'])}); the table above has every epoch."))

# %% [markdown]
# ## Richness by depth in a torchvision ResNet-18
# The same tracker on a torchvision `resnet18` (built from code, no weights), trained from scratch
# by a plain loop: its four residual stages `layer1` … `layer4` are measured in one pass, each
# stage's map (n, c, h, w) averaged over its positions to c channels (`reduce="pool"`, the
# tracker's default; the notes below say so). A demonstration on the profile's data (grey images
# repeated to three channels, 1-D signals as 1×L images), not the paper's setting; the same works
# for a VGG (`layers=["features.4", "features.9", …]`) or any module name `named_modules()` lists.

# %%
import torchvision

from nfl_utils.probe_cli import as_rgb_images

xr, xmr, xtr = (as_rgb_images(a) for a in (x, xm, xt))
torch.manual_seed(0)
net = torchvision.models.resnet18(num_classes=data.num_classes)
stages = ["layer1", "layer2", "layer3", "layer4"]
rtrack = Tracker(net, [(xmr[i:i + 500], ym[i:i + 500]) for i in range(0, len(ym), 500)], layers=stages)
ropt = torch.optim.Adam(net.parameters(), lr=1e-3)
r_epochs, n_fit = (1, 512) if profile == "smoke" else (3, 3000)
racc = []
for epoch in range(r_epochs + 1):
    if epoch:
        net.train()
        for b in torch.randperm(n_fit, generator=g).split(128):
            loss = nn.functional.cross_entropy(net(xr[b]), y[b])
            ropt.zero_grad()
            loss.backward()
            ropt.step()
    rtrack.measure(epoch)                      # leaves the network in the mode it found
    net.eval()
    with torch.no_grad():
        racc.append(float(torch.cat([net(xtr[i:i + 500]).argmax(1) for i in range(0, len(yt), 500)])
                          .eq(yt).float().mean()))
rh = rtrack.history
print("\n".join(rtrack.notes))
rh.pivot(index="step", columns="layer", values="dlr")[stages].round(3)

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].plot(range(r_epochs + 1), racc, "s-", color=plots.colors(1)[0])
axes[0].set(xlabel="epoch", ylabel="test accuracy", xticks=range(r_epochs + 1),
            title=f"ResNet-18 on {dataset}, {n_fit} images, Adam")
for col, (step, hs) in zip(plots.colors(r_epochs + 1), rh.groupby("step")):
    hs = hs.set_index("layer").loc[stages]
    axes[1].plot(range(1, 5), hs["dlr"], "o-", color=col, label=f"epoch {step}")
for col, stage in zip(plots.colors(len(stages)), stages):
    hl = rh[rh["layer"] == stage]
    axes[2].plot(hl["step"], hl["dlr"], "o-", color=col, label=stage)
axes[1].set(xlabel="residual stage", xticks=range(1, 5), xticklabels=stages, ylabel="D_LR (0 rich, 1 lazy)",
            ylim=(0, 1), title="D_LR by depth, one line per epoch")
axes[2].set(xlabel="epoch", ylabel="D_LR", ylim=(0, 1), xticks=range(r_epochs + 1),
            title="D_LR per stage over training")
for ax in axes[1:]:
    ax.legend(fontsize="small")
fig.suptitle(f"Richness by depth: torchvision ResNet-18, stage outputs pooled over positions ({profile} profile)")
fig.tight_layout()
rfinal = rh[rh["step"] == r_epochs].set_index("layer").loc[stages]
plots.save(fig, "10_track_resnet_depth", "A torchvision ResNet-18 trained from scratch by a plain loop. Left: test "
           "accuracy. Middle: D_LR of each residual stage's output (pooled over positions) against depth, one line "
           "per epoch. Right: the same per stage over training.",
           {**{f"final D_LR, {k}": float(v) for k, v in rfinal["dlr"].items()}, "final test accuracy": racc[-1]},
           profile)
plt.show()
display(Markdown(f"After {r_epochs} epoch(s), D_LR **{verdicts.monotone(rfinal['dlr'].to_numpy())}** from "
                 f"`layer1` to `layer4` ({', '.join(f'{v:.3f}' for v in rfinal['dlr'])}); at initialisation "
                 f"it {verdicts.monotone(rh[rh['step'] == 0].set_index('layer').loc[stages, 'dlr'].to_numpy())}."))
