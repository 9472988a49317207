"""Models, the trainer and the run store."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from nfl_utils import store
from nfl_utils.config import Config
from nfl_utils.measure import loss_fn, targets_for
from nfl_utils.models import MODELS, build_model
from nfl_utils.train import augment, train

SMALL = dict(dataset="mnist1d", model="mlp", width=64, epochs=6, train_size=2000, measure_size=400,
             test_measure_size=400, batch_size=100, lr=0.05, checkpoints=(0, 2, 4, 6))


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    return tmp_path / "runs"


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("name, shape, p", [("mlp", (40,), 256), ("cnn", (40,), 256), ("cnn", (1, 28, 28), 256),
                                            ("vgg16", (3, 32, 32), 512), ("vgg16_bn", (3, 32, 32), 512),
                                            ("resnet18", (3, 32, 32), 512)])
def test_models_split_into_features_and_head(name, shape, p):
    torch.manual_seed(0)
    net = build_model(name, shape, 10).eval()
    x = torch.randn(3, *shape)
    phi = net.features(x)
    assert phi.shape == (3, p) and net.head.in_features == p and net.head.out_features == 10
    assert torch.allclose(net(x), net.head(phi))
    assert (phi >= 0).all()                # penultimate *post*-activations (ReLU)


def test_resnet18_has_the_cifar_stem():
    net = build_model("resnet18", (3, 32, 32), 10)
    conv1 = net.features[0]
    assert conv1.kernel_size == (3, 3) and conv1.stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in net.modules())
    bn = [m for m in build_model("vgg16_bn", (3, 32, 32), 10).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bn) == 13 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in build_model("vgg16", (3, 32, 32), 10).modules())


def test_unknown_model_lists_valid_names_and_scales_apply():
    with pytest.raises(ValueError, match=", ".join(MODELS)):
        build_model("gpt", (40,), 10)
    torch.manual_seed(0)
    a = build_model("mlp", (40,), 10)
    torch.manual_seed(0)
    b = build_model("mlp", (40,), 10, init_scale=3.0, output_scale=0.5)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(3 * pa, pb)
    x = torch.randn(4, 40)
    assert torch.allclose(b(x), 0.5 * b.head(b.features(x)))


def test_augment_is_a_shifted_or_flipped_crop():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out = augment(x, torch.Generator().manual_seed(0), pad=2)
    xp = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        cands = [xp[i, :, a:a + 8, b:b + 8] for a in range(5) for b in range(5)]
        cands += [c.flip(-1) for c in cands]
        assert any(torch.equal(out[i], c) for c in cands)


def test_target_scaling_reaches_the_loss():
    cfg = Config(loss="mse", target_scale=3.0)
    out = torch.randn(5, 10)
    y = torch.tensor([0, 3, 9, 2, 2])
    expected = ((out - 3.0 * torch.nn.functional.one_hot(y, 10)) ** 2).mean()
    assert float(loss_fn(out, y, cfg, 10)) == pytest.approx(float(expected), rel=1e-6)
    assert float(targets_for(y, cfg, 10).sum()) == pytest.approx(15.0)
    r = targets_for(torch.arange(10), Config(task="regress", loss="mse", target_scale=2.0), 10)
    assert r.shape == (10, 1) and float(r.mean()) == pytest.approx(0) and float(r.std(unbiased=False)) == pytest.approx(2.0)


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("field, value, match", [
    ("lr", -0.1, "lr=-0.1"), ("loss", "hinge", "loss='hinge'"), ("epochs", 0, "epochs=0"),
    ("dataset", "imagenet", "dataset='imagenet'"), ("model", "gpt", "model='gpt'"),
    ("shuffle_fraction", 1.5, "shuffle_fraction=1.5"), ("checkpoints", (0, 99), "checkpoints"),
    ("weight_decay", -1.0, "weight_decay"),
])
def test_invalid_config_names_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        Config(**{field: value})


def test_train_size_larger_than_data_fails_before_training(runs):
    with pytest.raises(ValueError, match="train_size=100000"):
        train(Config(train_size=100000, epochs=1), progress=False)
    assert not runs.exists() or not [p for p in runs.iterdir() if p.name != ".locks"]      # no run, no progress


def test_config_hash_is_stable_and_sensitive():
    a, b = Config(), Config()
    assert a.hash == b.hash and len(a.hash) == 16
    assert a.replace(lr=0.01).hash != a.hash
    assert Config.from_dict(a.to_dict()) == a
    assert Config().checkpoint_epochs == (0, 1, 2, 4, 8, 16, 30)


# ----------------------------------------------------------------------------- training
def test_head_only_freezes_the_spectrum_while_utility_moves(runs):
    run = train(Config(**SMALL, head_only=True, test_spectra=True), progress=False)
    A = run.arrays
    for key in ("train_u_eigenvalues", "train_c_eigenvalues", "train_u_cum_quality", "train_c_cum_quality",
                "ef_class_means_u", "ef_class_means_c", "test_u_eigenvalues", "test_u_cum_quality"):
        for k in range(1, len(A[key])):
            np.testing.assert_array_equal(A[key][k], A[key][0], err_msg=key)
    assert np.nanmax(np.abs(A["train_u_cum_utility"][-1] - A["train_u_cum_utility"][0])) > 1e-3
    assert run.metrics["s_init"].eq(1.0).all() or np.allclose(run.metrics["s_init"], 1.0, atol=1e-12)
    assert run.metrics["train_acc"].iloc[-1] > run.metrics["train_acc"].iloc[0] + 0.1

    full = train(Config(**SMALL), progress=False)
    B = full.arrays
    assert np.nanmax(np.abs(B["train_u_eigenvalues"][-1] - B["train_u_eigenvalues"][0])) > 1e-3
    assert np.nanmax(np.abs(B["train_u_cum_quality"][-1] - B["train_u_cum_quality"][0])) > 1e-3
    assert full.metrics["s_init"].iloc[0] == pytest.approx(1.0) and full.metrics["s_init"].iloc[-1] < 0.99


def test_every_measure_is_recorded_and_finite(runs):
    run = train(Config(**SMALL, test_spectra=True), progress=False)
    m = run.metrics
    assert list(m["epoch"]) == [0, 2, 4, 6]
    for col in ["train_loss", "test_acc", "train_u_pi_C", "train_u_pistar_C", "train_c_d_eff", "train_u_gap",
                "test_u_pistar_C", "train_dlr", "test_dlr", "s_init", "theta_norm2", "theta_dist", "nc1",
                "nc2_equinorm", "nc2_equiangular", "nc3", "nc4", "train_time", "measure_time"]:
        assert np.isfinite(m[col]).all(), col
    check_complete_record(run)
    assert m["theta_dist"].iloc[0] == 0 and m["theta_dist"].iloc[-1] > 0
    assert ((m["train_dlr"] >= 0) & (m["train_dlr"] <= 1)).all()
    assert run.arrays["train_u_eigenvalues"].shape[0] == 4
    # Π on the training measurement set reaches 1 (f̂ = WΦ + b: the bias is the only part outside
    # span Φ, tiny for ReLU features that contain the constant direction), Π* on test stays below
    assert np.nanmax(run.arrays["train_u_cum_utility"][-1]) > 0.99
    assert np.nanmax(run.arrays["test_u_cum_quality"][-1]) < 1


def test_same_seed_gives_identical_metrics_and_rerun_is_served_from_the_store(runs, tmp_path, monkeypatch):
    cfg = Config(**SMALL)
    a = train(cfg, progress=False)
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "other"))
    b = train(cfg, progress=False)
    cols = [c for c in a.metrics if not c.endswith("_time")]
    assert a.metrics[cols].equals(b.metrics[cols])
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k])
    import importlib; T = importlib.import_module('nfl_utils.train')
    monkeypatch.setattr(T, "setup", lambda *a, **k: pytest.fail("a finished run must not be retrained"))
    c = train(cfg, progress=False)
    assert c.path == b.path and c.cfg == cfg


def test_killed_run_leaves_nothing_half_written_and_resumes_to_the_same_result(runs, tmp_path, monkeypatch):
    cfg = Config(**{**SMALL, "epochs": 8, "checkpoints": (0, 2, 4, 6, 8)})
    env = {**os.environ, store.RUNS_ENV: str(runs)}
    # the test hooks in from outside: the process SIGKILLs itself right after training epoch 5
    code = ("import os, signal\n"
            "import importlib; T = importlib.import_module('nfl_utils.train')\n"
            "from nfl_utils.config import Config\n"
            "epoch = T.train_epoch\n"
            "count = [0]\n"
            "def killing_epoch(*a, **k):\n"
            "    bad = epoch(*a, **k)\n"
            "    count[0] += 1\n"
            "    if count[0] == 5:\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "    return bad\n"
            "T.train_epoch = killing_epoch\n"
            f"T.train(Config(**{cfg.to_dict()!r}), progress=False)\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr              # SIGKILLed mid-run
    assert not (runs / cfg.hash).exists()                   # no half-written run
    state = store.load_partial(cfg.hash)
    assert state is not None and state["epoch"] == 4 and [r["epoch"] for r in state["rows"]] == [0, 2, 4]
    resumed = train(cfg, progress=False)
    assert list(resumed.metrics["epoch"]) == [0, 2, 4, 6, 8]
    assert not store.partial_path(cfg.hash).exists()
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "reference"))
    ref = train(cfg, progress=False)
    cols = [c for c in ref.metrics if not c.endswith("_time")]
    assert resumed.metrics[cols].equals(ref.metrics[cols])


def test_cli_prints_run_directory_and_table(runs):
    out = subprocess.run([sys.executable, "-m", "nfl_utils.train", "--width", "32", "--epochs", "2", "--train-size",
                          "500", "--measure-size", "200", "--test-measure-size", "200", "--quiet"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, store.RUNS_ENV: str(runs)})
    assert out.returncode == 0, out.stderr
    assert "run directory:" in out.stdout and "test_acc" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "nfl_utils.train", "--lr", "-1"], capture_output=True, text=True)
    assert bad.returncode != 0 and "lr=-1" in bad.stderr
    help_ = subprocess.run([sys.executable, "-m", "nfl_utils.train", "--help"], capture_output=True, text=True)
    for field in ("--target-scale", "--head-only", "--shuffle-fraction", "--checkpoints", "--channels-last"):
        assert field in help_.stdout


NON_DEFAULT = {str: {"dataset": "mnist", "model": "dlgn", "activation": "tanh", "value_input": "x", "task": "regress",
                     "loss": "mse", "optimizer": "adamw", "schedule": "cosine", "device": "cpu",
                     "init_gates_from": "0123456789abcdef"},
               float: 0.375, int: 17, bool: True}


def test_every_config_field_round_trips_through_the_cli():
    import dataclasses

    from nfl_utils.config import config_to_args, field_types
    from nfl_utils.train_cli import parser

    values = {}
    for f in dataclasses.fields(Config):
        base, optional, seq = field_types()[f.name]
        if seq:
            values[f.name] = (0, 3, 5)
        elif base is str:
            values[f.name] = NON_DEFAULT[str][f.name]
        else:
            values[f.name] = NON_DEFAULT[base]
    values.update(epochs=7, train_size=500, momentum=0.5, shuffle_fraction=0.25, modadd_fraction=0.3,
                  dataset="oblique-tree", adam_beta2=0.375)
    # batch_norm (a cnn's) and the dlgn fields cannot be set in one config: two configs cover them all
    configs = [Config(**{**values, "batch_norm": False}),
               Config(**{**values, "model": "cnn", "freeze_gates": False, "init_gates_from": None,
                         "keep_best": False, "dataset": "mnist"})]
    default = lambda f: f.default if f.default is not dataclasses.MISSING else f.default_factory()
    for f in dataclasses.fields(Config):        # every field differs from its default in one of them
        assert any(getattr(c, f.name) != default(f) for c in configs), f.name
    from nfl_utils.config import config_from_args
    for cfg in configs:
        assert config_from_args(parser().parse_args(config_to_args(cfg))) == cfg
    assert config_from_args(parser().parse_args([])) == Config()
    assert config_from_args(parser().parse_args(["--lr", "1"])).hash == Config(lr=1.0).hash == Config(lr=1).hash


def test_config_types_are_checked_per_field_and_names_normalised():
    for field, value in (("epochs", 2.5), ("width", 32.7), ("head_only", "false"), ("lr", float("nan")),
                         ("lr", float("inf")), ("lr", "0.1"), ("checkpoints", "0 1")):
        with pytest.raises(ValueError, match=f"invalid config field {field}="):
            Config(**{field: value})
    assert Config(dataset="MNIST1D").hash == Config().hash and Config(dataset="FashionMNIST").dataset == "fashion-mnist"


def test_regression_task_records_rank_two_measures(runs):
    run = train(Config(**{**SMALL, "task": "regress", "loss": "mse", "lr": 0.01}), progress=False)
    m = run.metrics
    assert "nc1" not in m and np.isfinite(m["train_u_pi_C"]).all()
    assert run.arrays["ef_output_corr_c"].shape[1] == 10
    assert m["train_loss"].iloc[-1] < m["train_loss"].iloc[0]


@pytest.mark.slow
def test_mlp_on_real_mnist_passes_95_percent(runs):
    if not os.environ.get("NFL_DATA_ROOT"):
        pytest.skip("NFL_DATA_ROOT not set")
    run = train(Config(dataset="mnist", model="mlp", width=256, depth=2, epochs=3, lr=0.05, batch_size=128,
                       checkpoints=(0, 1, 3), measure_size=1000), progress=False)
    m = run.metrics
    print(m[["epoch", "train_acc", "test_acc", "train_dlr", "train_u_pi_C", "train_u_pistar_C"]].to_string())
    assert m["test_acc"].iloc[-1] > 0.95
    check_complete_record(run)


def check_complete_record(run):
    """Every measure at every checkpoint is finite, except k90/k*90 where the curve never reaches
    0.9 (then NaN, by definition) and spectral gaps whose denominator mode does not exist (inf)."""
    m = run.metrics
    for col in m.select_dtypes("number"):
        vals = m[col].to_numpy()
        if col.endswith("90"):
            split, c, kind = col.split("_")
            curve = run.arrays[f"{split}_{c}_cum_{'quality' if kind.startswith('kstar') else 'utility'}"]
            reached = np.nanmax(curve, axis=1) >= 0.9 - 1e-12
            assert np.array_equal(np.isfinite(vals), reached), col
        elif col.endswith("_gap"):
            assert not np.isnan(vals).any(), col
        else:
            assert np.isfinite(vals).all(), col


def test_hot_linear_is_the_dense_layer_on_one_hot_pairs():
    """Modular addition's first layer as a sum of two weight columns: same init, outputs, gradients."""
    from nfl_utils.data import modular_addition

    x, y, _, _ = modular_addition(11, 0.5, seed=0)
    torch.manual_seed(3)
    dense = build_model("mlp", (22,), 11, width=16, depth=2)
    torch.manual_seed(3)
    hot = build_model("mlp", (22,), 11, width=16, depth=2, hot_inputs=2)
    assert type(hot.features[1]).__name__ == "HotLinear"
    for (k, a), (k2, b) in zip(dense.state_dict().items(), hot.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    out_d, out_h = dense(x), hot(x)
    torch.testing.assert_close(out_h, out_d, rtol=0, atol=1e-6)
    torch.nn.functional.cross_entropy(out_d, y).backward()
    torch.nn.functional.cross_entropy(out_h, y).backward()
    for a, b in zip(dense.parameters(), hot.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=0, atol=1e-6)


@pytest.mark.parametrize("task", ["classify", "regress"])
def test_head_only_measurement_kept_from_the_first_checkpoint_equals_a_fresh_one(task):
    """A head-only run measures Φ's side once (moments, eigendecompositions, S_init, NC1-2,
    eigenfunctions) and only the head's side afterwards: after training the head, every number
    equals a measurement from scratch; and the head's part does move."""
    from nfl_utils.measure import measure
    from nfl_utils.train import setup, train_epoch

    s = setup(Config(**SMALL, head_only=True, task=task, loss="mse", test_spectra=True))
    cache = {}
    first, _ = measure(s.model, s.data, s.cfg, s.ref, s.theta0, cache)
    for _ in range(2):
        train_epoch(s.model, s.opt, s.sched, s.data.x_train, s.data.y_train, s.cfg, s.gen, s.data.num_classes)
    kept, kept_arr = measure(s.model, s.data, s.cfg, s.ref, s.theta0, cache)
    fresh, fresh_arr = measure(s.model, s.data, s.cfg, s.ref, s.theta0, None)
    assert {"moments:train", "moments:test", "features", "parameters"} <= set(cache)
    assert set(kept) == set(fresh) and set(kept_arr) == set(fresh_arr)
    for k in fresh:
        if k != "measure_time":
            assert kept[k] == pytest.approx(fresh[k], rel=1e-12, abs=1e-14, nan_ok=True), k
    for k in fresh_arr:
        np.testing.assert_allclose(kept_arr[k], fresh_arr[k], rtol=1e-12, atol=1e-14, err_msg=k)
    assert kept["s_init"] == pytest.approx(1.0, abs=1e-12)                # Φ is Φ₀
    assert kept["train_u_gap"] == first["train_u_gap"]                      # Φ's side: kept
    assert abs(kept["train_dlr"] - first["train_dlr"]) > 1e-3 and kept["train_loss"] < first["train_loss"]


@pytest.mark.parametrize("loss, scale", [("mse", 0.5), ("ce", 1.0)])
def test_a_checkpoint_row_equals_the_measures_computed_from_scratch(loss, scale):
    """Oracle: every measure in a trained network's row, recomputed from Φ and f̂ of the
    measurement set with the plain functions (the p×p spectral route on α-scaled targets, linear
    CKA against Φ₀, NC1-4 from the collapse module, D_LR from the n×n kernels)."""
    from nfl_utils.collapse import all_nc
    from nfl_utils.measure import forward_all, head_map, measure
    from nfl_utils.spectrum import diagonalize, linear_cka, low_rank_measure_explicit
    from nfl_utils.train import setup, train_epoch

    s = setup(Config(**SMALL, loss=loss, target_scale=scale))
    for _ in range(2):
        train_epoch(s.model, s.opt, s.sched, s.data.x_train, s.data.y_train, s.cfg, s.gen, s.data.num_classes)
    row, arrays = measure(s.model, s.data, s.cfg, s.ref, s.theta0)
    x, y, xt, yt = s.data.measurement_sets
    phi, out = forward_all(s.model, x)
    phi, out, C = phi.double(), out.double(), s.data.num_classes
    W, b = head_map(s.model)
    f_hat = phi @ W.T + b                    # the readout in float64 (the spectral measures use the head exactly)
    assert torch.allclose(f_hat, out, rtol=1e-5, atol=1e-5)
    f_star = targets_for(y, s.cfg, C)
    assert row["train_acc"] == pytest.approx(float((out.argmax(1) == y).double().mean()), abs=1e-15)
    assert row["test_acc"] == pytest.approx(float((forward_all(s.model, xt)[1].argmax(1) == yt).double().mean()))
    assert row["train_loss"] == pytest.approx(float(loss_fn(out, y, s.cfg, C)), rel=1e-6)
    for c, centre in (("u", False), ("c", True)):
        sp = diagonalize(phi, f_star, f_hat, centre=centre)
        want = sp.summary(C)
        for k in ("pi_C", "pistar_C", "k90", "kstar90", "d_eff", "gap", "rho_1"):
            assert row[f"train_{c}_{k}"] == pytest.approx(want[k], rel=1e-9, nan_ok=True), (c, k)
        np.testing.assert_allclose(arrays[f"train_{c}_cum_quality"], sp.cumulative_quality.numpy(), rtol=1e-9)
    assert row["s_init"] == pytest.approx(linear_cka(phi, s.phi0), rel=1e-10)
    assert 0 < row["s_init"] < 1
    assert row["train_dlr"] == pytest.approx(low_rank_measure_explicit(phi, f_hat), rel=1e-8)
    for k, v in all_nc(phi, y, s.model.head.weight.detach().double(), out).items():
        assert row[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k


# ----------------------------------------------------------------------------- the sibling recipe
TREE = dict(dataset="oblique-tree", model="dlgn", width=8, depth=2, optimizer="adam", momentum=0.0, lr=0.02,
            batch_size=2000, epochs=6, measure_size=500, test_measure_size=500)


def test_keep_best_keeps_the_epoch_of_best_validation_accuracy(runs):
    from nfl_utils.build import get_data
    from nfl_utils.epoch import evaluate

    every = train(Config(**TREE, checkpoints=tuple(range(7)), save_models=True), progress=False)
    data = get_data(every.cfg)
    cfg = every.cfg
    vals = []
    for i in range(1, 7):          # validation accuracy of the weights after each epoch
        net = every.model(checkpoint=i)
        vals.append(evaluate(net, data.x_val, data.y_val, cfg, 2)[1])
    best = 1 + max(range(6), key=lambda i: (vals[i], -i))            # the first epoch of the maximum
    kept = train(Config(**TREE, checkpoints=(0, 3, 6), keep_best=True), progress=False)
    assert kept.meta["best_epoch"] == best and kept.meta["best_val_acc"] == pytest.approx(vals[best - 1])
    want = every.model(checkpoint=best).state_dict()
    assert all(torch.equal(v, want[k]) for k, v in kept.model().state_dict().items())
    assert kept.metrics["test_acc"].iloc[-1] == pytest.approx(every.metrics["test_acc"].iloc[best])


def test_stop_loss_ends_training_and_measures_where_it_stopped(runs):
    stop = train(Config(**TREE, checkpoints=(0, 3, 6), stop_loss=10.0), progress=False)   # any loss is < 10
    assert stop.meta["stopped_epoch"] == 1 and list(stop.metrics["epoch"]) == [0, 1]
    never = train(Config(**TREE, checkpoints=(0, 3, 6), stop_loss=1e-12), progress=False)
    assert never.meta["stopped_epoch"] is None and list(never.metrics["epoch"]) == [0, 3, 6]
    with pytest.raises(ValueError, match="keep_best"):
        Config(dataset="mnist1d", keep_best=True)
