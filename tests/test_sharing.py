"""What a measurement skips or shares, and that doing so changes no number: test-set spectra
only when asked for, Φ's side of an initial network shared in the process (a head-only control
after its full run, runs that differ only in α or the loss), the head-only run's pass over the training inputs timed as training, and
channels_last convnets on the CPU."""
import time

import numpy as np
import pytest
import torch

from nfl_utils import initial, store
from nfl_utils.config import Config
from nfl_utils.train import setup, train, train_epoch

SMALL = dict(dataset="mnist1d", model="mlp", width=64, epochs=4, train_size=1500, measure_size=400,
             test_measure_size=400, batch_size=100, lr=0.05, checkpoints=(0, 2, 4))
TEST_SPECTRAL = ("test_u_eigenvalues", "test_c_eigenvalues", "test_u_cum_quality", "test_u_cum_utility")


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    initial.clear()
    yield tmp_path / "runs"
    initial.clear()


def same_record(a, b, skip=("train_time", "measure_time")):
    cols = [c for c in a.metrics if c not in skip]
    assert cols == [c for c in b.metrics if c not in skip]
    np.testing.assert_array_equal(a.metrics[cols].to_numpy(), b.metrics[cols].to_numpy())
    assert set(a.arrays) == set(b.arrays)
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)


def test_test_spectra_are_an_addition_that_changes_nothing_else(runs):
    plain = train(Config(**SMALL), progress=False)
    full = train(Config(**SMALL, test_spectra=True), progress=False)
    assert not any(k.startswith(("test_u_", "test_c_")) for k in plain.arrays)
    assert not any(c.startswith(("test_u_", "test_c_", "test_dlr")) for c in plain.metrics)
    assert all(k in full.arrays for k in TEST_SPECTRAL) and "test_dlr" in full.metrics
    extra = [c for c in full.metrics if c not in plain.metrics]
    assert extra and all(c.startswith(("test_u_", "test_c_", "test_dlr")) for c in extra)
    for c in plain.metrics:                                    # training and every other measure: bitwise
        if c not in ("train_time", "measure_time"):
            np.testing.assert_array_equal(plain.metrics[c], full.metrics[c], err_msg=c)
    for k in plain.arrays:
        np.testing.assert_array_equal(plain.arrays[k], full.arrays[k], err_msg=k)
    assert full.eigenvalues(-1, "test").size > 0
    with pytest.raises(KeyError, match="test_spectra=True"):
        plain.eigenvalues(-1, "test")
    with pytest.raises(ValueError, match="split must be"):
        plain.cum_quality(-1, "valid")


def test_fingerprint_names_the_feature_map_and_the_measurement_sets():
    cfg = Config(**SMALL)
    a, b = setup(cfg), setup(cfg.replace(head_only=True, lr=0.2))
    key = initial.fingerprint(a.model, a.data, a.cfg)
    assert initial.fingerprint(b.model, b.data, b.cfg) == key          # same Φ₀, same data: shared
    c = setup(cfg.replace(seed=1))
    assert initial.fingerprint(c.model, c.data, c.cfg) != key          # another initialisation
    d = setup(cfg.replace(data_seed=1))
    assert initial.fingerprint(d.model, d.data, d.cfg) != key          # other measurement sets
    for other in (dict(loss="ce"), dict(target_scale=0.3)):          # quality does not see f*'s scale
        assert initial.fingerprint(a.model, a.data, a.cfg.replace(**other)) == key
    assert initial.fingerprint(a.model, a.data, a.cfg.replace(task="regress", loss="mse")) != key
    b.model.head.weight.data.add_(1.0)                                 # the head is not Φ
    assert initial.fingerprint(b.model, b.data, b.cfg) == key
    with torch.no_grad():
        next(a.model.features.parameters())[0, 0] += 1e-6              # one weight of Φ moved
    assert initial.fingerprint(a.model, a.data, a.cfg) != key


@pytest.mark.parametrize("other", [dict(head_only=True), dict(loss="mse"), dict(loss="mse", target_scale=0.5, lr=0.1)],
                         ids=["head-only control", "MSE after cross-entropy", "MSE with alpha=0.5"])
def test_a_run_after_one_with_the_same_initial_phi_reuses_its_epoch_0_and_gets_the_same_numbers(
        runs, tmp_path, monkeypatch, other):
    """A head-only control, a run with other target scale α and a run with the other loss start
    from the full run's Φ₀ on the same data: their epoch 0's Φ side is the full run's, bitwise
    equal to measuring it alone (quality uses f* at unit scale, which α and the loss do not change)."""
    import nfl_utils.measure as me

    passes, real = [], me.forward_all
    monkeypatch.setattr(me, "forward_all", lambda model, x, **kw: passes.append(len(x)) or real(model, x, **kw))
    cfg = Config(**SMALL)
    full = train(cfg, progress=False)
    passes.clear()
    shared = train(cfg.replace(**other), progress=False)               # Φ's side from the full run's epoch 0
    later = [SMALL["test_measure_size"], SMALL["measure_size"]] * (len(SMALL["checkpoints"]) - 1)
    assert passes == ([] if other.get("head_only") else later)         # none for Φ₀ or epoch 0 (a control: none)
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "alone"))
    initial.clear()
    passes.clear()
    alone = train(cfg.replace(**other), progress=False)                # measured from scratch
    assert passes[:2] == [SMALL["measure_size"], SMALL["test_measure_size"]]   # Φ₀ (setup), then the test set
    same_record(shared, alone)
    # epoch 0 has the full run's Φ₀: its Φ side equals the full run's epoch 0
    k = -1 if other.get("head_only") else 0
    np.testing.assert_array_equal(shared.eigenvalues(k), full.eigenvalues(0))
    np.testing.assert_array_equal(shared.cum_quality(k, centred=True), full.cum_quality(0, centred=True))
    np.testing.assert_array_equal(shared.class_means(k), full.class_means(0))
    for a, b in zip(shared.top_inputs(k, centred=True), full.top_inputs(0, centred=True), strict=True):
        np.testing.assert_array_equal(a, b)
    for c in ("train_u_gap", "train_c_d_eff", "nc1", "nc2_equiangular", "s_init"):
        assert shared.metrics[c].iloc[k] == full.metrics[c].iloc[0], c
    assert shared.metrics["train_acc"].iloc[0] == full.metrics["train_acc"].iloc[0]
    assert (shared.metrics["train_loss"].iloc[0] == full.metrics["train_loss"].iloc[0]) == ("loss" not in other)


