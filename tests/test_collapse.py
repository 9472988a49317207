"""Neural-collapse metrics against a direct numpy transcription of Papyan et al.'s formulas."""
import numpy as np
import pytest
import torch

from nfl_utils.collapse import all_nc, nc1, nc2_equiangular, nc2_equinorm, nc3, nc4


def oracle(phi, labels, W, out):
    C = labels.max() + 1
    mu = np.stack([phi[labels == c].mean(0) for c in range(C)])
    mg = phi.mean(0)
    dev = phi - mu[labels]
    Sw = dev.T @ dev / len(phi)
    Sb = (mu - mg).T @ (mu - mg) / C
    o = {"nc1": np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10)) / C}
    norms = np.linalg.norm(mu - mg, axis=1)
    o["nc2_equinorm"] = norms.std() / norms.mean()
    Mt = (mu - mg) / norms[:, None]
    G = Mt @ Mt.T
    o["nc2_equiangular"] = np.linalg.norm(G / np.linalg.norm(G) - (np.eye(C) - 1 / C) / np.sqrt(C - 1))
    M = (mu - mg).T
    o["nc3"] = np.linalg.norm(W.T / np.linalg.norm(W) - M / np.linalg.norm(M))
    ncc = np.argmin(((phi[:, None, :] - mu[None]) ** 2).sum(-1), 1)
    o["nc4"] = np.mean(out.argmax(1) != ncc)
    return o


def test_against_numpy_oracle():
    rng = np.random.default_rng(0)
    C, p, n = 4, 12, 300
    labels = rng.integers(0, C, n)
    phi = rng.standard_normal((C, p))[labels] * 2 + rng.standard_normal((n, p))
    W = rng.standard_normal((C, p))
    out = phi @ W.T
    got, want = all_nc(phi, labels, W, out), oracle(phi, labels, W, out)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-9, abs=1e-12), k
    assert 0 < got["nc4"] < 1


def test_self_dual_head_and_ncc_agreement_at_collapse():
    rng = np.random.default_rng(1)
    C, p = 3, 6
    labels = np.repeat(np.arange(C), 10)
    mu = rng.standard_normal((C, p))
    phi = mu[labels]
    W = mu - phi.mean(0)                         # W ∝ Mᵀ
    assert nc3(phi, labels, W) == pytest.approx(0, abs=1e-12)
    assert nc4(phi, labels, phi @ W.T) == 0.0    # W·μ_c is largest for c: nearest mean agrees


def test_bad_labels():
    phi = np.random.default_rng(2).standard_normal((10, 3))
    with pytest.raises(ValueError, match="at least 2 classes"):
        nc1(phi, np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="each present"):
        nc1(phi, np.array([0, 2] * 5))
    with pytest.raises(ValueError, match="integer"):
        nc2_equinorm(phi, np.zeros(10))
    with pytest.raises(ValueError, match="one entry per row"):
        nc2_equiangular(phi, np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match=r"weight must be \(C, p\)"):
        nc3(phi, np.arange(10) % 2, np.ones((3, 3)))


@pytest.mark.parametrize("offset", [1e5, 1e7, 1e9])
def test_nc1_is_unchanged_by_a_common_offset_of_the_features(offset):
    # reproduces the report: before the fix NC1 was ~1e14 at an offset of 1e7 (a spurious C-th
    # singular value of Σ_B from uncentred class means); NC1 is translation invariant
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (2000,), generator=g)
    phi = torch.randn(10, 64, generator=g, dtype=torch.float64)[y] + 0.5 * torch.randn(2000, 64, generator=g,
                                                                                     dtype=torch.float64)
    shift = offset * torch.randn(64, generator=g, dtype=torch.float64)
    assert nc1(phi + offset, y) == pytest.approx(nc1(phi, y), rel=1e-6)
    assert nc1(phi + shift, y) == pytest.approx(nc1(phi, y), rel=1e-6)
