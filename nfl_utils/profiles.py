"""Which runs the notebooks read, per profile: one flat table (label → Config) per profile.

Labels are ``"group: name"``; a name ending in ``[seed k]`` is one of several seeds of the same
setting. ``quick`` (default) trains the paper's headline contrasts on MNIST and FashionMNIST
(class-balanced subsets) on a CPU in minutes. ``offline`` is the same table on mnist1d, generated
on the machine (no download). ``smoke`` is ``full`` passed through :func:`shrink`, for the tests.
``full`` (under an hour on a 2-core CPU) is ``quick`` with the paper's own settings wherever
this CPU reaches them: full-data epochs, the grokking transformer, a terminal-phase run, a
bracketing learning-rate sweep. ``paper`` is the GPU table. Every profile trains the same runs on
every machine: a missing dataset is an error that names the data folder and the offline profile,
never a silent switch.
"""
from __future__ import annotations

import re

from .config import Config
from .errors import InputError
from .profile_variants import IMAGE_SETS, offline, shrink  # noqa: F401 (the derived profiles)

PROFILES = ("quick", "full", "offline", "smoke", "paper")
SEEDS = (0, 1, 2)


def seeds(name: str, cfg: Config, n: int = len(SEEDS)) -> dict[str, Config]:
    """``n`` seeds of one setting; a seed varies the data (subset, split, label shuffling,
    measurement sets) as well as initialisation and order, so the spread covers all of them."""
    return {f"{name} [seed {s}]": cfg.replace(seed=s, data_seed=s) for s in SEEDS[:n]}


def with_head_only(name: str, cfg: Config) -> dict[str, Config]:
    """A run and its coefficient-learning control (same net and schedule, Φ frozen at
    initialisation)."""
    return {name: cfg, f"{name}, head-only": cfg.replace(head_only=True)}


# ----------------------------------------------------------------------------- quick
SGD = dict(optimizer="sgd", momentum=0.9, weight_decay=5e-4, batch_size=128)
# The headline net: MLP 784-512-512-512 on 10,000 MNIST images, SGD + weight decay, 20 epochs.
MLP = Config(dataset="mnist", model="mlp", width=512, depth=3, train_size=10_000, epochs=20, lr=0.1,
             loss="mse", measure_size=2000, test_measure_size=2000,
             checkpoints=(0, 1, 2, 5, 10, 20), **SGD)
CNN = Config(dataset="fashion-mnist", model="cnn", width=256, channels=16, train_size=10_000,
             epochs=10, lr=0.05, loss="mse", measure_size=1000, test_measure_size=2000,
             checkpoints=(0, 1, 2, 5, 10), channels_last=True, **SGD)
# The small net of the seeded richness contrasts: MLP 784-256-256 on 5,000 images, 10 epochs,
# measured at 0, 5, 10.
SMALL = MLP.replace(width=256, depth=2, train_size=5000, epochs=10, measure_size=1000,
                    test_measure_size=1000, checkpoints=(0, 5, 10))
SMALL_CNN = CNN.replace(channels=8, width=128, train_size=5000, epochs=6, measure_size=1000,
                        test_measure_size=1000, checkpoints=(0, 3, 6))
# Shuffled labels: 1,000 images memorised with Adam (train accuracy must reach 95% for the claim).
MEMO = SMALL.replace(train_size=1000, optimizer="adam", lr=1e-3, weight_decay=0.0, batch_size=100,
                     epochs=60, loss="ce", checkpoints=(0, 10, 30, 60))
# Grokking: modular addition mod 97, 40% of the pairs, MLP 194-512-97, AdamW (lr 3e-3) wd 1, full
# batch.
GROK = Config(dataset="modadd", model="mlp", width=512, depth=1, optimizer="adamw", lr=3e-3,
              weight_decay=1.0, batch_size=4096, epochs=2400, loss="ce", measure_size=4096,
              test_measure_size=6000,
              checkpoints=(0, 50, 100, 200, 400, 800, 1200, 1400, 1600, 1800, 2000, 2400))
