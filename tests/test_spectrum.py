"""The spectral core against closed forms and independent numpy oracles."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from nfl_utils.spectrum import (FewSamplesWarning, SpectralAccumulator, diagonalize,
                                effective_dimension, linear_cka, low_rank_measure,
                                low_rank_measure_explicit, one_hot)


def orthonormal_on_sample(rng, n, r):
    """E (n, r) with EᵀE/n = I."""
    q, _ = np.linalg.qr(rng.standard_normal((n, r)))
    return q * math.sqrt(n)


def known_phi(rng, n=400, p=30, rho=None):
    rho = np.sort(rng.uniform(0.1, 5.0, p))[::-1] if rho is None else np.asarray(rho)
    E = orthonormal_on_sample(rng, n, p)
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return E * np.sqrt(rho) @ V.T, rho, E, V


def sign_align(A, B):
    """Flip columns of A to match the signs of B."""
    return A * np.sign((A * B).sum(0))


def test_known_spectrum_and_eigenfunctions_are_recovered():
    rng = np.random.default_rng(0)
    phi, rho, E, V = known_phi(rng)
    s = diagonalize(phi)
    np.testing.assert_allclose(s.eigenvalues, rho, rtol=1e-12)
    ef = s.eigenfunctions(phi)
    np.testing.assert_allclose(sign_align(ef, E), E, atol=1e-9)
    np.testing.assert_allclose(np.abs((s.eigenvectors * V).sum(0)), 1.0, atol=1e-12)
    assert s.eigenvalues.dtype == np.float64
    # Σ_k ρ_k = mean ‖Φ(x)‖²
    assert s.eigenvalues.sum() == pytest.approx((phi ** 2).sum(1).mean(), rel=1e-12)


def test_eigenfunctions_orthonormal_and_nystrom_extends_out_of_sample():
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((10, 64))
    x = rng.standard_normal((500, 10))
    phi = np.maximum(x @ W1, 0)
    s = diagonalize(phi)
    ef = s.eigenfunctions(phi)
    np.testing.assert_allclose(ef.T @ ef / len(phi), np.eye(s.rank), atol=1e-8)
    # out of sample: the same map applied to new points, consistent with the projection formula
    x_new = rng.standard_normal((7, 10))
    phi_new = np.maximum(x_new @ W1, 0)
    np.testing.assert_allclose(s.eigenfunctions(phi_new), phi_new @ s.eigenvectors / np.sqrt(s.eigenvalues))


def test_outputs_in_span_utility_identity_and_full_sum():
    rng = np.random.default_rng(2)
    phi, *_ = known_phi(rng, n=300, p=20)
    W = rng.standard_normal((5, 20))
    f = phi @ W.T
    s = diagonalize(phi, outputs=f)
    # ⟨e_k, f̂⟩ = √ρ_k W v_k
    expected = (np.sqrt(s.eigenvalues)[:, None] * (W @ s.eigenvectors).T)
    np.testing.assert_allclose(s.coefficients("outputs"), expected, atol=1e-10)
    assert s.cumulative_utility[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(s.cumulative_utility) >= -1e-15)


def test_target_outside_span_has_the_exact_deficit():
    rng = np.random.default_rng(3)
    n, p = 500, 12
    phi = rng.standard_normal((n, p))
    a = rng.standard_normal((p, 3))
    inside = phi @ a
    r = rng.standard_normal((n, 3))
    r -= phi @ np.linalg.lstsq(phi, r, rcond=None)[0]       # orthogonal to every column of Φ
    r *= 0.7
    s = diagonalize(phi, targets=inside + r)
    expected = (inside ** 2).sum() / ((inside ** 2).sum() + (r ** 2).sum())
    assert s.cumulative_quality[-1] == pytest.approx(expected, rel=1e-10)
    assert s.cumulative_quality[-1] < 1


def test_streaming_equals_in_memory():
    rng = np.random.default_rng(4)
    n, p, C = 3000, 40, 10
    phi = np.abs(rng.standard_normal((n, p))) + 0.5 * rng.standard_normal(p)
    y = one_hot(rng.integers(0, C, n), C)
    f = phi @ rng.standard_normal((p, C)) + rng.standard_normal(C)
    acc = SpectralAccumulator()
    for i in range(0, n, 257):   # uneven batches
        acc.update(torch.from_numpy(phi[i:i + 257]), torch.from_numpy(y[i:i + 257]),
                   torch.from_numpy(f[i:i + 257]))
    for centre in (False, True):
        a, b = acc.diagonalize(centre), diagonalize(phi, y, f, centre=centre)
        np.testing.assert_allclose(a.eigenvalues.numpy(), b.eigenvalues, rtol=1e-10)
        np.testing.assert_allclose(a.cumulative_quality.numpy(), b.cumulative_quality, rtol=1e-10)
        np.testing.assert_allclose(a.cumulative_utility.numpy(), b.cumulative_utility, rtol=1e-10)
        assert a.effective_dimension == pytest.approx(b.effective_dimension, rel=1e-10)
        sa, sb = a.summary(), b.summary()
        for k in sb:
            assert sa[k] == pytest.approx(sb[k], rel=1e-10, nan_ok=True), k
    assert acc.low_rank_measure() == pytest.approx(low_rank_measure(phi, f), rel=1e-10)


def test_centred_equals_uncentred_of_centred_data_and_against_numpy_covariance():
    rng = np.random.default_rng(5)
    phi = rng.standard_normal((800, 15)) + 3.0
    s = diagonalize(phi, centre=True)
    cov = np.cov(phi.T, bias=True)
    np.testing.assert_allclose(s.eigenvalues, np.sort(np.linalg.eigvalsh(cov))[::-1], rtol=1e-10)
    s2 = diagonalize(phi - phi.mean(0))
    np.testing.assert_allclose(s.eigenvalues, s2.eigenvalues, rtol=1e-10)
    # the uncentred top mode is the (near) constant direction, far above the rest
    assert diagonalize(phi).eigenvalues[0] > 50 * s.eigenvalues[0]


def test_fast_dlr_equals_explicit_and_ignores_a1_a2():
    rng = np.random.default_rng(6)
    phi = np.maximum(rng.standard_normal((120, 25)) @ rng.standard_normal((25, 25)), 0)
    f = phi @ rng.standard_normal((25, 4)) + rng.standard_normal((120, 4))
    fast = low_rank_measure(phi, f)
    for a1, a2 in [(1, 1), (0.0, 3.0), (10.0, 0.01)]:
        assert low_rank_measure_explicit(phi, f, a1, a2) == pytest.approx(fast, abs=1e-10)
    assert 0 < fast < 1


def simplex_etf(C, p, rng):
    M = np.eye(C) - 1.0 / C
    U, _ = np.linalg.qr(rng.standard_normal((p, C)))
    return (M @ U.T) * math.sqrt(C / (C - 1))   # rows: C unit-norm means, pairwise cos = -1/(C-1)


def test_etf_collapse_gives_zero_dlr_nc1_nc2_random_means_do_not():
    from nfl_utils.collapse import nc1, nc2_equiangular, nc2_equinorm
    rng = np.random.default_rng(7)
    C, p, per = 5, 20, 40
    labels = np.repeat(np.arange(C), per)
    mu = simplex_etf(C, p, rng) * 2.0 + rng.standard_normal(p)   # any global mean
    phi = mu[labels]
    f = phi @ rng.standard_normal((p, C))                          # f̂ in span Φ
    assert low_rank_measure(phi, f) == pytest.approx(0.0, abs=1e-10)
    assert nc1(phi, labels) == pytest.approx(0.0, abs=1e-12)
    assert nc2_equinorm(phi, labels) == pytest.approx(0.0, abs=1e-10)
    assert nc2_equiangular(phi, labels) == pytest.approx(0.0, abs=1e-10)
    # centred spectrum: C-1 equal eigenvalues and nothing else (the kernel picture)
    s = diagonalize(phi, targets=one_hot(labels, C), centre=True)
    assert s.rank == C - 1
    np.testing.assert_allclose(s.eigenvalues, s.eigenvalues[0], rtol=1e-10)
    assert s.cumulative_quality[-1] == pytest.approx(1.0, abs=1e-10)
    # random (non-ETF) class means: collapsed (NC1 = 0) but not an ETF
    mu_r = rng.standard_normal((C, p)) * np.geomspace(4, 0.1, p)
    phi_r = mu_r[labels]
    f_r = phi_r @ rng.standard_normal((p, C))
    lam = diagonalize(phi_r, centre=True).eigenvalues               # C-1 unequal eigenvalues
    closed = 1 - lam.sum() / (np.linalg.norm(lam) * np.sqrt(C - 1))
    assert low_rank_measure(phi_r, f_r) == pytest.approx(closed, rel=1e-9)
    assert closed > 0.05
    assert nc2_equiangular(phi_r, labels) > 0.05
    assert nc2_equinorm(phi_r, labels) > 0.01


def test_invariant_to_rotation_of_columns():
    rng = np.random.default_rng(8)
    phi = np.maximum(rng.standard_normal((600, 30)), 0)
    y = one_hot(rng.integers(0, 4, 600), 4)
    f = phi @ rng.standard_normal((30, 4))
    R, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    for centre in (False, True):
        a, b = diagonalize(phi, y, f, centre), diagonalize(phi @ R, y, f @ np.eye(4), centre)
        np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-10)
        np.testing.assert_allclose(a.quality, b.quality, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(a.utility, b.utility, rtol=1e-8, atol=1e-14)
        ea, eb = a.eigenfunctions(phi), b.eigenfunctions(phi @ R)
        np.testing.assert_allclose(sign_align(ea, eb), eb, atol=1e-7)
    assert low_rank_measure(phi, f) == pytest.approx(low_rank_measure(phi @ R, f), abs=1e-12)
    assert linear_cka(phi, phi @ R) == pytest.approx(1.0, abs=1e-12)


def test_few_samples_uses_gram_route_and_warns():
    rng = np.random.default_rng(9)
    phi = rng.standard_normal((30, 80))
    f = rng.standard_normal((30, 3))
    with pytest.warns(FewSamplesWarning, match="only n modes"):
        s = diagonalize(phi, targets=f, outputs=f)
    sv = np.linalg.svd(phi, compute_uv=False)
    assert s.rank == 30
    np.testing.assert_allclose(s.eigenvalues, sv ** 2 / 30, rtol=1e-10)
    ef = s.eigenfunctions(phi)
    np.testing.assert_allclose(ef.T @ ef / 30, np.eye(30), atol=1e-8)
    # with n ≤ p any target is in the span: Π* reaches 1
    assert s.cumulative_quality[-1] == pytest.approx(1.0, abs=1e-8)
    with pytest.warns(FewSamplesWarning):
        s2 = SpectralAccumulator().update(phi, f, f).diagonalize()   # the p×p route agrees
    np.testing.assert_allclose(s2.eigenvalues, s.eigenvalues, rtol=1e-8)
    np.testing.assert_allclose(s2.cumulative_quality, s.cumulative_quality, rtol=1e-8)


def test_rank_deficient_phi_keeps_only_nonzero_modes():
    rng = np.random.default_rng(10)
    phi = rng.standard_normal((200, 3)) @ rng.standard_normal((3, 12))   # rank 3 in 12 columns
    s = diagonalize(phi)
    assert s.rank == 3
    ef = s.eigenfunctions(phi)
    np.testing.assert_allclose(ef.T @ ef / 200, np.eye(3), atol=1e-8)


def test_torch_in_torch_out_on_the_same_device_numpy_in_numpy_out():
    rng = np.random.default_rng(11)
    phi = rng.standard_normal((100, 8)).astype(np.float32)
    s_np = diagonalize(phi, targets=one_hot(np.arange(100) % 3, 3))
    s_t = diagonalize(torch.from_numpy(phi), targets=one_hot(torch.arange(100) % 3, 3))
    assert isinstance(s_np.eigenvalues, np.ndarray) and isinstance(s_t.eigenvalues, torch.Tensor)
    assert s_t.eigenvalues.dtype == torch.float64 and s_t.eigenvalues.device == torch.device("cpu")
    np.testing.assert_allclose(s_t.cumulative_quality.numpy(), s_np.cumulative_quality)
    if torch.cuda.is_available():
        s_c = diagonalize(torch.from_numpy(phi).cuda())
        assert s_c.eigenvalues.is_cuda


@pytest.mark.parametrize("bad, match", [
    (lambda p: p[:, 0], "2-D"),
    (lambda p: np.zeros((0, 4)), "empty"),
    (lambda p: np.where(np.arange(p.size).reshape(p.shape) == 7, np.nan, p), "NaN or inf"),
    (lambda p: np.where(np.arange(p.size).reshape(p.shape) == 3, np.inf, p), "NaN or inf"),
    (lambda p: np.zeros_like(p), "identically zero"),
])
def test_bad_phi_is_reported(bad, match):
    phi = np.random.default_rng(12).standard_normal((50, 4))
    with pytest.raises(ValueError, match=match):
        diagonalize(bad(phi))


def test_bad_targets_and_outputs_are_reported():
    rng = np.random.default_rng(13)
    phi = rng.standard_normal((50, 4))
    with pytest.raises(ValueError, match="49 rows but phi has 50"):
        diagonalize(phi, targets=np.ones((49, 2)))
    with pytest.raises(ValueError, match="outputs are constant"):
        low_rank_measure(phi, np.ones((50, 3)))
    with pytest.raises(ValueError, match="targets are identically zero after centring"):
        diagonalize(phi, targets=np.ones((50, 2)), centre=True)
    acc = SpectralAccumulator().update(phi, outputs=phi[:, :2])
    with pytest.raises(ValueError, match="same arrays"):
        acc.update(phi)
    with pytest.raises(ValueError, match="no samples"):
        SpectralAccumulator().diagonalize()


def test_single_column_target_is_documented_c_equals_one():
    """C = 1 (a scalar regression target, 1-D or (n,1)) is valid: the collapsed state is {1, f̂}."""
    rng = np.random.default_rng(14)
    f = rng.standard_normal(400)
    w = rng.standard_normal(6)
    phi = np.outer(f, w) + rng.standard_normal(6)          # Φ collapsed onto {1, f̂}
    s = diagonalize(phi, targets=f, outputs=f)
    assert s.rank == 2 and s.summary(2)["pi_C"] == pytest.approx(1.0, abs=1e-10)
    assert low_rank_measure(phi, f) == pytest.approx(0.0, abs=1e-10)
    sc = diagonalize(phi, outputs=f[:, None], centre=True)
    e = sc.eigenfunctions(phi)[:, 0]
    assert abs(np.corrcoef(e, f)[0, 1]) == pytest.approx(1.0, abs=1e-10)


def test_effective_dimension_closed_forms():
    assert effective_dimension(np.ones(7)) == pytest.approx(7.0)
    assert effective_dimension(np.array([1.0, 0, 0])) == pytest.approx(1.0)
    assert effective_dimension(np.array([1.0, 1.0, 1e-300])) == pytest.approx(2.0, rel=1e-9)


def test_linear_cka_matches_kernel_form_and_is_symmetric():
    from nfl_utils.spectrum import cka_kernels as _cka_kernels
    rng = np.random.default_rng(15)
    a, b = rng.standard_normal((60, 5)), rng.standard_normal((60, 9))
    k = _cka_kernels(torch.from_numpy(a @ a.T), torch.from_numpy(b @ b.T))
    assert linear_cka(a, b) == pytest.approx(k, rel=1e-10)
    assert linear_cka(a, b) == pytest.approx(linear_cka(b, a), rel=1e-12)
    assert linear_cka(a, 3 * a) == pytest.approx(1.0, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 60), p=st.integers(1, 40), C=st.integers(1, 6), seed=st.integers(0, 10**6),
       centre=st.booleans())
def test_properties_over_random_shapes(n, p, C, seed, centre):
    rng = np.random.default_rng(seed)
    phi = rng.standard_normal((n, p)) * rng.uniform(0.1, 10, p)
    y = rng.standard_normal((n, C))
    f = phi @ rng.standard_normal((p, C))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewSamplesWarning)
        s = diagonalize(phi, targets=y, outputs=f, centre=centre)
        acc = SpectralAccumulator()
        for i in range(0, n, 7):
            acc.update(phi[i:i + 7], y[i:i + 7], f[i:i + 7])
        s2 = acc.diagonalize(centre)
    assert s.rank <= min(n, p)
    assert np.all(np.diff(s.eigenvalues) <= 1e-12 * s.eigenvalues[0])
    X = phi - phi.mean(0) if centre else phi
    assert s.eigenvalues.sum() == pytest.approx((X ** 2).sum() / n, rel=1e-9)
    ef = s.eigenfunctions(phi)
    np.testing.assert_allclose(ef.T @ ef / n, np.eye(s.rank), atol=1e-6)
    cq = s.cumulative_quality
    assert np.all(np.diff(cq) >= -1e-12) and cq[-1] <= 1 + 1e-6   # tiny modes of ill-conditioned Φ
    assert s.cumulative_utility[-1] == pytest.approx(1.0, abs=1e-6)       # f̂ ∈ span Φ
    np.testing.assert_allclose(s2.eigenvalues[:s.rank], s.eigenvalues, rtol=1e-6, atol=1e-9 * s.eigenvalues[0])
    if np.linalg.norm(f - f.mean(0)) > 1e-8 * np.linalg.norm(f):
        d = low_rank_measure(phi, f)
        assert 0 <= d <= 1
        assert d == pytest.approx(low_rank_measure_explicit(phi, f), abs=1e-7)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_linear_outputs_equal_the_outputs_they_describe(offset):
    """f = Φ Wᵀ + b given as a head (moments derived from Φ's) or as an array: the same uncentred
    and centred spectra, utilities and D_LR, to float64 round-off; a new head reuses the
    eigendecomposition and still matches an accumulator fed the new outputs."""
    rng = np.random.default_rng(7)
    phi = np.maximum(rng.standard_normal((900, 40)) @ rng.standard_normal((40, 48)), 0) + offset
    y = one_hot(rng.integers(0, 6, 900), 6)
    heads = [(rng.standard_normal((6, 48)), rng.standard_normal(6)) for _ in range(2)]
    acc = SpectralAccumulator()
    for i in range(0, 900, 250):
        acc.update(phi[i:i + 250], y[i:i + 250])
    for W, b in heads:
        acc.linear_outputs(W, b)
        dense = SpectralAccumulator().update(phi, y, phi @ W.T + b)
        for centre in (False, True):
            a, d = acc.diagonalize(centre), dense.diagonalize(centre)
            # batching changes round-off: ~1e-16 of ρ_1 (4.8e7 with the offset) on every eigenvalue
            np.testing.assert_allclose(a.eigenvalues, d.eigenvalues, rtol=1e-11, atol=1e-13 * d.eigenvalues[0])
            np.testing.assert_allclose(a.cumulative_utility, d.cumulative_utility, atol=1e-9)
            np.testing.assert_allclose(a.cumulative_quality, d.cumulative_quality, atol=1e-12)
        assert acc.low_rank_measure() == pytest.approx(dense.low_rank_measure(), abs=1e-9)
    with pytest.raises(ValueError, match="one way only"):
        acc.update(phi[:5], y[:5], phi[:5] @ heads[0][0].T)
    with pytest.raises(ValueError, match=r"weight must be \(C, p\) with p = 48"):
        acc.linear_outputs(np.ones((6, 47)))
    with pytest.raises(ValueError, match="bias has 5 entries"):
        acc.linear_outputs(np.ones((6, 48)), np.ones(5))


def test_eigendecomposition_is_reused_until_the_next_batch():
    rng = np.random.default_rng(8)
    phi = rng.standard_normal((300, 20))
    acc = SpectralAccumulator().update(phi[:200])
    first = acc.diagonalize()
    assert acc.diagonalize()._rho is first._rho                   # memoised
    acc.update(phi[200:])                                        # new data: decomposed again
    np.testing.assert_allclose(acc.diagonalize().eigenvalues, diagonalize(phi).eigenvalues, rtol=1e-12)
    assert acc.diagonalize()._rho is not first._rho


def test_the_callers_data_is_never_changed_whatever_its_type():
    # reproduces the report: a DataFrame's first row was subtracted from every row of the caller's frame
    import pandas as pd

    rng = np.random.default_rng(0)
    phi, out = rng.standard_normal((50, 4)) + 3, rng.standard_normal((50, 3))
    calls = [lambda d: diagonalize(d), lambda d: diagonalize(d, centre=True),
             lambda d: low_rank_measure(d, out), lambda d: SpectralAccumulator().update(d)]
    for f in calls:
        for make in (lambda a: pd.DataFrame(a), lambda a: memoryview(a), lambda a: a, torch.from_numpy):
            given = make(phi.copy())
            before = np.array(given, copy=True)
            f(given)
            assert np.array_equal(np.asarray(given), before)
    ro = phi.copy()
    ro.flags.writeable = False
    assert diagonalize(ro).eigenvalues[0] == pytest.approx(diagonalize(phi).eigenvalues[0])


def test_integer_label_vectors_and_complex_inputs_are_refused_with_the_way_out():
    rng = np.random.default_rng(0)
    phi, y = rng.standard_normal((60, 5)), rng.integers(0, 3, 60)
    with pytest.raises(ValueError, match="one_hot"):
        diagonalize(phi, targets=y)                  # was taken silently as one regression column
    assert diagonalize(phi, targets=y.astype(float)).quality is not None     # floats: one column
    with pytest.raises(ValueError, match="complex"):
        diagonalize(phi.astype(complex))
