"""What a checkpoint records (definitions: docs/measures.md): losses, accuracies, spectra (uncentred
and centred, on the training measurement set and on test data), D_LR, S_init, parameter norms and
neural-collapse metrics."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from . import initial as shared
from .kept import Kept
from . import metrics
from .collapse import class_means, nc1, nc2_equiangular, nc2_equinorm, nc3, nc4, nearest_class_mean
from .spectrum import SpectralAccumulator
from .errors import InputError
from .targets import (correct, label_standardisation, loss_fn, regression_target,  # noqa: F401
                      spectral_targets, targets_for)
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from .config import Config
    from .data import DataBundle
    from .spectrum import Spectrum

TOP_INPUTS = 8   # inputs stored per eigenfunction: those that excite it most


@torch.no_grad()
def forward_all(model: torch.nn.Module, x: torch.Tensor, batch: int | None = None,
                amp: bool = False,
                channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(Φ, f̂) of every row of ``x`` (on the model's device), eval mode, in batches of ``batch``
    rows. Default: 2048 on a GPU; on the CPU 512 for a network with convolutions (batches of
    2048 images fall out of the cache) and 4096 otherwise (fully connected layers: larger
    products are faster). Measured here, 2 cores: the quick CNN's 4,000 images 0.17 s in 512s
    and 0.38 s in 2048s; the quick MLP's 4,000 rows 0.061 s in 512s and 0.041 s in 4096s."""
    model.eval()
    dev = next(model.parameters()).device
    if batch is None:
        convs = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
        conv = any(isinstance(m, convs) for m in model.modules())
        batch = 2048 if dev.type != "cpu" else 512 if conv else 4096
    phis, outs = [], []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(dev, non_blocking=True)
        if channels_last and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp and dev.type == "cuda"):
            phi = model.features(xb)
            out = model.head(phi) * model.output_scale
        phis.append(phi.float())
        outs.append(out.float())
    return torch.cat(phis), torch.cat(outs)


def _flat(params) -> torch.Tensor:
    return torch.cat([p.detach().flatten().double() for p in params])


def flat_params(model: torch.nn.Module) -> torch.Tensor:
    return _flat(model.parameters())


def _sums(params, theta0) -> tuple[torch.Tensor, torch.Tensor]:
    t = _flat(params)
    return t @ t, torch.linalg.vector_norm(t - theta0.to(t.device))


def parameter_norms(model: torch.nn.Module, theta0: torch.Tensor,
                    keep: Kept | None = None) -> tuple[float, float]:
    """(‖θ‖², ‖θ − θ₀‖) over all parameters (``theta0`` flat, in ``model.parameters()`` order).
    ``keep`` (a frozen Φ): Φ's share of both is computed at the first call and kept."""
    nf = sum(p.numel() for p in model.features.parameters())
    parts = [*model.features.parameters(), *model.head.parameters()]
    whole = list(model.parameters())
    split = len(parts) == len(whole) and all(a is b for a, b in zip(parts, whole))
    if keep is None or not keep.active or not split or nf == 0:
        sq, dist = _sums(model.parameters(), theta0)
        return float(sq), float(dist)
    fs, fd = keep.get("parameters", lambda: _sums(model.features.parameters(), theta0[:nf]))
    hs, hd = _sums(model.head.parameters(), theta0[nf:])
    return float(fs + hs), math.sqrt(float(fd * fd + hd * hd))