DLGN_IMG = Config(dataset="fashion-mnist", model="dlgn", width=128, depth=3, lr=1e-3,
                  optimizer="adam", momentum=0.0, batch_size=128, epochs=8, train_size=10_000,
                  measure_size=1000, test_measure_size=2000, checkpoints=(0, 1, 2, 4, 8))
CIRCLE = Config(dataset="circle", model="dlgn", width=8, depth=3, lr=0.01, optimizer="adam",
                momentum=0.0, batch_size=100, epochs=200, measure_size=600, test_measure_size=600,
                save_models=True, checkpoints=(0, 1, 2, 3, 4, 6, 9, 14, 22, 34, 52, 80, 123, 200))
TREE = Config(dataset="oblique-tree", model="dlgn", width=64, depth=4, lr=2e-3, optimizer="adam",
              momentum=0.0, batch_size=2000, epochs=60, measure_size=1000, test_measure_size=2000,
              checkpoints=(0, 1, 2, 4, 7, 12, 20, 33, 45, 60))

def sized(n: int) -> Config:
    """SMALL on n images for 5000/n times its epochs: as many SGD steps as SMALL (400 at batch 128
    for n = 1,000, 2,000 and 5,000), so the sizes differ in data, not in training length. n = 5,000
    is SMALL."""
    e = round(SMALL.epochs * 5000 / n)
    return SMALL.replace(train_size=n, epochs=e, checkpoints=(0, e // 2, e))


QUICK: dict[str, Config] = {
    **{f"main: {k}": v for k, v in {**with_head_only("MLP, MSE", MLP),
                                    **with_head_only("MLP, CE", MLP.replace(loss="ce", lr=0.05)),
                                    **with_head_only("CNN, MSE", CNN)}.items()},
    **{f"regression: {k}": v for k, v in with_head_only("MLP",
                                                        MLP.replace(task="regress")).items()},
    **{f"lr: {k}": v for lr in (0.01, 0.05, 0.2)
       for k, v in seeds(f"lr={lr:g}", SMALL.replace(lr=lr)).items()},
    **{f"rich vs lazy: {k}": v for name, c in with_head_only("full", SMALL).items()
       for k, v in seeds(name, c).items()},
    **{f"shuffled labels: {k}": v for name, c in (("clean", MEMO),
                                                  ("shuffled", MEMO.replace(shuffle_fraction=1.0)))
       for k, v in seeds(name, c).items()},
    **{f"batch norm: {k}": v for name, c in (("no BN", SMALL_CNN),
                                             ("BN", SMALL_CNN.replace(batch_norm=True)))
       for k, v in seeds(name, c).items()},
    **{f"weight decay: {k}": v for wd in (0.0, 5e-4, 5e-3)
       for k, v in seeds(f"wd={wd:g}", SMALL.replace(weight_decay=wd)).items()},
    # α·one-hot targets with the learning rate scaled by 1/α, so the function moves at the same
    # speed; no weight decay: its shrinkage per step (lr × wd) would otherwise change with α
    **{f"target scale: {k}": v for a in (1.0, 0.3, 0.1)
       for k, v in seeds(f"α={a:g}", SMALL.replace(target_scale=a, lr=0.1 / a, momentum=0.0,
                                                    weight_decay=0.0)).items()},
    **{f"train size: {k}": v for n in (1000, 2000, 5000)
       for k, v in seeds(f"n={n}", sized(n)).items()},
    "grokking: MLP [seed 0]": GROK.replace(save_models=True),    # weights kept: D_LR's conventions
    "dlgn circle: DLGN": CIRCLE,
    "dlgn image: deep linear": DLGN_IMG.replace(model="mlp", activation="linear"),
    "dlgn image: DLGN": DLGN_IMG,
    "dlgn image: ReLU MLP": DLGN_IMG.replace(model="mlp", activation="relu"),
    "dlgn image: DLGN, frozen random gates": DLGN_IMG.replace(freeze_gates=True),
    "dlgn image: DLGN, frozen learned gates": DLGN_IMG.replace(freeze_gates=True,
                                                               init_gates_from=DLGN_IMG.hash,
                                                               seed=1),
    "dlgn tree: DLGN": TREE,
    "dlgn tree: DLGN-SF": TREE.replace(model="dlgn_sf"),
    "dlgn tree: ReLU MLP": TREE.replace(model="mlp"),
}


# ----------------------------------------------------------------------------- full
# v3's grokking transformer: 2 pre-LN blocks, d_model 128, 4 heads, tokens `a b =`, AdamW lr 1e-3,
# β₂ 0.98, weight decay 1, mini-batches of 512 (8 steps an epoch), 600 epochs (4,800 steps).
TGROK = GROK.replace(model="transformer", width=128, depth=2, heads=4, lr=1e-3, adam_beta2=0.98,
                     batch_size=512, epochs=600,
                     checkpoints=(0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, *range(100, 601, 25)))
# Omnigrok's MNIST grokking (Liu, Michaud & Tegmark 2022): 1,000 images, MLP 784-200-200-200,
# every parameter ×8 at initialisation, MSE, AdamW lr 1e-3, weight decay 0.01, batch 200 (5 steps
# an epoch); 10,000 epochs = 50,000 steps (Omnigrok trains 100,000: cut for time).
OMNIGROK = Config(dataset="mnist", model="mlp", width=200, depth=3, train_size=1000, loss="mse",
                  init_scale=8.0, optimizer="adamw", lr=1e-3, weight_decay=0.01, batch_size=200,
                  epochs=10_000, measure_size=1000, test_measure_size=2000,
                  checkpoints=(0, 10, 20, 50, 100, 200, 400, 700, 1000, 1500, 2000, 3000, 4000,
                               5000,
                               6000, 7000, 8000, 9000, 10_000))
FULL_EPOCHS = (0, 1, 2, 3, 4, 5, 7, 10, 15, 20)      # dense in the first epochs
FULL_MLP = MLP.replace(train_size=None, checkpoints=FULL_EPOCHS)                 # 60,000 images
FULL_CNN = CNN.replace(train_size=None, epochs=20, checkpoints=FULL_EPOCHS)      # same budget
# Toward the terminal phase (Papyan et al.): 200 epochs of 10,000 images, lr ×0.1 at 50% and 75%.
TERMINAL = MLP.replace(epochs=200, schedule="step",
                       checkpoints=(0, 1, 2, 5, 10, 20, 35, 50, 75, 100, 125, 150, 175, 200))
FULL_LRS = (0.01, 0.03, 0.1, 0.3, 1.0)   # wide enough that the best can sit inside the grid


# v3's batch-norm contrast is VGG16, which barely trains without BN: the 13-layer VGG16 at 1/8 of
# its channels (8 … 64, Φ of 64), cross-entropy, on 5,000 FashionMNIST images, 10 epochs.
VGG = Config(dataset="fashion-mnist", model="vgg16", vgg_base=8, train_size=5000, epochs=10,
             lr=0.05, loss="ce", measure_size=1000, test_measure_size=1000,
             checkpoints=(0, 2, 5, 10), channels_last=True, **SGD)
# to convergence
DLGN_LONG = DLGN_IMG.replace(epochs=50, checkpoints=(0, 1, 2, 4, 8, 15, 25, 35, 50))
# The sibling paper's recipe on its benchmark: 10 mini-batches an epoch, up to 1,500 epochs, stop
# once the train loss is below 5e-6, keep the best-validation weights; its published best settings.
RECIPE = TREE.replace(lr=0.02, epochs=1500, stop_loss=5e-6, keep_best=True, measure_size=1000,
                      checkpoints=(0, 1, 2, 5, 10, 20, 50, 100, 200, 400, 700, 1000, 1500))
TREE_FULL = {"DLGN": RECIPE.replace(dlgn_beta=3.0, depth=5, width=20),
             "DLGN-SF": RECIPE.replace(model="dlgn_sf", dlgn_beta=30.0, depth=4, width=10),
             "ReLU MLP": RECIPE.replace(model="mlp", depth=4, width=20)}
# The ReLU baseline tuned as the sibling tuned its nets, by validation accuracy, over a small grid
# (the sibling searched widths 10–1000: widths above 40 are cut for time, 1,500 epochs each)
RELU_GRID = {f"ReLU MLP w={w}, d={d}": RECIPE.replace(model="mlp", width=w, depth=d)
             for w in (10, 40) for d in (3, 5)}


def dlgn_image_seeds(n: int = 3) -> dict[str, Config]:
    """The DLGN image contrast over seeds (a seed varies init, order and the 10,000-image subset);
    seed 0 keeps the bare label. Frozen learned gates come from the same seed's trained DLGN."""
    out = {}
    for s in SEEDS[:n]:
        tag = "" if s == 0 else f" [seed {s}]"
        dl = DLGN_LONG.replace(seed=s, data_seed=s)
        out.update({f"deep linear{tag}": dl.replace(model="mlp", activation="linear"),
                    f"DLGN{tag}": dl,
                    f"ReLU MLP{tag}": dl.replace(model="mlp", activation="relu"),
                    f"DLGN, frozen random gates{tag}": dl.replace(freeze_gates=True),
                    f"DLGN, frozen learned gates{tag}": dl.replace(
                        freeze_gates=True, init_gates_from=dl.hash, seed=s + 100)})
    return out


def seeds_and_data(name: str, cfg: Config, n: int = 2) -> dict[str, Config]:
    """Two :func:`seeds` (the grokking runs: long, so two)."""
    return seeds(name, cfg, n)


# The seeded richness contrasts at three times quick's length (quick's table keeps the shorter)
LONG = 3
SMALL_LONG = SMALL.replace(epochs=LONG * SMALL.epochs, checkpoints=(0, 10, 20, 30))


def sized_long(n: int) -> Config:
    """:func:`sized` at LONG times its length (the same number of steps for every n)."""
    c = sized(n)
    return c.replace(epochs=LONG * c.epochs, checkpoints=(0, LONG * c.epochs // 2, LONG * c.epochs))


FULL: dict[str, Config] = {
    **{k: v for k, v in QUICK.items() if not k.startswith((
        "main:", "lr:", "target scale:", "grokking:", "batch norm:", "dlgn image:", "dlgn tree:",
        "rich vs lazy:", "weight decay:", "train size:", "shuffled labels:"))},
    **{f"rich vs lazy: {k}": v for name, c in with_head_only("full", SMALL_LONG).items()
       for k, v in seeds(name, c).items()},
    **{f"shuffled labels: {k}": v for name, c in (("clean", MEMO),
                                                  ("shuffled", MEMO.replace(shuffle_fraction=1.0)))
       for k, v in seeds(name,
                         c.replace(epochs=LONG * MEMO.epochs,
                                   checkpoints=(0, 30, 90, 180))).items()},
    **{f"weight decay: {k}": v for wd in (0.0, 5e-4, 5e-3)
       for k, v in seeds(f"wd={wd:g}", SMALL_LONG.replace(weight_decay=wd)).items()},
    **{f"train size: {k}": v for n in (1000, 2000, 5000)
       for k, v in seeds(f"n={n}", sized_long(n)).items()},
    **{f"main: {k}": v for k, v in {
        **with_head_only("MLP, MSE", FULL_MLP),
        **with_head_only("MLP, CE", FULL_MLP.replace(loss="ce", lr=0.05)),
        **with_head_only("CNN, MSE", FULL_CNN),
        **with_head_only("MLP, MSE, fashion-mnist", FULL_MLP.replace(dataset="fashion-mnist")),
        **with_head_only("CNN, MSE, mnist", FULL_CNN.replace(dataset="mnist"))}.items()},
    "terminal phase: MLP, MSE": TERMINAL,
    **{f"lr: {k}": v for lr in FULL_LRS
       for k, v in seeds(f"lr={lr:g}",
                         SMALL.replace(lr=lr, epochs=30, checkpoints=(0, 10, 20, 30))).items()},
    # α·one-hot targets, lr/α, and no weight decay: the decay per step would otherwise change
    # with α
    **{f"target scale: {k}": v for a in (1.0, 0.3, 0.1)
       for k, v in seeds(f"α={a:g}", SMALL_LONG.replace(target_scale=a, lr=0.1 / a, momentum=0.0,
                                                         weight_decay=0.0)).items()},
    # the checkpoint weights are kept: D_LR is recomputed under each open convention from them
    **{f"grokking: {k}": v.replace(save_models=True) for k, v in {
        **seeds_and_data("transformer", TGROK), **seeds_and_data("MLP", GROK),
        **seeds_and_data("MNIST MLP (Omnigrok)", OMNIGROK)}.items()},
    **{f"batch norm: {k}": v for name, c in (("no BN", VGG), ("BN", VGG.replace(model="vgg16_bn")))
       for k, v in seeds(name, c).items()},
    **{f"dlgn image: {k}": v for k, v in dlgn_image_seeds().items()},
    **{f"dlgn tree: {k}": v for k, v in TREE_FULL.items()},
    **{f"dlgn tree grid: {k}": v for k, v in RELU_GRID.items()},
}


# ----------------------------------------------------------------------------- the paper (GPU)
PAPER: dict[str, Config] = {
    **{f"main: {k}": v for k, v in {
        **with_head_only("MLP, MSE",
                         MLP.replace(train_size=None, epochs=40,
                                     checkpoints=(0, 1, 2, 5, 10, 20, 40))),
        **with_head_only("MLP, CE", MLP.replace(train_size=None, loss="ce", lr=0.05, epochs=40,
                                                checkpoints=(0, 1, 2, 5, 10, 20, 40))),
        **with_head_only("CNN, MSE", CNN.replace(train_size=None, channels=32, epochs=40,
                                                 checkpoints=(0, 1, 2, 5, 10, 20, 40))),
        **with_head_only("CIFAR-10 ResNet18, CE",
                         Config(dataset="cifar10", model="resnet18", lr=0.1, epochs=60,
                                                         augment=True, schedule="cosine", loss="ce",
                                amp=True,
                                                         channels_last=True, measure_size=5000,
                                                         test_measure_size=10_000, **SGD)),
        **with_head_only("CIFAR-10 MLP, CE",
                         Config(dataset="cifar10", model="mlp", width=1024, depth=3, lr=0.02,
                                                    epochs=60, schedule="cosine", measure_size=5000,
                                                    test_measure_size=10_000, **SGD))}.items()},
}


def table(profile: str) -> dict[str, Config]:
    if profile == "quick":
        return QUICK
    if profile == "full":
        return FULL
    if profile == "offline":
        return offline(QUICK)
    if profile == "smoke":
        return shrink(FULL)
    if profile == "paper":
        return {**QUICK, **PAPER}
    raise InputError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")


def groups(profile: str) -> list[str]:
    """The profile's group names, in table order."""
    return list(dict.fromkeys(k.split(": ", 1)[0] for k in table(profile)))


def group(profile: str, name: str) -> dict[str, Config]:
    """The runs of one group: {name within the group: Config}."""
    out = {k.split(": ", 1)[1]: v for k, v in table(profile).items() if k.split(": ", 1)[0] == name}
    if not out:
        groups = sorted({k.split(": ", 1)[0] for k in table(profile)})
        raise InputError(f"profile {profile!r} has no group {name!r}; groups: {', '.join(groups)}")
    return out


def load(profile: str, name: str) -> dict:
    """The finished runs of one group, {name: Run}, read from the store without training. A run
    that is not there yet is an error naming it and saying how to train it."""
    from .store import is_complete, load_run, runs_dir

    out = {}
    for label, cfg in group(profile, name).items():
        path = runs_dir() / cfg.hash
        if not is_complete(path):
            raise FileNotFoundError(f"run '{name}: {label}' ({cfg.hash}) of profile {profile!r} is "
                                    f"not in the store {runs_dir()}: train the profile first "
                                    f"(notebook 01_train, or python -m nfl_utils.sweep --profile "
                                    f"{profile})")
        out[label] = load_run(path)
    return out


SEED_RE = re.compile(r"^(.*) \[seed (\d+)\]$")


def by_setting(runs: dict) -> dict[str, list]:
    """Group seeded runs: {'BN [seed 0]': r0, 'BN [seed 1]': r1} → {'BN': [r0, r1]} (order
    kept)."""
    out: dict[str, list] = {}
    for label, run in runs.items():
        m = SEED_RE.match(label)
        out.setdefault(m.group(1) if m else label, []).append(run)
    return out
