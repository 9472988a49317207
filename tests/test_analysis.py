"""The regime criterion, the verdict rules and the results API, on synthetic data and real runs."""
import numpy as np
import pytest
import torch

from nfl_utils import analysis, profiles, store, verdicts
from nfl_utils.config import Config
from nfl_utils.spectrum import diagonalize, one_hot
from nfl_utils.train import train


def verdict_of(phi, y, C):
    s = diagonalize(phi, one_hot(y, C))
    S = s.summary(C)
    return analysis.regime(S["gap"], S["pistar_C"], S["pistar_all"]), S


def test_simplex_etf_features_with_small_noise_are_mf():
    C, n, p = 10, 2000, 64
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % C
    M = torch.eye(C) - 1.0 / C                                     # simplex ETF (centred one-hot)
    Q, _ = torch.linalg.qr(torch.randn(p, C, generator=g))
    means = (M @ Q.T) * 3.0 + 1.0                                  # plus a common offset (ReLU-like mean)
    phi = means[y] + 0.05 * torch.randn(n, p, generator=g)
    v, S = verdict_of(phi.double(), y, C)
    assert v == "MF" and S["gap"] > 100


def test_random_relu_features_are_ef():
    C, n, d, p = 10, 3000, 50, 256
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, d, generator=g)
    y = torch.randint(0, C, (n,), generator=g)
    phi = torch.relu(x @ torch.randn(d, p, generator=g) / d ** 0.5)
    v, S = verdict_of(phi.double(), y, C)
    assert v == "EF" and S["gap"] < 2


@pytest.mark.parametrize("gap, pc, pall, expected", [(10, 0.9, 1.0, "MF"), (9.99, 0.95, 1.0, "between"),
                                                      (50, 0.45, 0.5, "MF"), (50, 0.44, 0.5, "between"),
                                                      (1.99, 0.5, 1.0, "EF"), (2.0, 0.5, 1.0, "between"),
                                                      (1.5, 0.95, 1.0, "between")])
def test_regime_thresholds(gap, pc, pall, expected):
    assert analysis.regime(gap, pc, pall) == expected


def test_verdict_rules():
    assert verdicts.compare([0.1, 0.12, 0.11], [0.3, 0.31, 0.29]) == "lower"
    assert verdicts.compare([0.1, 0.3], [0.2, 0.25]) == "no clear difference"
    assert verdicts.direction_verdict("lower", "lower") == "agrees"
    assert verdicts.direction_verdict("higher", "lower") == "disagrees"
    assert verdicts.direction_verdict("no clear difference", "lower") == "partly"
    assert verdicts.monotone([1, 2, 3]) == "rises" and verdicts.monotone([3, 1, 2]) == "is not monotone"
    steps = [0, 100, 200, 2000, 4000]
    assert verdicts.grokked(steps, [0, 0.5, 0.95, 1, 1], [0, 0, 0, 0.5, 0.92]) == (True, 200, 4000)
    assert verdicts.grokked([0, 100, 200, 1000, 4000], [0, 0.5, 0.95, 1, 1], [0, 0, 0.1, 0.91, 0.92])[0] is False  # < 10×
    assert verdicts.grokked(steps, [0, 0.2, 0.4, 0.6, 0.8], [0, 0.1, 0.2, 0.3, 0.4])[0] is False


def test_head_only_run_keeps_its_initial_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path))
    run = train(Config(width=64, epochs=4, train_size=1000, measure_size=300, test_measure_size=300,
                       head_only=True, checkpoints=(0, 2, 4)), progress=False)
    first = analysis.regime_numbers(run, 0)
    for i in range(len(run)):
        assert analysis.regime_numbers(run, i) == {**first, "epoch": int(run.epochs[i])}