def head_map(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b), float64, of the network's readout f̂ = W Φ + b: the linear head times the output
    scale (b is None for a head without bias)."""
    scale, head = float(model.output_scale), model.head
    b = None if head.bias is None else head.bias.detach().double() * scale
    return head.weight.detach().double() * scale, b


def mode_residual(s: Spectrum, scale: float) -> np.ndarray:
    """Per eigenfunction, the squared residual of the outputs against the loss's target:
    Σ_c (⟨e_k, f̂_c⟩ − α⟨e_k, f*_c⟩)², (r,). The spectral targets are f* at unit scale, so α =
    ``scale`` gives the MSE target α·f*. Under MSE with Φ frozen, gradient descent on the head
    shrinks mode k by (1 − ηρ_k) a step: the rate C4 tests (verdicts.mode_rates)."""
    d = s.coefficients("outputs").double() - scale * s.coefficients("targets").double()
    return (d * d).sum(1).cpu().numpy()


def _spectral(acc, head, C, prefix, row, arrays, scale: float = 1.0):
    """Spectra, quality/utility, the residual per mode (target scale ``scale``) and D_LR of one
    measurement set. The outputs are the head applied to Φ (``acc.linear_outputs``), evaluated
    exactly from Φ's moments."""
    acc.linear_outputs(*head)
    specs = {}
    for c, centre in (("u", False), ("c", True)):
        s = acc.diagonalize(centre)
        specs[c] = s
        for k, v in s.summary(C).items():
            row[metrics.column(k, centre, prefix)] = v  # e.g. train_u_gap (nfl_utils.metrics)
        arrays[f"{prefix}_{c}_eigenvalues"] = s.eigenvalues.cpu().numpy()
        arrays[f"{prefix}_{c}_cum_quality"] = s.cumulative_quality.cpu().numpy()
        arrays[f"{prefix}_{c}_cum_utility"] = s.cumulative_utility.cpu().numpy()
        arrays[f"{prefix}_{c}_residual"] = mode_residual(s, scale)
    row[f"{prefix}_dlr"] = acc.low_rank_measure()
    return specs


@dataclass
class Reference:
    """Φ₀, the initial network's features on the training measurement set, as the measures use it,
    computed once per run: ``phi`` as computed (stored with the run's progress), ``centred`` =
    Φ₀ minus its column means in float64 (S_init's product needs nothing else of Φ₀) and ``norm``
    = ‖Φ₀cᵀΦ₀c‖_F; ``moments``: Φ₀'s accumulator with the spectral targets, which is the epoch-0
    measurement's accumulator (the same numbers: it is used there instead of a second one)."""

    phi: torch.Tensor
    centred: torch.Tensor
    norm: float
    moments: SpectralAccumulator


def reference(phi0: torch.Tensor, labels: torch.Tensor, cfg: Config, num_classes: int) -> Reference:
    """The :class:`Reference` of Φ₀ (on the training measurement set, whose labels are
    ``labels``)."""
    acc = SpectralAccumulator().update(phi0,
                                       spectral_targets(labels.to(phi0.device), cfg, num_classes))
    P = phi0.double()
    return Reference(phi0, P - P.mean(0), acc.centred_gram_norm(), acc)


def frozen(cfg: Config, cache: dict | None) -> bool:
    """Φ is the same at every checkpoint (a head-only run, no autocast) and a cache is given."""
    return cache is not None and cfg.head_only and not cfg.amp


