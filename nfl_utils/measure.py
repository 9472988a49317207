"""What a checkpoint records (definitions: docs/measures.md): losses, accuracies, spectra (uncentred and centred, on the training
measurement set and on test data), D_LR, S_init, parameter norms and neural-collapse metrics."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from .collapse import all_nc
from .spectrum import SpectralAccumulator, linear_cka

TOP_INPUTS = 8   # inputs stored per eigenfunction: those that excite it most


def label_standardisation(num_classes: int) -> tuple[float, float]:
    """Mean and standard deviation of the label value c under a uniform class distribution on 0..C−1."""
    return (num_classes - 1) / 2, math.sqrt((num_classes ** 2 - 1) / 12)


def regression_target(labels: torch.Tensor, num_classes: int, scale: float) -> torch.Tensor:
    """The digit value, standardised over a uniform class distribution, times ``scale``: (n, 1)."""
    mean, std = label_standardisation(num_classes)
    return (scale * (labels.double() - mean) / std)[:, None]


def targets_for(labels, cfg, num_classes) -> torch.Tensor:
    """f* used by the loss (MSE) and by the quality measures: α·one-hot, or the regression target."""
    if cfg.task == "regress":
        return regression_target(labels, num_classes, cfg.target_scale)
    return F.one_hot(labels, num_classes).double() * (cfg.target_scale if cfg.loss == "mse" else 1.0)


def loss_fn(out, labels, cfg, num_classes):
    if cfg.loss == "ce":
        return F.cross_entropy(out.float(), labels)
    return F.mse_loss(out.float(), targets_for(labels, cfg, num_classes).float())


def correct(out, labels, cfg, num_classes):
    if cfg.task == "regress":
        mean, std = label_standardisation(num_classes)
        pred = torch.round(out[:, 0].float() / cfg.target_scale * std + mean).clamp(0, num_classes - 1)
        return (pred.long() == labels).sum()
    return (out.argmax(1) == labels).sum()


@torch.no_grad()
def forward_all(model, x, batch=2048, amp=False, channels_last=False):
    """(Φ, f̂) of every row of ``x`` (on the model's device), eval mode."""
    model.eval()
    dev = next(model.parameters()).device
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


def flat_params(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten().double() for p in model.parameters()])


def _spectral(phi, fstar, fhat, C, prefix, row, arrays):
    acc = SpectralAccumulator().update(phi, fstar, fhat)
    specs = {}
    for c, centre in (("u", False), ("c", True)):
        s = acc.diagonalize(centre)
        specs[c] = s
        for k, v in s.summary(C).items():
            row[f"{prefix}_{c}_{k}"] = v
        arrays[f"{prefix}_{c}_eigenvalues"] = s.eigenvalues.cpu().numpy()
        arrays[f"{prefix}_{c}_cum_quality"] = s.cumulative_quality.cpu().numpy()
        arrays[f"{prefix}_{c}_cum_utility"] = s.cumulative_utility.cpu().numpy()
    row[f"{prefix}_dlr"] = acc.low_rank_measure()
    return specs, acc


def centred_gram_norm(phi) -> float:
    """‖ΦcᵀΦc‖_F, the normaliser of linear CKA (computed once for Φ₀)."""
    X = phi.double() - phi.double().mean(0)
    return float(torch.linalg.matrix_norm(X.T @ X))


def features_and_outputs(model, x, cfg, cache: dict | None = None, key: str = ""):
    """(Φ, f̂) on ``x``. For a head-only run Φ is frozen (features in eval mode, no gradient), so
    ``cache`` keeps Φ of the first call and later calls only apply the head: the same numbers,
    without a pass through the network."""
    if cache is None or not cfg.head_only or cfg.amp:
        return forward_all(model, x, amp=cfg.amp, channels_last=cfg.channels_last)
    if key not in cache:
        cache[key] = forward_all(model, x, amp=cfg.amp, channels_last=cfg.channels_last)[0]
    phi = cache[key]
    model.eval()
    with torch.no_grad():
        out = model.head(phi.to(next(model.head.parameters()).dtype)) * model.output_scale
    return phi, out.float()