def test_phi_0_is_accumulated_once_per_initial_network_and_resumes_to_the_same_reference(runs, monkeypatch):
    """Φ₀'s moments (its norm for S_init, the epoch-0 spectra) come from one accumulation, shared
    with a run from the same initial network; a resumed run rebuilds the same reference bitwise."""
    from nfl_utils.measure import reference
    from nfl_utils.spectrum import SpectralAccumulator

    rows, real = [], SpectralAccumulator.update
    monkeypatch.setattr(SpectralAccumulator, "update", lambda self, phi, *a, **k: rows.append(len(phi)) or
                        real(self, phi, *a, **k))
    cfg = Config(**SMALL)
    train(cfg, progress=False)
    assert rows == [SMALL["measure_size"]] * len(SMALL["checkpoints"])       # Φ₀ once, then one per checkpoint
    rows.clear()
    s = setup(cfg.replace(loss="mse"))                                   # same Φ₀: its reference is shared
    assert rows == []
    again = reference(s.phi0, s.data.measurement_sets[1], s.cfg, s.data.num_classes)
    assert again.norm == s.ref.norm
    assert torch.equal(again.centred, s.ref.centred) and again.centred.dtype == torch.float64
    assert again.centred.sum(0).abs().max() < 1e-9 * again.centred.abs().max()


def test_head_only_training_time_includes_its_pass_over_the_training_inputs(runs, monkeypatch):
    """The head trains on Φ computed once for every training input: that pass is timed as
    training (a slowed-down pass shows in train_seconds, not in measure_seconds)."""
    import importlib; tr = importlib.import_module('nfl_utils.train')

    cfg = Config(**SMALL, head_only=True)
    n_train = setup(cfg).data.n_train
    real = tr.forward_all

    def slow(model, x, **kw):
        if len(x) == n_train:
            time.sleep(2.0)          # far above a measurement's time here, even on a loaded machine
        return real(model, x, **kw)

    monkeypatch.setattr(tr, "forward_all", slow)
    run = train(cfg, progress=False)
    assert run.meta["train_seconds"] >= 2.0
    assert run.meta["measure_seconds"] < 2.0


def test_the_pass_that_computes_phi_0_is_timed_as_measurement(runs, monkeypatch):
    """Φ₀ (setup's pass over the training measurement set) exists only for the measures: a
    slowed-down pass shows in measure_seconds (booked with epoch 0), not in train_seconds."""
    import nfl_utils.measure as me

    real, calls = me.forward_all, []

    def slow(model, x, **kw):
        calls.append(len(x))
        if len(calls) == 1:
            time.sleep(2.0)          # far above a measurement's time here, even on a loaded machine
        return real(model, x, **kw)

    monkeypatch.setattr(me, "forward_all", slow)
    run = train(Config(**SMALL), progress=False)
    assert calls[0] == SMALL["measure_size"]
    assert run.metrics["measure_time"].iloc[0] >= 2.0 and run.meta["measure_seconds"] >= 2.0
    assert run.meta["train_seconds"] < 2.0        # the 2 s pass booked here would exceed it


def test_channels_last_convnet_on_the_cpu_trains_like_the_default_layout():
    """channels_last (now on the CPU too) is a memory layout: the same Φ and, after an epoch of
    training from the same initialisation, the same weights up to float32 round-off."""
    from nfl_utils.build import make_optimizer, make_schedule
    from nfl_utils.measure import forward_all
    from nfl_utils.models import build_model

    cfg = Config(dataset="fashion-mnist", model="cnn", width=32, channels=8, batch_size=50, lr=0.05, device="cpu")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(300, 1, 28, 28, generator=g), torch.randint(0, 10, (300,), generator=g)
    nets = []
    for layout in (torch.contiguous_format, torch.channels_last):
        torch.manual_seed(0)
        nets.append(build_model("cnn", (1, 28, 28), 10, width=32, channels=8).to(memory_format=layout))
    assert nets[1].features[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    phi = [forward_all(m, x, channels_last=cl)[0] for m, cl in zip(nets, (False, True))]
    torch.testing.assert_close(phi[1], phi[0], rtol=1e-5, atol=1e-6)
    for m, c in zip(nets, (cfg, cfg.replace(channels_last=True))):
        opt = make_optimizer(c, m.parameters())
        train_epoch(m, opt, make_schedule(c, opt, 6), x, y, c, torch.Generator().manual_seed(1), 10)
    torch.manual_seed(0)
    init = build_model("cnn", (1, 28, 28), 10, width=32, channels=8)
    moved = max(float((p - q).abs().max()) for p, q in zip(nets[0].parameters(), init.parameters()))
    assert moved > 1e-3                                                # the epoch did train
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)