def test_every_smoke_run_loads_through_the_loader_with_trimmed_accessors(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path))
    table = profiles.table("smoke")
    groups = {k.split(": ", 1)[0] for k in table}
    some = {g: next(k for k in table if k.startswith(g + ": ")) for g in ("main", "regression", "grokking")}
    for label, cfg in table.items():
        if label.split(": ", 1)[0] in some:
            train(cfg, progress=False)
    for g in groups:                                    # not trained yet: a clear error naming the run
        if g not in some:
            with pytest.raises(FileNotFoundError, match="train the profile first"):
                profiles.load("smoke", g)
    for g, label in some.items():
        run = profiles.load("smoke", g)[label.split(": ", 1)[1]]
        assert run.cfg == table[label] and run.hash == table[label].hash
        assert run.meta["num_classes"] == run.num_classes and run.meta["code_version"]
        with pytest.raises(KeyError, match="test_spectra=True"):     # the profiles record no test-set spectra
            run.eigenvalues(0, "test")
        for i in range(len(run)):
            for split in ("train",):
                for centred in (False, True):
                    raw = run.arrays[f"{split}_{'c' if centred else 'u'}_eigenvalues"][i]
                    ev = run.eigenvalues(i, split, centred)
                    assert np.isfinite(ev).all() and np.array_equal(ev, raw[: len(ev)])
                    assert np.isnan(raw[len(ev):]).all()
                    assert len(run.cum_quality(i, split, centred)) == len(ev) == len(run.cum_utility(i, split, centred))
            if run.is_regression:
                assert np.isfinite(run.output_corr(i)).all()
            else:
                cm = run.class_means(i)
                assert cm.shape[1] == run.num_classes and np.isfinite(cm).all()
            assert all(len(t) and t.dtype.kind == "i" for t in run.top_inputs(i))
        m = run.model()
        assert sum(p.numel() for p in m.parameters()) > 0


def test_profiles_are_tables_and_smoke_is_full_shrunk():
    q, s = profiles.table("full"), profiles.table("smoke")
    assert list(q) == list(s)                       # same labels, same kinds of run
    groups = lambda t: {k.split(": ", 1)[0] for k in t}
    assert groups(profiles.table("quick")) <= groups(q)    # full covers every group quick has
    for k in q:
        assert q[k].head_only == s[k].head_only and q[k].loss == s[k].loss and q[k].task == s[k].task
        assert s[k].dataset not in profiles.IMAGE_SETS and s[k].epochs <= 3
    assert {c.dataset for c in q.values()} >= {"mnist", "fashion-mnist", "modadd"}
    frozen = s["dlgn image: DLGN, frozen learned gates"]
    assert frozen.init_gates_from == s["dlgn image: DLGN"].hash
    seeded = profiles.by_setting(profiles.group("quick", "batch norm"))
    assert {k: [c.seed for c in v] for k, v in seeded.items()} == {"no BN": [0, 1, 2], "BN": [0, 1, 2]}


def fake_run(rows, **cfg):
    """A Run built from a metrics table alone (no arrays), for the claims rules."""
    import pandas as pd
    from pathlib import Path

    from nfl_utils.run import Run
    return Run(Path("/nonexistent/" + "0" * 16), Config(**cfg), {"num_classes": 10}, pd.DataFrame(rows), {})


