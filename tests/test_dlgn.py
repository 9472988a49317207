"""DLGN: the recursion against the explicit path sum, the overlap kernel against the Gram matrix of
path indicators, soft gates against hard ones as β grows, and the effective hyperplanes."""
import pytest
import torch

from nfl_utils.dlgn import path_indicators, path_weights
from nfl_utils.models import build_model


@pytest.mark.parametrize("model", ["dlgn", "dlgn_sf"])
@pytest.mark.parametrize("m, L", [(3, 2), (4, 3), (2, 4)])
def test_recursion_equals_explicit_path_sum(model, m, L):
    torch.manual_seed(m * 10 + L)
    net = build_model(model, (5,), 3, width=m, depth=L).double()
    x = torch.randn(64, 5, dtype=torch.float64)
    y_rec = net.head(net.features(x, hard=True))
    P = path_indicators(net.features, x)                 # (n, m^L)
    y_path = P @ path_weights(net.features, net.head).T  # Σ_π g_π f_π(x)
    assert P.shape == (64, m ** L)
    assert torch.allclose(y_rec, y_path, atol=1e-10)


@pytest.mark.parametrize("model", ["dlgn", "dlgn_sf"])
def test_overlap_kernel_is_the_gram_matrix_of_path_indicators(model):
    torch.manual_seed(1)
    net = build_model(model, (4,), 2, width=3, depth=3).double()
    x, x2 = torch.randn(30, 4, dtype=torch.float64), torch.randn(20, 4, dtype=torch.float64)
    P, P2 = path_indicators(net.features, x), path_indicators(net.features, x2)
    assert torch.equal(net.features.overlap_kernel(x), P @ P.T)
    assert torch.equal(net.features.overlap_kernel(x, x2), P @ P2.T)
    assert torch.equal(torch.diagonal(net.features.overlap_kernel(x)), P.sum(1))   # path density


def test_soft_gates_approach_hard_gates_as_beta_grows():
    torch.manual_seed(2)
    x = torch.randn(500, 6, dtype=torch.float64)
    errs = []
    for beta in (1.0, 10.0, 100.0, 1e4):
        torch.manual_seed(3)
        net = build_model("dlgn", (6,), 2, width=8, depth=3, dlgn_beta=beta).double()
        with torch.no_grad():
            errs.append(float((net.features(x, hard=False) - net.features(x, hard=True)).abs().mean()))
    assert all(a > b for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 1e-2 * errs[0]


@pytest.mark.parametrize("model", ["dlgn", "dlgn_sf"])
def test_gates_fire_on_the_effective_half_spaces(model):
    torch.manual_seed(4)
    net = build_model(model, (3,), 2, width=5, depth=3).double()
    x = torch.randn(200, 3, dtype=torch.float64)
    for G, V in zip(net.features.gate_values(x, hard=True), net.features.hyperplanes()):
        assert torch.equal(G, (x @ V.T >= 0).double())
    net_x = build_model(model, (3,), 2, width=5, depth=3, value_input="x")
    assert net_x.features(torch.randn(4, 3)).shape == (4, 5)


def test_frozen_gates_and_gate_transfer(tmp_path, monkeypatch):
    from nfl_utils import store
    from nfl_utils.config import Config
    from nfl_utils.train import train
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path))
    base = dict(dataset="circle", model="dlgn", width=8, depth=3, optimizer="adam", lr=0.01, epochs=3,
                measure_size=200, test_measure_size=200, checkpoints=(0, 3))
    learned = train(Config(**base), progress=False)
    frozen = train(Config(**base, freeze_gates=True), progress=False)
    s0 = {k: v for k, v in frozen.model_state().items() if "gates" in k}
    torch.manual_seed(0)
    init = build_model("dlgn", (2,), 2, width=8, depth=3).state_dict()
    for k, v in s0.items():                               # random gates never moved
        assert torch.equal(v, init[k]), k
    moved = train(Config(**base, freeze_gates=True, init_gates_from=learned.hash), progress=False)
    for k, v in moved.model_state().items():
        if "gates" in k:
            assert torch.equal(v, learned.model_state()[k])
    with pytest.raises(ValueError, match="init_gates_from"):
        train(Config(**base, init_gates_from="0" * 16), progress=False)
    with pytest.raises(ValueError, match="dlgn models only"):
        Config(model="mlp", freeze_gates=True)
