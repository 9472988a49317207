"""Measure any PyTorch model: diagonalise its feature map over a data loader, streaming.

    from nfl_utils.probe import probe
    report = probe(model, loader)                   # Φ = the input of the last nn.Linear (penultimate features)
    report = probe(model, loader, layer="layer4")    # Φ = the output of any named module
    report = probe(model, loader, features=fn)       # Φ = fn(x), any callable
    print(report.text()); report.plot(); report.to_dict()

    python -m nfl_utils.probe RUN_HASH [--split test]                     a run of the store
    python -m nfl_utils.probe --arch resnet18 --weights FILE.pt --dataset cifar10 --split test

Every batch of the loader (tuples ``(x, y)``, ``(x,)``, a bare tensor, or dicts with keys such as
``x``/``image`` and ``y``/``label``) goes through the model once on its device; Φ is never held:
:class:`~nfl_utils.spectrum.SpectralAccumulator` keeps p×p, p×C and C×C moments, and the class
statistics of neural collapse come from the same moments (NC4, which compares every sample with
the final class means, takes a second pass; ``nc4=False`` skips it). Definitions: docs/measures.md.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .analysis import regime
from .config import MAX_WIDTH
from .collapse import nc2_equiangular, nc2_equinorm, nc3
from .spectrum import SpectralAccumulator, effective_dimension
from .errors import InputError

X_KEYS = ("x", "input", "inputs", "image", "images", "pixel_values", "data")
Y_KEYS = ("y", "label", "labels", "target", "targets")
MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")   # tokenised batches
REDUCE = ("flatten", "pool", "cls", "mean", "last")


# ----------------------------------------------------------------------------- batches and features
def split_batch(batch):
    """(x, y or None) of one loader batch; a tokenised batch (a dict with ``input_ids``) gives x as
    the dict of the model's inputs (called as ``model(**x)``)."""
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, dict) and "input_ids" in batch:
        return ({k: batch[k] for k in MODEL_KEYS if k in batch},
                next((batch[k] for k in Y_KEYS if k in batch), None))
    if isinstance(batch, dict):
        x = next((batch[k] for k in X_KEYS if k in batch), None)
        if x is None:
            raise InputError(f"a dict batch needs one of the keys {', '.join(X_KEYS)}; got {', '.join(batch)}")
        return x, next((batch[k] for k in Y_KEYS if k in batch), None)
    if isinstance(batch, (tuple, list)) and batch:
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise InputError(f"cannot read a batch of type {type(batch).__name__}: give tensors, (x, y) tuples or dicts")


def last_linear(model) -> str:
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not names:
        raise InputError("the model has no nn.Linear: name a layer (layer=...) or pass features=callable")
    return names[-1]


class Grab:
    """A forward hook that keeps Φ of the current batch: the *input* of the last ``nn.Linear`` by
    default (the penultimate features), or the *output* of the module named ``layer``."""

    def __init__(self, model, layer: str | None = None):
        modules = dict(model.named_modules())
        self.name = layer if layer is not None else last_linear(model)
        if self.name not in modules:
            cands = [n for n in modules if n]
            raise InputError(f"no module named {self.name!r}; candidates: {', '.join(cands[-40:])}"
                             + (f" (and {len(cands) - 40} more)" if len(cands) > 40 else ""))
        self.value = None
        mod = modules[self.name]
        self.handle = (mod.register_forward_pre_hook(self._pre) if layer is None
                       else mod.register_forward_hook(self._post))

    def _pre(self, module, args):
        self.value = args[0]

    def _post(self, module, args, out):
        if isinstance(out, (tuple, list)):
            out = out[0]
        elif not isinstance(out, torch.Tensor):       # a ModelOutput: its hidden states
            hidden = getattr(out, "last_hidden_state", None)
            out = hidden if hidden is not None else next(iter(out.values())) if hasattr(out, "values") else out
        self.value = out

    def close(self):
        self.handle.remove()


