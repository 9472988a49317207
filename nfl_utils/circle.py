"""Two numbers for the DLGN on the circle (x = (cos θ, sin θ), no bias), so that D6 and D7 are
measured, not only drawn.

* Where the path regions end: every gate ⟨v, x⟩ ≥ 0 of every layer cuts the circle at θ = ∠v ± π/2,
  so path regions are arcs between those angles. :func:`break_distance` is the mean, over the
  target's discontinuities, of the angular distance to the nearest such boundary: small when the
  regions' edges sit on the target's jumps (each region then holds a smooth, here constant, piece).
  For m hyperplanes in random directions its expectation is (π/2)/(m + 1).
* What the function has learned: :func:`low_frequency_share` is the share of the power of the
  centred output f̂(θ) (logit of class 1 minus class 0 on a fine θ grid) in the Fourier frequencies
  1..K (K = 4: the target's eight jumps make it a period-4-like square wave).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .data import CIRCLE_BREAKS

K_LOW = 4          # "low frequency": Fourier modes 1..4 of f̂(θ)
GRID = 1440        # θ grid for f̂(θ): a quarter degree


def boundaries(hyperplanes: np.ndarray) -> np.ndarray:
    """The angles in [0, 2π) where the gates of all layers switch (two per hyperplane)."""
    V = np.concatenate([np.asarray(h, dtype=float) for h in hyperplanes])       # (m, 2)
    phi = np.arctan2(V[:, 1], V[:, 0])
    return np.mod(np.concatenate([phi + math.pi / 2, phi - math.pi / 2]), 2 * math.pi)


def _circ_dist(a, b) -> np.ndarray:
    d = np.abs(np.mod(np.asarray(a)[:, None] - np.asarray(b)[None, :], 2 * math.pi))
    return np.minimum(d, 2 * math.pi - d)


def break_distance(hyperplanes: np.ndarray, breaks: tuple[float, ...] = CIRCLE_BREAKS) -> float:
    """Mean over the target's jumps of the angular distance (radians) to the nearest boundary."""
    return float(_circ_dist(breaks, boundaries(hyperplanes)).min(1).mean())


def random_break_distance(m: int) -> float:
    """Its expectation for m hyperplanes through the origin in uniformly random directions: each
    cuts at an antipodal pair, whose nearer point is uniform on [0, π/2] away; the min of m."""
    return (math.pi / 2) / (m + 1)


@torch.no_grad()
def low_frequency_share(model: torch.nn.Module, k: int = K_LOW, n: int = GRID) -> float:
    """Share of the power of the centred f̂(θ) in Fourier frequencies 1..k."""
    theta = torch.linspace(0, 2 * math.pi, n + 1, dtype=torch.float64)[:-1]
    x = torch.stack([theta.cos(), theta.sin()], 1).float()
    out = model(x).double()
    f = out[:, 1] - out[:, 0] if out.shape[1] > 1 else out[:, 0]
    power = np.abs(np.fft.rfft((f - f.mean()).numpy())) ** 2
    total = power[1:].sum()
    return float(power[1:k + 1].sum() / total) if total > 0 else float("nan")
