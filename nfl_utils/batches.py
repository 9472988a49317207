"""Batches and features for :func:`nfl_utils.probe.probe` and the tracker: what a loader's batch
holds (tensors, ``(x, y)`` tuples, dicts, tokenised Hugging Face batches), the forward hook that
grabs Φ at a named module, and Φ of one batch as an (n, p) matrix (flattened, pooled over
positions, or one vector per sequence)."""
from __future__ import annotations

import math

import numpy as np
import torch

from .errors import InputError

X_KEYS = ("x", "input", "inputs", "image", "images", "pixel_values", "data")
Y_KEYS = ("y", "label", "labels", "target", "targets")
MODEL_KEYS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")   # tokenised batches
REDUCE = ("flatten", "pool", "cls", "mean", "last")


def split_batch(batch: object) -> tuple[object, object]:
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
            raise InputError(f"a dict batch needs one of the keys {', '.join(X_KEYS)}; got "
                             f"{', '.join(batch)}")
        return x, next((batch[k] for k in Y_KEYS if k in batch), None)
    if isinstance(batch, (tuple, list)) and batch:
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise InputError(f"cannot read a batch of type {type(batch).__name__}: give tensors, (x, y) "
                     "tuples or dicts")


def last_linear(model: torch.nn.Module) -> str:
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not names:
        raise InputError("the model has no nn.Linear: name a layer (layer=...) or pass "
                         "features=callable")
    return names[-1]


class Grab:
    """A forward hook that keeps Φ of the current batch: the *input* of the last ``nn.Linear`` by
    default (the penultimate features), or the *output* of the module named ``layer``."""

    def __init__(self, model: torch.nn.Module, layer: str | None = None):
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
            out = (
                hidden
                if hidden is not None
                else next(iter(out.values())) if hasattr(out, "values") else out
            )
        self.value = out

    def close(self) -> None:
        self.handle.remove()


def as_features(phi: torch.Tensor, reduce: str, notes: list,
                mask: torch.Tensor | None = None) -> torch.Tensor:
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
        msg = (f"features of shape {tuple(phi.shape[1:])} averaged over positions to "
               f"{phi.shape[1]} channels")
        phi = phi.flatten(2).mean(2)
    else:
        msg = (f"features of shape {tuple(phi.shape[1:])} flattened to "
               f"{math.prod(phi.shape[1:])} columns")
        phi = phi.flatten(1)
    if msg not in notes:
        notes.append(msg)
    return phi


def sequence_features(h: torch.Tensor, how: str, mask: torch.Tensor | None,
                      notes: list) -> torch.Tensor:
    """(n, d) from token features h (n, t, d): the first token, the mean over the unmasked tokens,
    or the last unmasked token (``mask`` (n, t) of 0/1; all tokens count without one)."""
    if h.ndim != 3:
        raise InputError(f"reduce={how!r} takes token features (n, t, d); got shape "
                         f"{tuple(h.shape)}")
    m = (
        torch.ones(h.shape[:2], device=h.device)
        if mask is None
        else torch.as_tensor(mask).to(h.device).float()
    )
    no_mask = "" if mask is not None else " (no mask)"
    note(notes, f"token features (n, t, d) reduced by {how!r}{no_mask}")
    if how == "cls":
        return h[:, 0]
    if how == "mean":
        return (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)
    last = (m.cumsum(1) * m).argmax(1)                   # index of the last unmasked token
    return h[torch.arange(len(h), device=h.device), last]


def batch_inputs(x: object, i: int, dev: torch.device) -> object:
    """A batch's inputs on ``dev`` (a tensor, or the dict of a tokenised batch) and its length."""
    if isinstance(x, dict):
        x = {k: _as_tensor(v, k, i).to(dev) for k, v in x.items()}
        return x, len(x["input_ids"])
    x = _as_tensor(x, "inputs", i).to(dev)
    return x, len(x)


def call_model(model: torch.nn.Module, x: object) -> object:
    return model(**x) if isinstance(x, dict) else model(x)


def logits_of(out: object) -> torch.Tensor | None:
    """The (n, C) outputs inside what a model returned: a tensor, a Hugging Face ``ModelOutput``
    (its ``logits``) or a tuple (its first entry); None when there are none."""
    if not isinstance(out, torch.Tensor):
        out = (
            getattr(out, "logits", None)
            if not isinstance(out, (tuple, list))
            else (out[0] if out else None)
        )
    return out if isinstance(out, torch.Tensor) and out.ndim == 2 else None


def _as_tensor(x, what: str, i: int) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError) as e:
        raise InputError(f"batch {i}: the {what} are not numbers ({type(x).__name__}: "
                         f"{e})") from None


def class_labels(y: object, i: int) -> torch.Tensor:
    """Integer class labels of batch ``i``; floats only when integral, never truncated."""
    t = _as_tensor(y, "labels", i)
    if t.is_floating_point():
        if not bool((t == t.round()).all()):
            raise InputError(f"batch {i} has non-integral labels (e.g. "
                             f"{float(t[t != t.round()][0])}): class labels are integers 0..C-1")
    elif t.dtype == torch.bool or t.is_complex():
        raise InputError(f"batch {i} has labels of type {t.dtype}: class labels "
                         "are integers 0..C-1")
    return t.long().flatten() if t.ndim > 1 and t.shape[-1] == 1 else t.long()


def note(notes: list, msg: str) -> None:
    if msg not in notes:
        notes.append(msg)