def as_features(phi: torch.Tensor, reduce: str, notes: list, mask=None) -> torch.Tensor:
    """Φ of one batch as (n, p): flattened (default) or averaged over spatial positions (``pool``);
    sequence features (n, t, d) also by their first token (``cls``), their mean over the attention
    mask (``mean``) or their last unmasked token (``last``)."""
    if phi.ndim == 2:
        return phi
    if phi.ndim < 2:
        raise InputError(f"features must have a batch dimension; got shape {tuple(phi.shape)}")
    if reduce in ("cls", "mean", "last"):
        return sequence_features(phi, reduce, mask, notes)
    if reduce == "pool":
        msg = f"features of shape {tuple(phi.shape[1:])} averaged over positions to {phi.shape[1]} channels"
        phi = phi.flatten(2).mean(2)
    else:
        msg = f"features of shape {tuple(phi.shape[1:])} flattened to {math.prod(phi.shape[1:])} columns"
        phi = phi.flatten(1)
    if msg not in notes:
        notes.append(msg)
    return phi


def sequence_features(h: torch.Tensor, how: str, mask, notes: list) -> torch.Tensor:
    """(n, d) from token features h (n, t, d): the first token, the mean over the unmasked tokens,
    or the last unmasked token (``mask`` (n, t) of 0/1; all tokens count without one)."""
    if h.ndim != 3:
        raise InputError(f"reduce={how!r} takes token features (n, t, d); got shape {tuple(h.shape)}")
    m = torch.ones(h.shape[:2], device=h.device) if mask is None else torch.as_tensor(mask).to(h.device).float()
    _note(notes, f"token features (n, t, d) reduced by {how!r}" + ("" if mask is not None else " (no mask)"))
    if how == "cls":
        return h[:, 0]
    if how == "mean":
        return (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)
    last = (m.cumsum(1) * m).argmax(1)                   # index of the last unmasked token
    return h[torch.arange(len(h), device=h.device), last]


def _inputs(x, i: int, dev):
    """A batch's inputs on ``dev`` (a tensor, or the dict of a tokenised batch) and its length."""
    if isinstance(x, dict):
        x = {k: _as_tensor(v, k, i).to(dev) for k, v in x.items()}
        return x, len(x["input_ids"])
    x = _as_tensor(x, "inputs", i).to(dev)
    return x, len(x)


def _call(model, x):
    return model(**x) if isinstance(x, dict) else model(x)


# ----------------------------------------------------------------------------- the report
# A reader's name for each report number (the keys stay plain ASCII for code and JSON).
LABELS = {"d_eff": "d_eff", "gap": "gap ρ_C/ρ_C+1", "pistar_C": "Π*(C)", "pi_C": "Π(C)",
          "kstar90": "k*90", "k90": "k90", "share_C": "Π*(C)/Π*(p)", "regime": "regime",
          "dlr": "D_LR", "nc1": "NC1", "nc2_equinorm": "NC2 (equinorm)",
          "nc2_equiangular": "NC2 (equiangular)", "nc3": "NC3", "nc4": "NC4"}


def label(key: str) -> str:
    """``u_pistar_C`` → ``Π*(C)``, ``c_gap`` → ``gap ρ_C/ρ_C+1 (centred)``; unknown keys as they are."""
    side, _, rest = key.partition("_")
    if side in ("u", "c") and rest in LABELS:
        return LABELS[rest] + (" (centred)" if side == "c" else "")
    return LABELS.get(key, key)


def fmt(key: str, v) -> str:
    """A report number for text: k90/k*90 that never reach 90% say so; other NaNs are 'n/a'."""
    if isinstance(v, str):
        return v
    if isinstance(v, float) and math.isnan(v):
        return "never (< 0.9)" if key.endswith(("k90", "kstar90")) else "n/a"
    return f"{v:.4g}"


