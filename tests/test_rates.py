"""C4, coefficient learning: under MSE with Φ frozen, gradient descent on the head fits mode k at a
rate set by ρ_k. An oracle (exact GD on a linear head), the rule on both sides of its thresholds,
and a head-only run whose residuals are copied (C4 must not read "agrees" from it)."""
import numpy as np
import pytest
import torch

from nfl_utils import claims, verdicts as V
from nfl_utils.measure import mode_residual
from nfl_utils.spectrum import SpectralAccumulator, one_hot
from test_analysis import fake_run


def _phi(n=400, p=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    scales = torch.logspace(0, -1.5, p, dtype=torch.float64)          # a spread of eigenvalues
    return torch.randn(n, p, generator=g, dtype=torch.float64) * scales, g


def _gd_residuals(phi, Y, alpha, eta, steps, W):
    """Full-batch GD on ½‖ΦWᵀ − αY‖²/n; the squared residual per mode at each of ``steps``."""
    acc = SpectralAccumulator().update(phi, Y)
    out, t = [], 0
    for s in steps:
        for _ in range(s - t):
            W = W - eta / len(phi) * (phi @ W.T - alpha * Y).T @ phi
        t = s
        out.append(mode_residual(acc.linear_outputs(W).diagonalize(), alpha))
    return np.stack(out), acc.diagonalize().eigenvalues.numpy()


def test_the_residual_of_mode_k_shrinks_by_one_minus_eta_rho_k_per_step():
    phi, g = _phi()
    Y = one_hot(torch.randint(0, 5, (len(phi),), generator=g), 5)
    W0 = torch.randn(5, phi.shape[1], generator=g, dtype=torch.float64)
    steps, eta = [0, 3, 10, 40], 0.5
    R, rho = _gd_residuals(phi, Y, 2.0, eta, steps, W0)
    for i, t in enumerate(steps):       # the closed form, mode by mode
        np.testing.assert_allclose(R[i], R[0] * (1 - eta * rho) ** (2 * t), rtol=1e-8, atol=1e-12)


def test_the_rule_reads_agrees_on_gradient_descent_and_the_rate_it_finds_is_eta_rho():
    phi, g = _phi(p=40)
    Y = one_hot(torch.randint(0, 5, (len(phi),), generator=g), 5)
    W0 = torch.randn(5, phi.shape[1], generator=g, dtype=torch.float64)
    steps = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
    R, rho = _gd_residuals(phi, Y, 1.0, 0.05, steps, W0)
    x = V.mode_rates(steps, rho, R)
    assert x["verdict"] == V.AGREES and x["n"] >= V.RATE_MIN_MODES
    assert x["slope"] == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(x["rate"], -np.log(1 - 0.05 * x["rho"]), rtol=1e-8)


def _synthetic(rate_of_rho, T=12):
    rho = np.logspace(0, -3, 30)
    t = np.r_[0, np.logspace(-1, 3, T - 1)]
    return t, rho, np.exp(-2 * np.outer(t, rate_of_rho(rho)))


@pytest.mark.parametrize("law, verdict", [
    (lambda r: r, V.AGREES),                                  # ∝ ρ
    (lambda r: r ** 2, V.PARTLY),                             # ordered by ρ, but not ∝ ρ
    (lambda r: np.full_like(r, 0.5), V.DISAGREES),           # every mode at one rate
    (lambda r: 1 / r, V.DISAGREES),                           # the small modes first
    (lambda r: 0 * r, V.UNTESTABLE),                          # nothing fitted: copied residuals
])
def test_the_rate_rule_on_both_sides_of_its_thresholds(law, verdict):
    assert V.mode_rates(*_synthetic(law))["verdict"] == verdict


def _head_only(R, rho, epochs):
    rows = [{"epoch": e, "step": e} for e in epochs]
    run = fake_run(rows, head_only=True, loss="mse")
    T = len(epochs)
    U = np.tile(np.linspace(0.1, 0.9, len(rho)), (T, 1)) * np.linspace(0, 1, T)[:, None]
    run.arrays.update(train_u_eigenvalues=np.tile(rho, (T, 1)), train_u_residual=R, train_u_cum_utility=U,
                      train_u_cum_quality=np.tile(np.linspace(0.5, 1, len(rho)), (T, 1)))
    return run


def test_c4_does_not_read_agrees_from_a_head_only_run_whose_numbers_are_copied():
    t, rho, R = _synthetic(lambda r: r)
    assert claims.rate_claim({"MLP, MSE, head-only": _head_only(R, rho, t)})["verdict"] == V.AGREES
    copied = np.tile(R[0], (len(t), 1))                      # Φ-side numbers and residuals copied
    row = claims.rate_claim({"MLP, MSE, head-only": _head_only(copied, rho, t)})
    assert row["verdict"] == V.UNTESTABLE and "0 timed modes" in row["measured"]
    mixed = {"a": _head_only(R, rho, t), "b": _head_only(_synthetic(lambda r: 0 * r + 0.5)[2], rho, t)}
    row = claims.rate_claim(mixed)
    assert row["verdict"] == V.PARTLY and row["reason"].startswith("fails: b")
    ce = _head_only(R, rho, t)
    ce.cfg = ce.cfg.replace(loss="ce")                        # a cross-entropy head has no MSE rate
    assert claims.rate_claim({"CE": ce})["verdict"] == V.UNTESTABLE


def test_a_trained_head_only_run_keeps_phis_side_and_records_a_falling_residual(tmp_path, monkeypatch):
    from nfl_utils import store
    from nfl_utils.config import Config
    from nfl_utils.train import train

    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path))
    run = train(Config(width=64, epochs=4, train_size=1000, measure_size=300, test_measure_size=300,
                       head_only=True, loss="mse", checkpoints=(0, 1, 2, 4)), progress=False)
    for k in ("train_u_eigenvalues", "train_u_cum_quality"):          # the invariance: Φ is frozen
        a = run.arrays[k]
        np.testing.assert_array_equal(np.nan_to_num(a - a[0]), 0)
    R = run.arrays["train_u_residual"][:, :len(run.eigenvalues(0))]   # (T, r)
    assert np.isfinite(R).all() and R.sum(1)[-1] < R.sum(1)[0]
    model, data = run.model(), run.data()
    x, y = data.measurement_sets[:2]
    with torch.no_grad():
        phi = model.features(x).double()
        out = (model.head(phi.float()) * model.output_scale).double()
    r = out - run.cfg.target_scale * one_hot(y, run.num_classes)          # (n, C) residual
    U, s, _ = torch.linalg.svd(phi, full_matrices=False)
    Q = U[:, s > 1e-8 * s[0]]                                              # basis of Φ's span
    in_span = float((Q.T @ r).square().sum()) / len(r)                     # ‖P_Φ r‖² / n
    assert R[-1].sum() == pytest.approx(in_span, rel=1e-5)    # Σ_k ⟨e_k, r⟩²: the residual in Φ's span