def test_claims_rules_on_synthetic_runs():
    from nfl_utils import claims

    def runs(dlrs, acc=0.9):
        return [fake_run([{"epoch": 0, "train_dlr": 0.6, "test_acc": 0.1}, {"epoch": 1, "train_dlr": d, "test_acc": acc}],
                         seed=i) for i, d in enumerate(dlrs)]
    g = {"BN": runs([0.10, 0.12, 0.11]), "no BN": runs([0.30, 0.31, 0.29])}
    assert claims.seeded_contrast("C12", g, "BN", "no BN", "lower", "s")["verdict"] == "agrees"
    g = {"BN": runs([0.40, 0.42, 0.41]), "no BN": runs([0.30, 0.31, 0.29])}
    assert claims.seeded_contrast("C12", g, "BN", "no BN", "lower", "s")["verdict"] == "disagrees"
    g = {"BN": runs([0.2, 0.4, 0.3]), "no BN": runs([0.30, 0.31, 0.29])}
    assert claims.seeded_contrast("C12", g, "BN", "no BN", "lower", "s")["verdict"] == "partly"
    # lr: best accuracy at the lowest D_LR, the best inside the grid
    lr = {"lr=0.01": runs([0.3, 0.31, 0.3], 0.90), "lr=0.1": runs([0.1, 0.11, 0.1], 0.95),
          "lr=1": runs([0.2, 0.21, 0.2], 0.92)}
    assert claims.lr_claim(lr, "s")["verdict"] == "agrees"
    lr["lr=0.01"] = runs([0.05, 0.06, 0.05], 0.90)          # lowest D_LR elsewhere, beyond the spread
    assert claims.lr_claim(lr, "s")["verdict"] == "disagrees"
    lr["lr=1"] = runs([0.2, 0.21, 0.2], 0.97)               # the best at the grid's edge: no optimum
    assert claims.lr_claim(lr, "s")["verdict"] == "not testable here"
    lr = {"lr=0.01": runs([0.3, 0.31, 0.3], 0.90), "lr=0.1": runs([0.1, 0.11, 0.1], 0.95)}
    assert claims.lr_claim(lr, "s")["verdict"] == "not testable here"     # two points: always an edge

    def noisy(dlrs, accs):     # seeds whose test accuracies differ
        return [fake_run([{"epoch": 0, "train_dlr": 0.6, "test_acc": 0.1},
                          {"epoch": 1, "train_dlr": d, "test_acc": a}], seed=i)
                for i, (d, a) in enumerate(zip(dlrs, accs))]
    # the best two accuracies within the seed spread: which is "best" is noise, so neither
    # verdict may be claimed, whichever of the two has the lowest D_LR
    tie = {"lr=0.01": noisy([0.3] * 3, [0.90] * 3), "lr=0.1": noisy([0.2] * 3, [0.955, 0.96, 0.95]),
           "lr=0.3": noisy([0.1] * 3, [0.95, 0.96, 0.958]), "lr=1": noisy([0.15] * 3, [0.92] * 3)}
    assert claims.lr_claim(tie, "s")["verdict"] == "partly"
    tie["lr=0.3"] = noisy([0.1] * 3, [0.955, 0.965, 0.962])               # now 0.3 is the argmax
    assert claims.lr_claim(tie, "s")["verdict"] == "partly"
    tie["lr=1"] = noisy([0.15] * 3, [0.95, 0.96, 0.96])                     # the edge ties the best
    assert claims.lr_claim(tie, "s")["verdict"] == "not testable here"
    tie = {"lr=0.01": noisy([0.3] * 3, [0.90] * 3), "lr=0.1": noisy([0.2] * 3, [0.95, 0.96, 0.955]),
           "lr=0.3": noisy([0.1] * 3, [0.93, 0.925, 0.93]), "lr=1": noisy([0.15] * 3, [0.92] * 3)}
    assert claims.lr_claim(tie, "s")["verdict"] == "disagrees"      # lowest D_LR clearly worse
    # grokking: D_LR rises after memorisation → disagrees; never groks → not testable
    steps = [0, 100, 200, 2000, 4000]
    rows = lambda dl, te: [{"epoch": s, "step": s, "train_acc": a, "test_acc": t, "train_dlr": d, "train_u_gap": 1.0,
                            "nc1": 1.0} for s, a, t, d in zip(steps, [0, 0.5, 0.95, 1, 1], te, dl)]
    groks = [0, 0, 0, 0.5, 0.95]           # train ≥ 90% at step 200, test ≥ 90% at step 4000 (20×)
    g = lambda dl, te=groks, **kw: fake_run(rows(dl, te), dataset="modadd", model="mlp", **kw)
    assert claims.grokking_claim(g([0.5, 0.4, 0.3, 0.2, 0.1]))["verdict"] == "agrees"
    assert claims.grokking_claim(g([0.1, 0.2, 0.3, 0.4, 0.5]))["verdict"] == "disagrees"
    early = [0, 0, 0, 0.95, 0.97]         # test ≥ 90% at step 2000 (10×), before the end
    assert claims.grokking_claim(g([0.1, 0.2, 0.3, 0.1, 0.4], early))["verdict"] == "partly"  # parts differ
    assert claims.grokking_claim(g([0.1] * 5, [0, 0.3, 0.95, 0.96, 0.97]))["verdict"] == "not testable here"
    # over seeds: a fall inside the seed spread is no direction; one seed that fails to grok → not testable
    seeds = [g([0.5, 0.4, 0.30, 0.2, 0.25]), g([0.5, 0.4, 0.10, 0.2, 0.05])]
    assert claims.grokking_claim(seeds)["verdict"] == "partly"
    seeds = [g([0.5, 0.4, 0.30, 0.2, 0.1]), g([0.5, 0.4, 0.3, 0.2, 0.1], [0, 0.3, 0.95, 0.96, 0.97])]
    row = claims.grokking_claim(seeds)
    assert row["verdict"] == "not testable here" and "1 of 2" in row["reason"]
    tf = fake_run(rows([0.5, 0.4, 0.3, 0.2, 0.1], groks), dataset="modadd", model="transformer", width=128)
    assert "transformer 2×d128" in claims.grokking_claim(tf, "transformer")["setting"]
    # shuffled labels: a net that did not memorise cannot test the claim
    sh = {"clean": runs([0.1, 0.1, 0.1], 0.9), "shuffled": [fake_run([{"train_dlr": 0.1, "test_acc": 0.1, "train_acc": 0.5}])]}
    for r in sh["clean"]:
        r.metrics["train_acc"] = 1.0
    assert claims.shuffle_claim(sh, 10, "s")["verdict"] == "not testable here"


