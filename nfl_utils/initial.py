"""Φ's side of a network's measurement, shared in one process between runs whose feature maps are
the same: a head-only control and the full run it controls start from the same initialised Φ
(same seed, same data), so the control's measurement of Φ (its forward passes over both
measurement sets, the moments and eigendecompositions, S_init, NC1–2, the eigenfunctions) is the
full run's measurement at epoch 0.

The key is the content of what determines those numbers (:func:`fingerprint`): the feature map's
architecture and every parameter and buffer, the measurement sets' inputs and labels, and the
task and precision settings. Equal keys give equal numbers by construction, so sharing never
changes a result; it only skips recomputing it. The last :data:`KEEP` entries are held.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import torch

# entries held; the quick profile's largest is about 25 MB (Φ on 4,000 rows at p = 512 and its
KEEP = 16
# moments), and its runs of one initial network lie up to 15 runs apart in the table
_shared: OrderedDict[str, dict] = OrderedDict()


def _bytes(t: torch.Tensor):
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()


def fingerprint(model: torch.nn.Module, data: object, cfg: object) -> str:
    """sha256 of Φ's architecture and state, the measurement sets and the settings the measures of
    Φ depend on (task, number of classes, autocast, memory format, device). Not the loss or the
    target scale: the spectral measures use f* at unit scale (:func:`measure.spectral_targets`)."""
    h = hashlib.sha256(repr(model.features).encode())
    h.update(repr((cfg.task, data.num_classes, cfg.amp, cfg.channels_last,
                   str(next(model.parameters()).device))).encode())
    for name, t in model.features.state_dict().items():
        h.update(name.encode())
        h.update(repr((t.dtype, tuple(t.shape))).encode())
        h.update(_bytes(t))
    for t in data.measurement_sets:
        h.update(repr((t.dtype, tuple(t.shape))).encode())
        h.update(_bytes(t))
    return h.hexdigest()


def lookup(key: str) -> dict:
    """The values kept under ``key`` (a new dict of the same objects), or an empty dict."""
    if key not in _shared:
        return {}
    _shared.move_to_end(key)
    return dict(_shared[key])


def remember(key: str, values: dict) -> None:
    _shared[key] = dict(values)
    _shared.move_to_end(key)
    while len(_shared) > KEEP:
        _shared.popitem(last=False)


def clear() -> None:
    _shared.clear()