@dataclass
class Report:
    """What :func:`probe` measured. Spectra are :class:`~nfl_utils.spectrum.Spectrum` objects."""
    layer: str
    n: int
    p: int
    num_classes: int | None
    uncentred: object
    centred: object
    numbers: dict
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        def arr(s, what):
            v = getattr(s, what)
            return None if v is None else np.asarray(torch.as_tensor(v).cpu()).tolist()
        out = {"layer": self.layer, "n": self.n, "p": self.p, "num_classes": self.num_classes,
               "numbers": {k: (v if isinstance(v, str) or v is None or math.isfinite(v) else str(v))
                           for k, v in self.numbers.items()},
               "skipped": self.skipped, "notes": self.notes}
        for kind, s in (("uncentred", self.uncentred), ("centred", self.centred)):
            out[kind] = {name: arr(s, name) for name in ("eigenvalues", "cumulative_quality", "cumulative_utility")}
        return out

    def text(self) -> str:
        lines = [f"Φ = {self.layer} over {self.n} samples, p = {self.p}"
                 + (f", C = {self.num_classes}" if self.num_classes else "")]
        for k, v in self.numbers.items():
            lines.append(f"  {label(k):<28} {fmt(k, v)}")
        lines += [f"  skipped: {s}" for s in self.skipped] + [f"  note: {s}" for s in self.notes]
        return "\n".join(lines)

    def plot(self, title: str | None = None):
        """One figure: the spectrum, Π*(k)/Π(k) (uncentred) and the summary numbers."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [1, 1, 0.8]})
        C = self.num_classes
        for s, ls, lab in ((self.uncentred, "-", "uncentred"), (self.centred, "--", "centred")):
            rho = np.asarray(torch.as_tensor(s.eigenvalues).cpu())
            axes[0].loglog(np.arange(1, len(rho) + 1), rho / rho[0], ls, label=lab)
        axes[0].set(xlabel="k", ylabel=r"$\rho_k/\rho_1$", title="spectrum of Φ")
        for name, lab in (("cumulative_quality", r"$\Pi^*(k)$ (targets)"), ("cumulative_utility", r"$\Pi(k)$ (outputs)")):
            cum = getattr(self.uncentred, name)
            if cum is None:
                continue
            cum = np.asarray(torch.as_tensor(cum).cpu())
            axes[1].semilogx(np.arange(1, len(cum) + 1), cum, label=lab)
        axes[1].set(xlabel="k", ylim=(0, 1.02), title="cumulative quality and utility (uncentred)")
        for ax in axes[:2]:
            if C:
                ax.axvline(C, color="0.5", ls=":", lw=1)
            ax.legend(fontsize="small")
        axes[2].axis("off")
        rows = [[label(k), fmt(k, v)] for k, v in self.numbers.items()]
        if rows:
            axes[2].table(cellText=rows, colLabels=["measure", "value"], loc="center", cellLoc="left").scale(1, 1.25)
        fig.suptitle(title or f"probe: Φ = {self.layer}, n = {self.n}, p = {self.p}")
        fig.tight_layout()
        return fig


# ----------------------------------------------------------------------------- the measurement
@torch.no_grad()
def probe(model=None, loader=None, layer: str | None = None, num_classes: int | None = None, device=None,
          features=None, reduce: str = "flatten", nc4: bool = True) -> Report:
    """Diagonalise the features of ``model`` over every batch of ``loader`` (see the module doc).

    layer: a module name (its output is Φ); default: the input of the last ``nn.Linear``.
    features: a callable x → Φ instead of a hook (``model`` may then be None: no outputs).
    num_classes: C; default: the width of the model's output. Without labels only what needs none
        is computed (spectra, d_eff, the gap; Π and D_LR when outputs exist) and the report says
        what was skipped.
    reduce: 'flatten' (default) or 'pool' for features that are not (n, p); for token features (n, t, d)
        also 'cls', 'mean' (over the attention mask) or 'last' (the last unmasked token).
    """
    if loader is None:
        raise InputError("give a loader (any iterable of batches)")
    if model is None and features is None:
        raise InputError("give a model, or features=callable")
    if reduce not in REDUCE:
        raise InputError(f"reduce must be one of {', '.join(REDUCE)}, got {reduce!r}")
    modes = {m: m.training for m in model.modules()} if model is not None else {}
    if model is not None:
        model.eval()
    dev = torch.device(device) if device is not None else (
        next(model.parameters()).device if model is not None and any(True for _ in model.parameters())
        else torch.device("cpu"))
    grab = Grab(model, layer) if features is None else None
    notes, skipped = [], []
    try:
        st = stream(model, loader, {grab.name: grab} if grab else {}, features, reduce, num_classes, dev, notes)
        acc, C, labelled, once, head = next(iter(st.accs.values())), st.num_classes, st.labelled, st.once, None
        name = grab.name if grab is not None else getattr(features, "__name__", "features")
        if grab is not None and layer is None:
            head = dict(model.named_modules())[grab.name]
        report, means = report_from(acc, name, C if labelled else None, head, notes, skipped)
        if labelled and nc4 and acc.has("outputs") and not once:
            report.numbers["nc4"] = _nc4(model, loader, grab, features, reduce, means, dev)
        elif labelled:
            skipped.append("NC4 (needs the model's outputs)" if not acc.has("outputs") else
                           "NC4 (the loader can be read once only: pass a list or a DataLoader)" if once
                           else "NC4 (nc4=False)")
        return report
    finally:
        if grab is not None:
            grab.close()
        for m, mode in modes.items():      # the model as it was: train/eval per module
            m.train(mode)


@dataclass
class Streamed:
    """What one pass over a loader accumulated: one accumulator per layer (Φ, one-hot labels and
    the model's outputs), the number of classes, whether the batches had labels, whether the loader
    can be read only once."""
    accs: dict
    num_classes: int | None
    labelled: bool
    once: bool


def logits_of(out):
    """The (n, C) outputs inside what a model returned: a tensor, a Hugging Face ``ModelOutput``
    (its ``logits``) or a tuple (its first entry); None when there are none."""
    if not isinstance(out, torch.Tensor):
        out = getattr(out, "logits", None) if not isinstance(out, (tuple, list)) else (out[0] if out else None)
    return out if isinstance(out, torch.Tensor) and out.ndim == 2 else None


def _targets(y, i, C, labelled, out, device):
    """(one-hot targets or None, C) of batch ``i``, checking labels against the first batch."""
    if labelled != (y is not None):
        raise InputError(f"batch {i} {'lacks' if labelled else 'has'} labels unlike the first batch")
    if not labelled:
        return None, C
    if C is None:
        if out is None:
            raise InputError("the loader has labels but the model gives no (n, C) output: pass num_classes")
        C = out.shape[1]
    y = class_labels(y, i).to(device)
    if int(y.min()) < 0 or int(y.max()) >= C:
        raise InputError(f"batch {i} has labels outside 0..{C - 1}: pass the right num_classes")
    return torch.nn.functional.one_hot(y, C).double(), C


@torch.no_grad()
def stream(model, loader, grabs: dict, features, reduce, num_classes, dev, notes) -> Streamed:
    """One pass over ``loader``, each batch through the model once: the features of every grabbed
    layer (``{name: Grab}``), or ``features(x)``, streamed into an accumulator each."""
    accs = {n: SpectralAccumulator() for n in (grabs or {getattr(features, "__name__", "features"): 0})}
    C, labelled = num_classes, None
    for i, batch in enumerate(loader):
        x, y = split_batch(batch)
        x, size = _inputs(x, i, dev)
        if size == 0:
            _note(notes, "empty batches skipped")
            continue
        for g in grabs.values():
            g.value = None                 # a layer the forward pass skips must not give stale features
        out = logits_of(_call(model, x)) if model is not None else None
        phis = {n: g.value for n, g in grabs.items()} if grabs else {next(iter(accs)): features(x)}
        labelled = (y is not None) if labelled is None else labelled
        targets, C = _targets(y, i, C, labelled, out, dev)
        mask = x.get("attention_mask") if isinstance(x, dict) else None
        for n, phi in phis.items():
            if phi is None:
                raise InputError(f"the hook on {n!r} saw nothing in batch {i}: is it on the forward path?")
            phi = as_features(phi.detach(), reduce, notes, mask)
            if accs[n].n == 0:
                check_width(phi.shape[1])
            if not bool(torch.isfinite(phi.double().sum(0)).all()):
                raise InputError(f"the features of {n!r} in batch {i} contain NaN or inf: check the model "
                                 f"and its inputs (nothing is stored)")
            accs[n].update(phi, None if targets is None else targets.to(phi.device),
                           out.double().to(phi.device) if out is not None else None)
    if not any(a.n for a in accs.values()):
        raise InputError("the loader gave no batches")
    return Streamed(accs, C, bool(labelled), isinstance(loader, Iterator))


MAX_FEATURES = MAX_WIDTH  # p×p float64 moments: the same bound as a Config's width (2 GiB)


def check_width(p: int) -> None:
    if p > MAX_FEATURES:
        raise InputError(f"the features have {p:,} columns: their p×p float64 moments would need "
                         f"{p * p * 8 / 2 ** 30:,.0f} GiB. Pool them (reduce='pool'), or probe a narrower "
                         f"layer (layer=...); at most {MAX_FEATURES:,} columns")


def _as_tensor(x, what: str, i: int) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError) as e:
        raise InputError(f"batch {i}: the {what} are not numbers ({type(x).__name__}: {e})") from None


def class_labels(y, i: int) -> torch.Tensor:
    """Integer class labels of batch ``i``; floats only when integral, never truncated."""
    t = _as_tensor(y, "labels", i)
    if t.is_floating_point():
        if not bool((t == t.round()).all()):
            raise InputError(f"batch {i} has non-integral labels (e.g. {float(t[t != t.round()][0])}): "
                             f"class labels are integers 0..C-1")
    elif t.dtype == torch.bool or t.is_complex():
        raise InputError(f"batch {i} has labels of type {t.dtype}: class labels are integers 0..C-1")
    return t.long().flatten() if t.ndim > 1 and t.shape[-1] == 1 else t.long()


def _note(notes: list, msg: str) -> None:
    if msg not in notes:
        notes.append(msg)


def report_from(acc, name, C, head, notes, skipped, centred: bool = True):
    """(Report, class means or None) from the accumulated moments. ``centred`` False: of the
    centred spectrum only d_eff, from its eigenvalues alone (the tracker's columns; the report's
    ``centred`` spectrum is then None)."""
    su = acc.diagonalize(False)
    sc = acc.diagonalize(True) if centred else None
    p = acc.width
    k = C if C else 1
    nums = {}
    for key, s in (("u", su), ("c", sc)) if centred else (("u", su),):
        summ = s.summary(k)
        nums[f"{key}_d_eff"] = summ["d_eff"]
        nums[f"{key}_gap"] = summ["gap"]
        for q in ("pistar_C", "pi_C", "kstar90", "k90"):
            if q in summ:
                nums[f"{key}_{q}"] = summ[q]
        if key == "u" and "pistar_C" in summ:
            nums["u_share_C"] = summ["pistar_C"] / summ["pistar_all"] if summ["pistar_all"] > 0 else math.nan
            nums["regime"] = regime(summ["gap"], summ["pistar_C"], summ["pistar_all"])
    if not centred:
        nums["c_d_eff"] = effective_dimension(acc.eigenvalues(True))
    if acc.has("outputs"):
        nums["dlr"] = acc.low_rank_measure()
    else:
        skipped.append("Π and D_LR (the model gives no (n, C) output)")
    if not C:
        skipped.append("Π*, the regime verdict and NC1–NC4 (the loader has no labels)")
    rep, mu = Report(name, acc.n, p, C, su, sc, nums, skipped, notes), None
    if C:
        mu, mu_g, sigma_w = acc.class_moments()
        nums.update(nc_from_moments(mu, mu_g, sigma_w, head.weight if head is not None and
                                    tuple(head.weight.shape) == (C, p) else None))
        if head is None or tuple(head.weight.shape) != (C, p):
            skipped.append("NC3 (no linear head of shape (C, p) reads Φ)")
    return rep, mu


def nc_from_moments(mu, mu_g, sigma_w, weight=None) -> dict:
    """NC1, NC2 and (given the head W) NC3 from the class means and Σ_W (docs/measures.md)."""
    C, p = mu.shape
    Mt = (mu - mu_g) / math.sqrt(C)
    U, s, _ = torch.linalg.svd(Mt.T, full_matrices=False)
    keep = s > 1e-10 * s.max()
    Uk = U[:, keep]
    out = {"nc1": float((torch.diagonal(Uk.T @ sigma_w @ Uk) / s[keep] ** 2).sum() / C)}
    stats = (mu, mu_g, torch.empty(0, p, dtype=torch.float64, device=mu.device), None, C)
    out["nc2_equinorm"] = nc2_equinorm(None, None, _stats=stats)
    out["nc2_equiangular"] = nc2_equiangular(None, None, _stats=stats)
    if weight is not None:
        out["nc3"] = nc3(None, None, weight.detach(), _stats=stats)
    return out


def _nc4(model, loader, grab, features, reduce, mu, dev) -> float:
    """Second pass: the share of samples whose output's argmax differs from the nearest class mean."""
    wrong = total = 0
    for i, batch in enumerate(loader):
        x, _ = split_batch(batch)
        x, size = _inputs(x, i, dev)
        if size == 0:
            continue
        with torch.no_grad():
            out = logits_of(_call(model, x))
            mask = x.get("attention_mask") if isinstance(x, dict) else None
            phi = as_features((features(x) if features is not None else grab.value).detach(), reduce, [],
                              mask).double()
        near = torch.cdist(phi, mu.to(phi.device)).argmin(1)
        wrong += int((near != out.argmax(1)).sum())
        total += size
    return wrong / total if total else math.nan


# ----------------------------------------------------------------------------- helpers for examples
def as_rgb_images(x: torch.Tensor) -> torch.Tensor:
    """Inputs of the companion's datasets as images an ImageNet-style torchvision network accepts:
    grey images repeated to three channels; 1-D signals (n, L) as 1×L images."""
    if x.ndim == 2:
        x = x[:, None, None, :]
    if x.ndim != 4:
        raise InputError(f"expected (n, L) signals or (n, c, h, w) images, got shape {tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def fit(model, x, y, epochs: int = 2, lr: float = 0.05, batch_size: int = 128, seed: int = 0):
    """A plain SGD + momentum, cross-entropy fit of any classifier on tensors (for examples)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            b = perm[i:i + batch_size]
            loss = torch.nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


# ----------------------------------------------------------------------------- command line
def _tensor_loader(x, y, batch_size):
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def from_run(run_hash: str, split: str = "train", checkpoint: int | None = None, batch_size: int = 2048):
    """(report, title) for a stored run: its network at ``checkpoint`` (default: the end) on the
    run's measurement set of ``split`` (the points its recorded measures used)."""
    from .store import load_run, runs_dir

    path = runs_dir() / run_hash
    matches = sorted(runs_dir().glob(f"{run_hash}*")) if not path.exists() and runs_dir().is_dir() else []
    if matches:
        path = matches[0]
    run = load_run(path)
    if run.is_regression:
        raise InputError(f"run {run.hash} is a regression run: probe measures classifiers")
    data = run.data()
    idx = data.measure_idx if split == "train" else data.test_measure_idx
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    model = run.model(checkpoint)
    rep = probe(model, _tensor_loader(x[idx], y[idx], batch_size), num_classes=data.num_classes)
    return rep, f"run {run.hash[:8]} ({run.cfg.dataset}/{run.cfg.model}), {split} measurement set"


def from_torchvision(arch: str, weights: str | None, dataset: str, split: str, limit: int | None,
                     batch_size: int = 256, layer: str | None = None, reduce: str = "flatten",
                     num_classes: int | None = None):
    """(report, title) for a torchvision architecture with a state dict on a dataset of the companion."""
    import torchvision

    from .data import load_dataset

    if not hasattr(torchvision.models, arch):
        raise InputError(f"torchvision.models has no architecture {arch!r}")
    data = load_dataset(dataset, measure_size=10, test_measure_size=10)
    C = num_classes or data.num_classes
    model = getattr(torchvision.models, arch)(num_classes=C)
    if weights:
        load_weights(model, weights)
    x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    if limit:
        x, y = x[:limit], y[:limit]
    grey = x.ndim != 4 or x.shape[1] == 1
    x = as_rgb_images(x)
    if C < data.num_classes:
        raise InputError(f"--num-classes {C} is below the {data.num_classes} classes of {dataset}")
    rep = probe(model, _tensor_loader(x, y, batch_size), layer=layer, num_classes=C, reduce=reduce)
    if grey:
        rep.notes.append("grey images (or signals) repeated to three channels")
    return rep, f"{arch} ({'weights ' + Path(weights).name if weights else 'at initialisation'}), {dataset} {split}"


def state_dict_of(obj, path) -> dict:
    """The state dict inside what ``torch.save`` wrote: a plain state dict, or a checkpoint dict
    holding one under ``state_dict``/``model``/``model_state_dict``/``net``; DataParallel's and
    torch.compile's ``module.``/``_orig_mod.`` prefixes removed."""
    for key in ("state_dict", "model_state_dict", "model", "net"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path} holds no state dict (name → tensor), nor a checkpoint dict with one "
                         f"under 'state_dict' or 'model'; save it with torch.save(model.state_dict(), …)")
    for prefix in ("module.", "_orig_mod."):
        if all(k.startswith(prefix) for k in obj):
            obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def load_weights(model, path) -> None:
    """Load a weights file into ``model``, with one-line errors for files that do not fit."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:              # not a torch file, or one that would run code: never loaded
        raise InputError(f"{path} cannot be read as plain tensors ({e.__class__.__name__}): give a file "
                         f"written by torch.save(model.state_dict(), …)") from None
    state = state_dict_of(obj, path)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1:2] or [str(e)[:200]]
        raise InputError(f"{path} does not fit the architecture: {first[0].strip()} (check --arch and "
                         f"--num-classes)") from None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m nfl_utils.probe", description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", help="hash (or prefix) of a run in the store")
    ap.add_argument("--split", choices=("train", "test"), default="train")
    ap.add_argument("--checkpoint", type=int, default=None, help="a stored run's checkpoint index (needs save_models)")
    ap.add_argument("--arch", help="a torchvision.models architecture, e.g. resnet18")
    ap.add_argument("--weights", help="state dict file (torch.save) for --arch; omitted: at initialisation")
    ap.add_argument("--dataset", default="cifar10", help="dataset for --arch (a name the companion reads)")
    ap.add_argument("--num-classes", type=int, default=None,
                    help="outputs of --arch's head (default: the dataset's classes)")
    ap.add_argument("--limit", type=int, default=None, help="use the first N samples of the split")
    ap.add_argument("--layer", default=None, help="module whose output is Φ (default: input of the last Linear)")
    ap.add_argument("--pool", action="store_true", help="average non-2-D features over positions")
    ap.add_argument("--out", default="build/probe", help="folder for the figure and the JSON")
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = ap.parse_args(argv)
    from .errors import one_line, user_errors

    try:
        if args.arch:
            rep, title = from_torchvision(args.arch, args.weights, args.dataset, args.split, args.limit,
                                          layer=args.layer, reduce="pool" if args.pool else "flatten",
                                          num_classes=args.num_classes)
            stem = f"{args.arch}_{args.dataset}_{args.split}"
        elif args.run:
            rep, title = from_run(args.run, args.split, args.checkpoint)
            stem = f"{args.run[:8]}_{args.split}"
        else:
            ap.error("give a run hash or --arch")
    except user_errors() as e:
        if args.debug:
            raise
        sys.exit(one_line(e))
    print(title)
    print(rep.text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    fig = rep.plot(title)
    fig.savefig(out / f"{stem}.png", dpi=120)
    (out / f"{stem}.json").write_text(json.dumps({"title": title, **rep.to_dict()}, indent=1))
    print(f"wrote {out / (stem + '.png')} and {out / (stem + '.json')}")
    return rep


if __name__ == "__main__":
    main()
