"""C14's four parts, and a D_LR direction that flips with D_LR's convention (C6, C10, C13), on
synthetic runs on both sides of each rule."""
import pytest

from nfl_utils import claims, conventions, verdicts as V
from test_analysis import fake_run


def group(dlr, s_init, theta, nc1=1.0, spread=0.002):
    """Three seeds of one setting whose final values are the given ones (± ``spread``)."""
    return [fake_run([{"epoch": 0, "train_dlr": 0.6, "s_init": 1.0, "theta_norm2": 50.0, "nc1": 2.0, "test_acc": 0.1},
                      {"epoch": 1, "train_dlr": dlr + d, "s_init": s_init + d, "theta_norm2": theta + d,
                       "nc1": nc1 + d, "test_acc": 0.9}], seed=i)
            for i, d in enumerate((-spread, 0.0, spread))]


def c14(wd, ts):
    return claims.robustness_claim(wd, ts)


# the claim as v3 states it: weight decay lowers S_init and ‖θ‖ but not D_LR; along α, D_LR rises,
# S_init and ‖θ‖ wander, NC1 falls
WD = {"wd=0": group(0.20, 0.8, 40), "wd=5e-4": group(0.20, 0.6, 30), "wd=5e-3": group(0.21, 0.4, 20)}
TS = {"α=1": group(0.10, 0.5, 30, 3.0), "α=0.3": group(0.20, 0.7, 25, 2.0), "α=0.1": group(0.30, 0.6, 32, 1.0)}


def test_c14_agrees_only_when_all_four_parts_hold():
    assert c14(WD, TS)["verdict"] == V.AGREES
    # (a) fails: D_LR falls with weight decay beyond the spread (as the full profile measured)
    wd = {**WD, "wd=5e-3": group(0.13, 0.4, 20)}
    row = c14(wd, TS)
    assert row["verdict"] == V.PARTLY and "(a)" in row["reason"] and "(b)" not in row["reason"]
    # (c) fails: ‖θ‖² falls monotonically along α
    ts = {k: group(g[0].final("train_dlr"), g[0].final("s_init"), th, g[0].final("nc1"))
          for (k, g), th in zip(TS.items(), (30, 25, 20))}
    assert "(c)" in c14(WD, ts)["reason"]
    # (d) fails: NC1 moves the same way as D_LR
    ts = {k: group(g[0].final("train_dlr"), g[0].final("s_init"), g[0].final("theta_norm2"), nc)
          for (k, g), nc in zip(TS.items(), (1.0, 2.0, 3.0))}
    assert "(d)" in c14(WD, ts)["reason"]
    # (b) fails: D_LR inside the seed spread from α = 1 to α = 0.1
    ts = {k: group(d, g[0].final("s_init"), g[0].final("theta_norm2"), g[0].final("nc1"))
          for (k, g), d in zip(TS.items(), (0.200, 0.201, 0.202))}
    row = c14(WD, ts)
    assert "(b)" in row["reason"] and "(d)" in row["reason"]      # no direction: nothing to oppose
    # every part fails
    bad_wd = {**WD, "wd=5e-3": group(0.13, 0.9, 45)}
    flat = {k: group(0.200 + 0.001 * i, 0.5 + 0.1 * i, 30 - 5 * i) for i, k in enumerate(TS)}
    assert c14(bad_wd, flat)["verdict"] == V.DISAGREES


def test_c14_needs_its_d_lr_parts_under_every_convention(monkeypatch):
    monkeypatch.setattr(conventions, "has_weights", lambda runs: True)
    names = list(conventions.CONVENTIONS)

    def values(runs, checkpoint=None):      # the D_LR of a group under every convention
        return {n: [runs[0].final("train_dlr")] * len(runs) for n in names}
    monkeypatch.setattr(conventions, "values", values)
    monkeypatch.setattr(conventions, "contrast", lambda a, b: {n: "higher" for n in names})
    assert c14(WD, TS)["verdict"] == V.AGREES
    monkeypatch.setattr(conventions, "contrast", lambda a, b: {**{n: "higher" for n in names}, names[1]: "lower"})
    row = c14(WD, TS)
    assert row["verdict"] == V.PARTLY and "every D_LR convention" in row["reason"]