def test_c1_tests_early_in_full_data_epochs_and_persistence():
    from nfl_utils import claims

    def run(gaps, n=60_000, label=""):
        rows = [{"epoch": e, "step": e, "train_u_gap": g, "train_u_pistar_C": 0.95, "train_u_pistar_all": 1.0}
                for e, g in zip([0, 1, 2, 5, 10], gaps)]
        return fake_run(rows, dataset="mnist", train_size=n, epochs=10)

    v = lambda **runs: claims.early_mf_claim(runs, "s")
    assert v(a=run([1, 1, 20, 20, 20]))["verdict"] == "agrees"            # MF at epoch 2, kept
    late = v(a=run([1, 1, 1, 1, 20]))                                      # only the last checkpoint
    assert late["verdict"] == "partly" and "fails for every run: early, persists" in late["reason"]
    lost = v(a=run([1, 20, 1, 1, 1]))                                      # early, then lost
    assert lost["verdict"] == "partly" and "persists" in lost["reason"] and "not kept" in lost["measured"]
    assert v(a=run([1, 1, 1, 1, 1]))["verdict"] == "disagrees"
    # epochs of a 10,000-image subset count as 1/6 of a full-data epoch: MF at subset epoch 10 is early
    sub = v(a=run([1, 1, 1, 20, 20], n=10_000))
    assert sub["verdict"] == "agrees" and "0.83 full-data" in sub["measured"]
    assert v(a=run([1, 1, 1, 20, 20], n=60_000))["verdict"] == "agrees"     # full-data epoch 5: the bound
    assert v(a=run([1, 1, 1, 20, 20], n=120_000))["verdict"] == "partly"    # 10 full-data epochs: late


