"""The circle numbers behind D6 and D7: closed forms."""
import math

import numpy as np
import pytest
import torch

from nfl_utils.circle import (boundaries, break_distance, low_frequency_share, random_break_distance)


def test_boundaries_are_where_each_gate_switches():
    b = np.sort(boundaries([np.array([[1.0, 0.0]])]))          # v along x: the gate switches at ±π/2
    np.testing.assert_allclose(b, [math.pi / 2, 3 * math.pi / 2])
    # a hyperplane through a target jump puts a boundary on it: distance 0 there
    jumps = (0.3, 2.0)
    v = np.array([[math.cos(0.3 - math.pi / 2), math.sin(0.3 - math.pi / 2)],
                  [math.cos(2.0 + math.pi / 2), math.sin(2.0 + math.pi / 2)]])
    assert break_distance([v], jumps) == pytest.approx(0.0, abs=1e-12)


def test_the_random_expectation_is_what_random_hyperplanes_give():
    rng = np.random.default_rng(0)
    m = 6
    d = [break_distance([rng.standard_normal((m, 2))], (1.0,)) for _ in range(20_000)]
    assert np.mean(d) == pytest.approx(random_break_distance(m), rel=0.02)


def test_low_frequency_share_of_pure_tones():
    class Tone(torch.nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, x):
            th = torch.atan2(x[:, 1], x[:, 0]).double()
            return torch.stack([torch.zeros_like(th), torch.cos(self.k * th) + 5], 1)
    assert low_frequency_share(Tone(2)) == pytest.approx(1.0, abs=1e-9)
    assert low_frequency_share(Tone(9)) == pytest.approx(0.0, abs=1e-9)
