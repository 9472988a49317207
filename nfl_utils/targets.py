"""The targets f* a loss trains toward and the spectral measures compare with, the loss itself and
the count of correct predictions (docs/measures.md, "Setting")."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import Config

def label_standardisation(num_classes: int) -> tuple[float, float]:
    """Mean and standard deviation of the label value c under a uniform class distribution on
    0..C−1."""
    return (num_classes - 1) / 2, math.sqrt((num_classes ** 2 - 1) / 12)


def regression_target(labels: torch.Tensor, num_classes: int, scale: float) -> torch.Tensor:
    """The digit value, standardised over a uniform class distribution, times ``scale``: (n, 1)."""
    mean, std = label_standardisation(num_classes)
    return (scale * (labels.double() - mean) / std)[:, None]


def targets_for(labels: torch.Tensor, cfg: Config, num_classes: int,
                scale: float | None = None) -> torch.Tensor:
    """f* used by the loss (MSE): α·one-hot (one-hot for cross-entropy), or the regression target.
    ``scale`` replaces α (:func:`spectral_targets` uses 1)."""
    if scale is None:
        scale = cfg.target_scale if cfg.task == "regress" or cfg.loss == "mse" else 1.0
    if cfg.task == "regress":
        return regression_target(labels, num_classes, scale)
    return F.one_hot(labels, num_classes).double() * scale


def spectral_targets(labels: torch.Tensor, cfg: Config, num_classes: int) -> torch.Tensor:
    """f* for the spectral measures: :func:`targets_for` at unit scale (one-hot, or the
    standardised digit). Quality ⟨e_k, f*⟩²/‖f*‖² does not change when f* is multiplied by a
    number, so α·one-hot, one-hot under cross-entropy and the unit target give the same quality;
    with one target for all of them, Φ's side of a measurement (which holds the target moments)
    is the same for every α and loss and can be shared (:mod:`nfl_utils.initial`)."""
    return targets_for(labels, cfg, num_classes, scale=1.0)


def loss_fn(out: torch.Tensor, labels: torch.Tensor, cfg: Config, num_classes: int) -> torch.Tensor:
    if cfg.loss == "ce":
        return F.cross_entropy(out.float(), labels)
    return F.mse_loss(out.float(), targets_for(labels, cfg, num_classes).float())


def correct(out: torch.Tensor, labels: torch.Tensor, cfg: Config, num_classes: int) -> torch.Tensor:
    if cfg.task == "regress":
        mean, std = label_standardisation(num_classes)
        pred = torch.round(out[:, 0].float() / cfg.target_scale * std + mean).clamp(
            0, num_classes - 1
        )
        return (pred.long() == labels).sum()
    return (out.argmax(1) == labels).sum()
