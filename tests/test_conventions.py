"""D_LR under v3's open conventions: ours is the package's D_LR; closed forms for the others."""
import math

import pytest
import torch

from nfl_utils.conventions import CONVENTIONS, _rank, dlr, dlr_variants
from nfl_utils.spectrum import low_rank_measure


def test_our_convention_is_the_packages_d_lr():
    g = torch.Generator().manual_seed(0)
    phi = torch.randn(300, 20, generator=g, dtype=torch.float64)
    out = phi @ torch.randn(20, 5, generator=g, dtype=torch.float64) + 0.3
    v = dlr_variants(phi, out)
    assert set(v) == set(CONVENTIONS)
    assert v["ours (logits, centred, rank cut 1e-8)"] == pytest.approx(low_rank_measure(phi, out), abs=1e-10)


def test_collapse_onto_a_simplex_gives_zero_under_every_centred_convention():
    C, n = 4, 400
    y = torch.arange(n) % C
    etf = torch.eye(C, dtype=torch.float64) - 1.0 / C            # simplex ETF class means
    Q = torch.linalg.qr(torch.randn(12, C, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))[0]
    phi = etf[y] @ Q.T                                            # the ETF, isometrically in R^12
    logits = 5 * etf[y]                                           # f̂ in the span of the means
    for name, value in dlr_variants(phi, logits).items():
        if name != "uncentred":
            assert value == pytest.approx(0.0, abs=1e-10), name


def test_the_rank_rule_decides_when_the_outputs_have_a_tail():
    # Φ spans one direction strongly; the outputs are that direction plus C − 1 tiny ones
    g = torch.Generator().manual_seed(2)
    n = 500
    u = torch.randn(n, 1, generator=g, dtype=torch.float64)
    phi = u @ torch.ones(1, 8, dtype=torch.float64)
    out = torch.cat([u, 1e-4 * torch.randn(n, 9, generator=g, dtype=torch.float64)], 1)
    s = torch.linalg.svd(out - out.mean(0)).S
    assert _rank(s, ("rtol", 1e-8)) == 10 and _rank(s, ("rtol", 1e-2)) == 1 and _rank(s, ("energy", 0.99)) == 1
    # rank 1: Ĥ is Φ's own direction, D_LR = 0; rank 10: CKA = 1/√10 at most
    assert dlr(phi, out, rule=("rtol", 1e-2)) == pytest.approx(0.0, abs=1e-8)
    assert dlr(phi, out) == pytest.approx(1 - 1 / math.sqrt(10), abs=1e-6)


def test_directions_from_stored_weights_reproduce_the_recorded_d_lr(tmp_path, monkeypatch):
    from nfl_utils import store
    from nfl_utils.config import Config
    from nfl_utils.conventions import directions
    from nfl_utils.train import train

    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    cfg = Config(dataset="modadd", model="mlp", modadd_p=13, width=32, depth=1, optimizer="adamw", lr=3e-3,
                 weight_decay=1.0, batch_size=4096, epochs=40, measure_size=4096, test_measure_size=4096,
                 checkpoints=(0, 20, 40), save_models=True)
    run = train(cfg, progress=False)
    d = directions([run], [1])
    a, b, _ = d["ours (logits, centred, rank cut 1e-8)"]
    assert a[0] == pytest.approx(run.metrics["train_dlr"][1], abs=1e-8)
    assert b[0] == pytest.approx(run.metrics["train_dlr"].iloc[-1], abs=1e-8)
    assert all(w in ("lower", "higher", "no clear difference") for *_, w in d.values())


def test_memorisation_is_the_first_checkpoint_at_90_percent_train_else_the_best():
    import pandas as pd

    from nfl_utils.conventions import memorisation_index

    class R:
        def __init__(self, acc):
            self.metrics = pd.DataFrame({"train_acc": acc})
    assert memorisation_index(R([0.1, 0.95, 0.99, 1.0])) == 1
    assert memorisation_index(R([0.1, 0.5, 0.3])) == 1
