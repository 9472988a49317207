"""Measure any PyTorch model: diagonalise its feature map over a data loader, streaming.

    from nfl_utils.probe import probe
    report = probe(model, loader)                   # Φ = the input of the last nn.Linear
    (penultimate features)
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

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from . import metrics
from .analysis import regime
from .batches import (  # noqa: F401
    MODEL_KEYS, REDUCE, X_KEYS, Y_KEYS, Grab, as_features, batch_inputs, call_model, class_labels,
    last_linear, logits_of, note, sequence_features, split_batch)
from .collapse import nc_from_moments
from .config import MAX_WIDTH
from .errors import InputError
from .report import LABELS, Report, fmt, label  # noqa: F401  (probe's public names)
from .spectrum import SpectralAccumulator, effective_dimension
from typing import Callable, Iterable

CLI = ("as_rgb_images", "fit", "from_run", "from_torchvision", "state_dict_of", "load_weights",
       "main")


@torch.no_grad()
def probe(model: torch.nn.Module | None = None, loader: Iterable | None = None,
          layer: str | None = None, num_classes: int | None = None,
          device: torch.device | str | None = None, features: Callable | None = None,
          reduce: str = "flatten", nc4: bool = True) -> Report:
    """Diagonalise the features of ``model`` over every batch of ``loader`` (see the module doc).

    layer: a module name (its output is Φ); default: the input of the last ``nn.Linear``.
    features: a callable x → Φ instead of a hook (``model`` may then be None: no outputs).
    num_classes: C; default: the width of the model's output. Without labels only what needs none
        is computed (spectra, d_eff, the gap; Π and D_LR when outputs exist) and the report says
        what was skipped.
    reduce: 'flatten' (default) or 'pool' for features that are not (n, p); for token features
        (n, t, d) also 'cls', 'mean' (over the attention mask) or 'last' (the last unmasked token).
    """
    _check_args(model, loader, features, reduce)
    modes = {m: m.training for m in model.modules()} if model is not None else {}
    if model is not None:
        model.eval()
    dev = _device(model, device)
    grab = Grab(model, layer) if features is None else None
    notes, skipped = [], []
    try:
        st = stream(model, loader, {grab.name: grab} if grab else {}, features, reduce, num_classes,
                    dev, notes)
        acc, C, labelled, once = next(iter(st.accs.values())), st.num_classes, st.labelled, st.once
        head = None
        name = grab.name if grab is not None else getattr(features, "__name__", "features")
        if grab is not None and layer is None:
            head = dict(model.named_modules())[grab.name]
        report, means = report_from(acc, name, C if labelled else None, head, notes, skipped)
        if labelled and nc4 and acc.has("outputs") and not once:
            report.numbers["nc4"] = _nc4(model, loader, grab, features, reduce, means, dev)
        elif labelled:
            skipped.append(_why_no_nc4(acc, once))
        return report
    finally:
        if grab is not None:
            grab.close()
        for m, mode in modes.items():      # the model as it was: train/eval per module
            m.train(mode)


def _device(model, device) -> torch.device:
    """``device``, else the model's parameters' device, else the CPU."""
    if device is not None:
        return torch.device(device)
    param = next(model.parameters(), None) if model is not None else None
    return param.device if param is not None else torch.device("cpu")


def _check_args(model, loader, features, reduce) -> None:
    if loader is None:
        raise InputError("give a loader (any iterable of batches)")
    if model is None and features is None:
        raise InputError("give a model, or features=callable")
    if reduce not in REDUCE:
        raise InputError(f"reduce must be one of {', '.join(REDUCE)}, got {reduce!r}")


def _why_no_nc4(acc, once: bool) -> str:
    return ("NC4 (needs the model's outputs)" if not acc.has("outputs") else
            "NC4 (the loader can be read once only: pass a list or a DataLoader)" if once
            else "NC4 (nc4=False)")


@dataclass
class Streamed:
    """What one pass over a loader accumulated: one accumulator per layer (Φ, one-hot labels and
    the model's outputs), the number of classes, whether the batches had labels, whether the loader
    can be read only once."""
    accs: dict
    num_classes: int | None
    labelled: bool
    once: bool


def _targets(y, i, C, labelled, out, device):
    """(one-hot targets or None, C) of batch ``i``, checking labels against the first batch."""
    if labelled != (y is not None):
        raise InputError(f"batch {i} {'lacks' if labelled else 'has'} labels unlike the first "
                         "batch")
    if not labelled:
        return None, C
    if C is None:
        if out is None:
            raise InputError("the loader has labels but the model gives no (n, C) output: pass "
                             "num_classes")
        C = out.shape[1]
    y = class_labels(y, i).to(device)
    if int(y.min()) < 0 or int(y.max()) >= C:
        raise InputError(f"batch {i} has labels outside 0..{C - 1}: pass the right num_classes")
    return torch.nn.functional.one_hot(y, C).double(), C


@torch.no_grad()
def stream(model: torch.nn.Module | None, loader: Iterable, grabs: dict, features: Callable | None,
           reduce: str, num_classes: int | None, dev: torch.device, notes: list) -> Streamed:
    """One pass over ``loader``, each batch through the model once: the features of every grabbed
    layer (``{name: Grab}``), or ``features(x)``, streamed into an accumulator each."""
    names = grabs or {getattr(features, "__name__", "features"): 0}
    accs = {n: SpectralAccumulator() for n in names}
    C, labelled = num_classes, None
    for i, batch in enumerate(loader):
        x, y = split_batch(batch)
        x, size = batch_inputs(x, i, dev)
        if size == 0:
            note(notes, "empty batches skipped")
            continue
        for g in grabs.values():
            g.value = None  # a layer the forward pass skips must not give stale features
        out = logits_of(call_model(model, x)) if model is not None else None
        phis = {n: g.value for n, g in grabs.items()} if grabs else {next(iter(accs)): features(x)}
        labelled = (y is not None) if labelled is None else labelled
        targets, C = _targets(y, i, C, labelled, out, dev)
        mask = x.get("attention_mask") if isinstance(x, dict) else None
        for n, phi in phis.items():
            if phi is None:
                raise InputError(f"the hook on {n!r} saw nothing in batch {i}: is it "
                                 "on the forward path?")
            phi = as_features(phi.detach(), reduce, notes, mask)
            if accs[n].n == 0:
                check_width(phi.shape[1])
            if not bool(torch.isfinite(phi.double().sum(0)).all()):
                raise InputError(f"the features of {n!r} in batch {i} contain NaN or inf: check "
                                 f"the model and its inputs (nothing is stored)")
            accs[n].update(phi, None if targets is None else targets.to(phi.device),
                           out.double().to(phi.device) if out is not None else None)
    if not any(a.n for a in accs.values()):
        raise InputError("the loader gave no batches")
    return Streamed(accs, C, bool(labelled), isinstance(loader, Iterator))


MAX_FEATURES = MAX_WIDTH  # p×p float64 moments: the same bound as a Config's width (2 GiB)


def check_width(p: int) -> None:
    if p > MAX_FEATURES:
        raise InputError(f"the features have {p:,} columns: their p×p float64 moments would need "
                         f"{p * p * 8 / 2 ** 30:,.0f} GiB. Pool them (reduce='pool'), or probe a "
                         f"narrower layer (layer=...); at most {MAX_FEATURES:,} columns")


def report_from(acc: SpectralAccumulator, name: str, C: int | None, head: torch.nn.Module | None,
                notes: list, skipped: list, centred: bool = True) -> tuple:
    """(Report, class means or None) from the accumulated moments. ``centred`` False: of the
    centred spectrum only d_eff, from its eigenvalues alone (the tracker's columns; the report's
    ``centred`` spectrum is then None)."""
    su = acc.diagonalize(False)
    sc = acc.diagonalize(True) if centred else None
    p = acc.width
    k = C if C else 1
    nums = {}
    col = lambda q, s: metrics.column(q, s.centred, None)  # u_gap, c_d_eff, … (the registry)
    for s in (su, sc) if centred else (su,):
        summ = s.summary(k)
        for q in ("d_eff", "gap", "pistar_C", "pi_C", "kstar90", "k90"):
            if q in summ:
                nums[col(q, s)] = summ[q]
        if not s.centred and "pistar_C" in summ:
            nums[col("share_C", s)] = (
                summ["pistar_C"] / summ["pistar_all"] if summ["pistar_all"] > 0 else math.nan
            )
            nums["regime"] = regime(summ["gap"], summ["pistar_C"], summ["pistar_all"])
    if not centred:
        nums[metrics.column("d_eff", True, None)] = effective_dimension(acc.eigenvalues(True))
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


def _nc4(model, loader, grab, features, reduce, mu, dev) -> float:
    """Second pass: the share of samples whose output's argmax differs from the nearest class
    mean."""
    wrong = total = 0
    for i, batch in enumerate(loader):
        x, _ = split_batch(batch)
        x, size = batch_inputs(x, i, dev)
        if size == 0:
            continue
        with torch.no_grad():
            out = logits_of(call_model(model, x))
            mask = x.get("attention_mask") if isinstance(x, dict) else None
            phi = as_features((features(x) if features is not None else grab.value).detach(),
                              reduce, [],
                              mask).double()
        near = torch.cdist(phi, mu.to(phi.device)).argmin(1)
        wrong += int((near != out.argmax(1)).sum())
        total += size
    return wrong / total if total else math.nan


def __getattr__(name: str):
    """The example helpers and the command line live in :mod:`nfl_utils.probe_cli`."""
    if name in CLI:
        from . import probe_cli
        return getattr(probe_cli, name)
    raise AttributeError(f"module 'nfl_utils.probe' has no attribute {name!r}")


if __name__ == "__main__":
    from .probe_cli import main
    main()