def features_and_outputs(model: torch.nn.Module, x: torch.Tensor, cfg: Config,
                         keep: Kept | None = None,
                         key: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """(Φ, f̂) on ``x``. ``keep``: for a frozen Φ (see :func:`frozen`), Φ of the first call is
    kept under ``key`` and later calls only apply the head: the same numbers, without a pass
    through the network."""
    if keep is None or not keep.active:
        return forward_all(model, x, amp=cfg.amp, channels_last=cfg.channels_last)
    phi = keep.get(key,
                   lambda: forward_all(model, x, amp=cfg.amp, channels_last=cfg.channels_last)[0])
    model.eval()
    with torch.no_grad():
        out = model.head(phi.to(next(model.head.parameters()).dtype)) * model.output_scale
    return phi, out.float()


def initial_reference(model: torch.nn.Module, data: DataBundle,
                      cfg: Config) -> tuple[Reference, str | None]:
    """(the :class:`Reference` of an initialised network, the fingerprint of Φ's side): taken from
    the values shared in the process (:mod:`nfl_utils.initial`) when a network with the same Φ₀ on
    the same data was measured, else computed (one forward pass). The fingerprint is None under
    autocast (nothing is shared there)."""
    key = None if cfg.amp else shared.fingerprint(model, data, cfg)
    kept = shared.lookup(key) if key else {}
    if "reference" in kept:
        return kept["reference"], key
    phi0 = kept["train"] if "train" in kept else \
        forward_all(model, data.measurement_sets[0], amp=cfg.amp,
                    channels_last=cfg.channels_last)[0]
    return reference(phi0, data.measurement_sets[1], cfg, data.num_classes), key


def _losses(model, x, labels, cfg, C: int, keep: Kept, split: str, row: dict):
    """(Φ, f̂, labels) on one measurement set, its loss and accuracy written into ``row``."""
    phi, out = features_and_outputs(model, x, cfg, keep, split)
    y = labels.to(phi.device)
    row[f"{split}_loss"] = float(loss_fn(out, y, cfg, C))
    row[f"{split}_acc"] = float(correct(out, y, cfg, C)) / len(y)
    return phi, out, y


def _kept_for(model, data, cfg, ref, cache, initial: bool, key) -> Kept:
    """The :class:`~nfl_utils.kept.Kept` of this measurement (lifetimes: nfl_utils/kept.py): the
    run's cache for a frozen Φ, a new one shared under Φ₀'s fingerprint at epoch 0, else none."""
    store = cache if frozen(cfg, cache) else ({} if initial and not cfg.amp else None)
    if store is None or "features" in store:
        return Kept(store)                                         # nothing new to share
    key = key or shared.fingerprint(model, data, cfg)             # Φ's side not measured yet
    kept = Kept(store, key)
    store.update(shared.lookup(key))
    if initial:                   # Φ here is Φ₀: its forward pass and moments are the reference's
        dev = next(model.parameters()).device
        kept.seed("reference", ref)
        kept.seed("train", ref.phi.to(dev))
        if ref.moments.kind.device == dev:
            kept.seed("moments:train", ref.moments)
    return kept


def measure(model: torch.nn.Module, data: DataBundle, cfg: Config, ref: Reference,
            theta0: torch.Tensor, cache: dict | None = None,
            initial: bool = False, key: str | None = None) -> tuple[dict, dict]:
    """One checkpoint: a row of scalars and a dict of arrays (see the module docstring). Loss and
    accuracy come from the measurement sets' forward passes, which the spectra need anyway.
    ``ref``: Φ₀ (:func:`reference`, for S_init). ``cache``: a head-only run's cache (Φ frozen);
    ``initial``: the network is the one ``ref`` was computed from (epoch 0); ``key``: Φ₀'s
    fingerprint when known. What is kept and shared, for how long: :mod:`nfl_utils.kept`."""
    t0, C, regress = time.perf_counter(), data.num_classes, cfg.task == "regress"
    keep = _kept_for(model, data, cfg, ref, cache, initial, key)
    head = head_map(model)
    row, arrays = {}, {}
    kC = 2 if regress else C    # the collapsed state has C modes, or {1, f̂} for a scalar target

    x_m, y_m, x_t, y_t = data.measurement_sets
    tphi, tout, ty = _losses(model, x_t, y_t, cfg, C, keep, "test", row)
    idx = data.measure_idx
    phi, out, y = _losses(model, x_m, y_m, cfg, C, keep, "train", row)
    acc = keep.get("moments:train",
                   lambda: SpectralAccumulator().update(phi, spectral_targets(y, cfg, C)))
    scale = cfg.target_scale if regress or cfg.loss == "mse" else 1.0      # the loss's f* = α·f*₁
    specs = _spectral(acc, head, kC, "train", row, arrays, scale)
    if cfg.test_spectra:
        tacc = keep.get("moments:test",
                        lambda: SpectralAccumulator().update(tphi, spectral_targets(ty, cfg, C)))
        _spectral(tacc, head, kC, "test", row, arrays, scale)

    frow, farrays, efs, stats, nearest = keep.get("features", lambda: _feature_measures(
        phi, y, idx, specs, acc, None if initial else ref, regress, C))
    row.update(frow)
    arrays.update(farrays)
    row["theta_norm2"], row["theta_dist"] = parameter_norms(model, theta0, keep)
    if regress:
        arrays.update(output_correlations(out, efs))
    else:   # NC3 and NC4 read the head and the outputs: measured at every checkpoint
        row.update(nc3=nc3(phi, y, model.head.weight, stats), nc4=nc4(phi, y, out, stats, nearest))
    keep.publish()
    row.update(extra_measures(Checkpoint(phi, y, out, model, cfg, C)))
    row["measure_time"] = time.perf_counter() - t0
    return row, arrays


def output_correlations(out: torch.Tensor, efs: dict) -> dict:
    """Regression runs: corr(e_k, f̂) of the top eigenfunctions (uncentred and centred), (10,)
    each."""
    fc = out[:, 0].double() - out[:, 0].double().mean()
    arrays = {}
    for c, e in efs.items():
        ec = e - e.mean(0)
        corr = (ec * fc[:, None]).sum(0) / (ec.norm(dim=0) * fc.norm() + 1e-300)
        arrays[f"ef_output_corr_{c}"] = _pad(corr.cpu().numpy(), (10,))
    return arrays


@dataclass
class Checkpoint:
    """What a measure registered with :func:`nfl_utils.metrics.register` is given: the training
    measurement set's Φ (n, p), labels (n,) and outputs f̂ (n, C), the network and its config."""

    phi: torch.Tensor
    labels: torch.Tensor
    outputs: torch.Tensor
    model: torch.nn.Module
    cfg: object
    num_classes: int


def extra_measures(ck: Checkpoint) -> dict:
    """{name: value} of every registered measure (nfl_utils.metrics.EXTRA), as floats."""
    return {name: float(m.fn(ck)) for name, m in metrics.EXTRA.items()}


def s_init(phi: torch.Tensor, ref: Reference, acc: SpectralAccumulator) -> float:
    """Linear CKA of Φ (float64, the rows ``acc`` accumulated) and Φ₀: ‖ΦcᵀΦ₀c‖²_F / (‖ΦcᵀΦc‖_F
    ‖Φ₀cᵀΦ₀c‖_F), with ‖ΦcᵀΦc‖_F from the accumulator (kept there for D_LR) and Φ₀c and its norm
    from ``ref`` (computed once per run). Φ is not centred: Φ₀c's columns sum to zero, so
    ΦᵀΦ₀c = ΦcᵀΦ₀c, and one product is all a checkpoint computes."""
    num = torch.linalg.matrix_norm(phi.T @ ref.centred.to(phi.device)) ** 2
    den = acc.centred_gram_norm() * ref.norm
    if den <= 0:
        raise InputError("a feature map is constant over the sample: CKA is undefined")
    return float(num / den)


def _feature_measures(phi, y, idx, specs, acc, ref, regress, C):
    """What depends on Φ alone: S_init, NC1–2 with the class statistics and the nearest class
    means, and the eigenfunctions' class-conditional means and most exciting inputs. ``ref``
    None: Φ is Φ₀, and S_init = CKA(K₀, K₀) = 1."""
    row, arrays, efs = {}, {}, {}
    phi = phi.double()                                              # once, for all of them
    row["s_init"] = 1.0 if ref is None else s_init(phi, ref, acc)
    stats = nearest = None
    if not regress:
        stats = class_means(phi, y)
        nearest = nearest_class_mean(phi, y, stats)
        row["nc1"] = nc1(phi, y, stats)
        row["nc2_equinorm"] = nc2_equinorm(phi, y, stats)
        row["nc2_equiangular"] = nc2_equiangular(phi, y, stats)
    K = 10 if regress else 2 * C
    for c, s in specs.items():
        e = efs[c] = s.eigenfunctions(phi, K)
        if not regress:
            means = torch.zeros(C, e.shape[1], dtype=torch.float64, device=e.device)
            means.index_add_(0, y, e)
            means /= torch.bincount(y, minlength=C)[:, None]
            arrays[f"ef_class_means_{c}"] = _pad(means.T.cpu().numpy(), (K, C))
        top = idx.to(e.device)[torch.topk(e, TOP_INPUTS, dim=0).indices.T]    # (k, TOP_INPUTS)
        arrays[f"top_inputs_{c}"] = _pad(top.cpu().numpy().astype(float), (K, TOP_INPUTS))
    return row, arrays, efs, stats, nearest


def _pad(a, shape):
    out = np.full(shape, np.nan)
    out[tuple(slice(0, s) for s in a.shape)] = a
    return out


def stack_arrays(per_checkpoint: list[dict]) -> dict:
    """Stack per-checkpoint arrays into (n_checkpoints, ...) arrays, NaN-padded to a common
    length."""
    out = {}
    for key in per_checkpoint[0]:
        items = [d[key] for d in per_checkpoint]
        shape = tuple(max(a.shape[i] for a in items) for i in range(items[0].ndim))
        out[key] = np.stack([_pad(a, shape) for a in items])
    return out