def measure(model, data, cfg, phi0, theta0, phi0_norm: float | None = None,
            cache: dict | None = None) -> tuple[dict, dict]:
    """One checkpoint: a row of scalars and a dict of arrays (see module docstring). Loss and
    accuracy come from the measurement sets' forward passes, which the spectra need anyway:
    the training measurement set (the labels trained on) and the test measurement set (the whole
    test split when ``test_measure_size`` reaches its length). ``cache``: see
    :func:`features_and_outputs`."""
    t0 = time.perf_counter()
    C = data.num_classes
    regress = cfg.task == "regress"
    row, arrays = {}, {}
    kC = 2 if regress else C    # the collapsed state has C modes, or {1, f̂} for a scalar target

    tphi, tout = features_and_outputs(model, data.x_test[data.test_measure_idx], cfg, cache, "test")
    ty = data.y_test[data.test_measure_idx].to(tphi.device)
    row["test_loss"] = float(loss_fn(tout, ty, cfg, C))
    row["test_acc"] = float(correct(tout, ty, cfg, C)) / len(ty)

    idx = data.measure_idx
    phi, out = features_and_outputs(model, data.x_train[idx], cfg, cache, "train")
    y = data.y_train[idx].to(phi.device)
    row["train_loss"] = float(loss_fn(out, y, cfg, C))
    row["train_acc"] = float(correct(out, y, cfg, C)) / len(y)
    fstar = targets_for(y, cfg, C)
    specs, acc = _spectral(phi, fstar, out, kC, "train", row, arrays)
    _spectral(tphi, targets_for(ty, cfg, C), tout, kC, "test", row, arrays)

    norm_t = torch.linalg.matrix_norm(acc.gram(centre=True))        # reuse ‖ΦcᵀΦc‖_F from the accumulator
    row["s_init"] = linear_cka(phi, phi0.to(phi.device), norm_a=norm_t, norm_b=phi0_norm)
    theta = flat_params(model)
    row["theta_norm2"] = float(theta @ theta)
    row["theta_dist"] = float(torch.linalg.vector_norm(theta - theta0.to(theta.device)))
    if not regress:
        for k, v in all_nc(phi, y, model.head.weight, out).items():
            row[k] = v

    # eigenfunctions on the measurement set: class-conditional means and the most exciting inputs
    K = 10 if regress else 2 * C
    for c, s in specs.items():
        e = s.eigenfunctions(phi, K)
        k = e.shape[1]
        if regress:
            fc = out[:, 0].double() - out[:, 0].double().mean()
            ec = e - e.mean(0)
            corr = (ec * fc[:, None]).sum(0) / (ec.norm(dim=0) * fc.norm() + 1e-300)
            arrays[f"ef_output_corr_{c}"] = _pad(corr.cpu().numpy(), (K,))
        else:
            means = torch.zeros(C, k, dtype=torch.float64, device=e.device).index_add_(0, y, e)
            means /= torch.bincount(y, minlength=C)[:, None]
            arrays[f"ef_class_means_{c}"] = _pad(means.T.cpu().numpy(), (K, C))
        top = idx.to(e.device)[torch.topk(e, TOP_INPUTS, dim=0).indices.T]    # (k, TOP_INPUTS)
        arrays[f"top_inputs_{c}"] = _pad(top.cpu().numpy().astype(float), (K, TOP_INPUTS))
    row["measure_time"] = time.perf_counter() - t0
    return row, arrays


def _pad(a, shape):
    out = np.full(shape, np.nan)
    out[tuple(slice(0, s) for s in a.shape)] = a
    return out


def stack_arrays(per_checkpoint: list[dict]) -> dict:
    """Stack per-checkpoint arrays into (n_checkpoints, ...) arrays, NaN-padded to a common length."""
    out = {}
    for key in per_checkpoint[0]:
        items = [d[key] for d in per_checkpoint]
        shape = tuple(max(a.shape[i] for a in items) for i in range(items[0].ndim))
        out[key] = np.stack([_pad(a, shape) for a in items])
    return out