def test_c5_c7_c8_rules_by_parts_on_synthetic_runs(monkeypatch):
    from nfl_utils import analysis as A
    from nfl_utils import claims, verdicts as V

    def run(d_eff, gap, dlr0=0.6, dlr=0.2, seed=0, **m):
        rows = [{"epoch": 0, "train_c_d_eff": 90.0, "train_u_gap": 1.0, "train_dlr": dlr0, **m},
                {"epoch": 1, "train_c_d_eff": d_eff, "train_u_gap": gap, "train_dlr": dlr, **m}]
        return fake_run(rows, seed=seed)
    C5 = lambda full, v: claims.concentration_claim(full, v, 10, "s")["verdict"]
    assert C5({"a": run(9.5, 50), "b": run(30, 1.5)}, {"a": "MF", "b": "EF"}) == "agrees"
    assert C5({"a": run(9.5, 50), "b": run(9.2, 1.5)}, {"a": "MF", "b": "EF"}) == "partly"   # not apart
    assert C5({"a": run(20, 50)}, {"a": "MF"}) == "partly"                                   # far from C−1
    assert C5({"a": run(20, 5), "b": run(9, 1.5)}, {"a": "MF", "b": "EF"}) == "disagrees"
    assert C5({"b": run(9, 1.5)}, {"b": "EF"}) == "not testable here"
    # C7: the shuffled net must also have moved toward rich from its own initialisation
    def memo(dlr0, dlr, acc, seed):
        r = run(9, 1, dlr0, dlr, seed)
        r.metrics["train_acc"], r.metrics["test_acc"] = 1.0, acc
        return r
    clean = [memo(0.6, 0.2, 0.9, s) for s in range(3)]
    sh = lambda dlr0: [memo(dlr0, 0.1 + 0.01 * s, 0.1, s) for s in range(3)]
    assert claims.shuffle_claim({"clean": clean, "shuffled": sh(0.6)}, 10, "s")["verdict"] == "agrees"
    lazy = claims.shuffle_claim({"clean": clean, "shuffled": sh(0.1)}, 10, "s")       # never moved
    assert lazy["verdict"] == "partly" and "initialisation" in lazy["reason"]
    # C8: co-movement across checkpoints is a part of its own
    ks = {0: {"NC1": 2.0, "NC2 equiangular": 0.6, "D_LR": 0.6, "Π*(C)": 0.5, "ρC−1/ρ1 centred": 0.3,
              "centred tail share": 0.5},
          -1: {"NC1": 0.01, "NC2 equiangular": 0.1, "D_LR": 0.05, "Π*(C)": 0.99, "ρC−1/ρ1 centred": 0.9,
               "centred tail share": 0.01}}
    monkeypatch.setattr(A, "kernel_statement", lambda r, i=-1: ks[i])
    def nc_run(nc1, nc2, dlr):
        return fake_run([{"epoch": e, "nc1": a, "nc2_equiangular": b, "train_dlr": c}
                         for e, (a, b, c) in enumerate(zip(nc1, nc2, dlr))])
    down = [2.0, 1.0, 0.5, 0.1, 0.01]
    assert claims.collapse_claim(nc_run(down, [0.6, 0.4, 0.3, 0.2, 0.1], [0.6, 0.4, 0.3, 0.1, 0.05]),
                                 "s")["verdict"] == "agrees"
    apart = claims.collapse_claim(nc_run(down, [0.6, 0.4, 0.3, 0.2, 0.1], [0.6, 0.7, 0.8, 0.9, 0.05]), "s")
    assert apart["verdict"] == "partly" and "together" in apart["reason"]
    assert V.rank_corr([1, 2, 3], [3, 2, 1]) == pytest.approx(-1) and np.isnan(V.rank_corr([1, 1], [1, 2]))


def test_a_grokking_direction_that_flips_with_d_lrs_convention_reads_partly(monkeypatch):
    from nfl_utils import claims, conventions

    steps = [0, 100, 200, 2000, 4000]
    rows = [{"epoch": s, "step": s, "train_acc": a, "test_acc": t, "train_dlr": d, "train_u_gap": 1.0, "nc1": 1.0}
            for s, a, t, d in zip(steps, [0, 0.5, 0.95, 1, 1], [0, 0, 0, 0.5, 0.95], [0.1, 0.2, 0.3, 0.4, 0.5])]
    run = fake_run(rows, dataset="modadd", model="mlp")
    monkeypatch.setattr(conventions, "keeps_weights", lambda runs: True)
    same = {"ours": ([0.3], [0.5], "higher"), "rank cut 1e-2": ([0.3], [0.6], "higher")}
    monkeypatch.setattr(conventions, "directions", lambda runs, at: same)
    assert claims.grokking_claim(run)["verdict"] == "disagrees"
    flips = {"ours": ([0.3], [0.5], "higher"), "rank cut 1e-2": ([0.3], [0.1], "lower")}
    monkeypatch.setattr(conventions, "directions", lambda runs, at: flips)
    row = claims.grokking_claim(run)
    assert row["verdict"] == "partly" and "rank cut 1e-2 lower" in row["reason"]


def test_a_regression_runs_measures_use_c_2_not_its_ten_digits():
    reg, cls = fake_run([{"epoch": 0}], task="regress", loss="mse"), fake_run([{"epoch": 0}])
    assert (reg.num_classes, reg.measured_C) == (10, 2) and cls.measured_C == 10


def test_path_words_say_what_the_numbers_do():
    w = analysis.path_words([0, 1, 5, 20], [0.59, 0.05, 0.10, 0.14])
    assert w == "falls from 0.590 at epoch 0 to its lowest, 0.050 at epoch 1, then rises to 0.140 at epoch 20"
    assert analysis.path_words([0, 1, 2], [0.5, 0.4, 0.3]) == "falls from 0.500 at epoch 0 to 0.300 at epoch 2"
    assert analysis.path_words([0, 1, 2], [0.1, 0.4, 0.3]).startswith("rises from 0.100 at epoch 0 to its highest")