def test_a_contrast_whose_direction_flips_with_the_convention_reads_partly(monkeypatch):
    g = {"full": group(0.10, 0.5, 30), "full, head-only": group(0.40, 0.9, 30)}
    names = list(conventions.CONVENTIONS)
    assert claims.seeded_contrast("C10", g, "full", "full, head-only", "lower", "s")["verdict"] == V.AGREES
    monkeypatch.setattr(conventions, "has_weights", lambda runs: True)
    monkeypatch.setattr(conventions, "contrast", lambda a, b: {n: "lower" for n in names})
    row = claims.seeded_contrast("C10", g, "full", "full, head-only", "lower", "s")
    assert row["verdict"] == V.AGREES and "same under every" in row["reason"]
    monkeypatch.setattr(conventions, "contrast", lambda a, b: {**{n: "lower" for n in names},
                                                               "softmax probabilities": "higher"})
    row = claims.seeded_contrast("C10", g, "full", "full, head-only", "lower", "s")
    assert row["verdict"] == V.PARTLY and "softmax probabilities higher" in row["reason"]
    # C13: a change in one convention only is no finding either
    sizes = {"n=1000": group(0.2, 0.5, 30), "n=5000": group(0.1, 0.5, 30)}
    assert claims.size_claim(sizes)["verdict"] == V.PARTLY


def test_the_lowest_d_lr_learning_rate_must_not_move_with_the_convention(monkeypatch):
    lr = {"lr=0.01": group(0.30, 0.5, 30), "lr=0.1": group(0.10, 0.5, 30), "lr=1": group(0.20, 0.5, 30)}
    for r in lr["lr=0.1"]:
        r.metrics.loc[1, "test_acc"] = 0.95
    assert claims.lr_claim(lr, "s")["verdict"] == V.AGREES
    names = list(conventions.CONVENTIONS)
    monkeypatch.setattr(conventions, "has_weights", lambda runs: True)
    vals = lambda runs, checkpoint=None: {n: [runs[0].final("train_dlr")] for n in names}
    monkeypatch.setattr(conventions, "values", vals)
    assert claims.lr_claim(lr, "s")["verdict"] == V.AGREES
    moved = lambda runs, checkpoint=None: {**vals(runs), names[-1]: [1 - runs[0].final("train_dlr")]}
    monkeypatch.setattr(conventions, "values", moved)
    row = claims.lr_claim(lr, "s")
    assert row["verdict"] == V.PARTLY and names[-1] in row["reason"]


@pytest.mark.parametrize("full, head, verdict, failing", [
    ((0.97, 0.99, 0.05), (0.10, 0.8), V.AGREES, None),
    ((0.75, 0.96, 0.14), (0.09, 0.8), V.PARTLY, "Π(2) ≥ 0.95"),             # the full profile's numbers
    ((0.97, 0.50, 0.05), (0.10, 0.8), V.PARTLY, "e1 ∝ f̂"),
    ((0.97, 0.99, 0.05), (0.97, 0.04), V.PARTLY, "D_LR below head-only"),
    ((0.10, 0.10, 0.90), (0.97, 0.04), V.DISAGREES, None),
])
def test_c9_by_parts(monkeypatch, full, head, verdict, failing):
    from nfl_utils import analysis as A

    stats = {"full": dict(zip(("Π(2)", "|corr(e1, f̂)|", "D_LR"), full)),
             "head": {"Π(2)": head[0], "D_LR": head[1]}}
    monkeypatch.setattr(A, "regression_statement", lambda r: stats["head" if r.cfg.head_only else "full"])
    f, h = fake_run([{"epoch": 0}], task="regress", loss="mse"), fake_run([{"epoch": 0}], head_only=True)
    row = claims.regression_claim(f, h)
    assert row["verdict"] == verdict and (failing is None or failing in row["reason"])
    assert "C = 2" in row["setting"]


def test_d8_needs_the_ratio_to_fall_below_init_beyond_the_seed_spread(monkeypatch):
    from nfl_utils import claims_dlgn, dlgn

    class Net:                        # a model whose layers have the given stable ranks
        def __init__(self, ranks):
            self.features = type("F", (), {"hyperplanes": lambda _: ranks})()

    class Run:
        def __init__(self, init, trained):
            self.cfg, self._init, self._trained = type("C", (), {"dataset": "fashion-mnist"})(), init, trained

        def model(self, at_init=False):
            return Net(self._init if at_init else self._trained)

    monkeypatch.setattr(dlgn, "stable_rank", lambda v: v)
    init = [60.0, 30.0, 20.0]                                            # ratio 0.333
    seeds = lambda *tr: [Run([x + i * 0.1 for x in init], t) for i, t in enumerate(tr)]
    assert claims_dlgn.clustering_claim(seeds([8, 4, 2], [8, 4, 2.2], [8, 4.1, 2.1]))["verdict"] == V.AGREES
    assert claims_dlgn.clustering_claim(seeds([8, 4, 2], [8, 9, 2.2], [8, 4.1, 2.1]))["verdict"] == V.PARTLY
    row = claims_dlgn.clustering_claim(seeds([8, 4, 2], [8, 4, 4.0], [8, 4, 3.5]))       # 0.25–0.5: spread
    assert row["verdict"] == V.PARTLY and "no clear difference" in row["reason"]
    assert claims_dlgn.clustering_claim(seeds([8, 4, 4], [8, 4, 4.1], [8, 4, 3.9]))["verdict"] == V.DISAGREES
