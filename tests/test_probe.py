"""nfl_utils.probe: any model's features, streamed; equal to the stored measures of the companion's runs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from nfl_utils import store
from nfl_utils.config import Config
from nfl_utils.models import MODELS, build_model
from nfl_utils.probe import Grab, probe
from nfl_utils.spectrum import diagonalize
from nfl_utils.train import train

TINY = dict(dataset="mnist1d", width=32, epochs=3, train_size=600, measure_size=300, test_measure_size=300,
            batch_size=100, lr=0.05, checkpoints=(0, 1, 3))


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    return tmp_path / "runs"


def loader(x, y=None, batch=2048):
    return [(x[i:i + batch],) if y is None else (x[i:i + batch], y[i:i + batch]) for i in range(0, len(x), batch)]


def close(a, b, rel=1e-10):
    a, b = float(a), float(b)
    return abs(a - b) <= rel * max(1.0, abs(b))


@pytest.mark.parametrize("model", ["mlp", "cnn", "dlgn"])
def test_probe_equals_the_recorded_measures_of_a_stored_run(runs, model):
    run = train(Config(**TINY, model=model, loss="mse" if model == "mlp" else "ce", test_spectra=True), progress=False)
    data, m = run.data(), run.model()
    for split, x, y, idx in (("train", data.x_train, data.y_train, data.measure_idx),
                             ("test", data.x_test, data.y_test, data.test_measure_idx)):
        rep = probe(m, loader(x[idx], y[idx]), num_classes=10)
        for centred, kind in ((False, "uncentred"), (True, "centred")):
            want = run.eigenvalues(-1, split, centred)
            got = np.asarray(getattr(rep, kind).eigenvalues)
            np.testing.assert_allclose(got[:len(want)], want, rtol=1e-10, atol=1e-12 * want[0])
        np.testing.assert_allclose(np.asarray(rep.uncentred.cumulative_quality)[:len(want)],
                                   run.cum_quality(-1, split, False)[:len(want)], rtol=0, atol=1e-10)
        for key in ("u_pistar_C", "u_gap", "c_d_eff"):
            assert close(rep.numbers[key], run.final(f"{split}_{key}")), (split, key)
        # Π and D_LR: probe reads the model's float32 outputs, measure() the head applied exactly to
        # Φ's moments (SpectralAccumulator.linear_outputs): equal up to float32 round-off
        for key in ("u_pi_C", "dlr"):
            assert rep.numbers[key] == pytest.approx(run.final(f"{split}_{key}"), abs=1e-6), (split, key)
    # neural collapse on the training measurement set: from moments here, from Φ in measure()
    rep = probe(m, loader(data.x_train[data.measure_idx], data.y_train[data.measure_idx], batch=64), num_classes=10)
    for key in ("nc1", "nc2_equinorm", "nc2_equiangular", "nc3", "nc4"):
        assert close(rep.numbers[key], run.final(key)), key


@pytest.mark.parametrize("name", sorted(MODELS))
def test_hook_features_are_the_models_features(name):
    shape = (3, 32, 32) if name in ("vgg16", "vgg16_bn", "resnet18") else (20,) if name == "transformer" else (40,)
    torch.manual_seed(0)
    net = build_model(name, shape, 10, width=24, depth=2, channels=8).eval()
    x = torch.randn(6, *shape)         # the transformer reads its tokens as the argmax of each half
    grab = Grab(net)
    with torch.no_grad():
        net(x)
        assert torch.equal(grab.value, net.features(x))
    grab.close()


def test_memory_stays_bounded_however_many_samples(tmp_path):
    """300,000 samples of p = 128 (Φ would be 307 MB in float64) stream with a small resident
    footprint, and the spectrum equals the in-memory one."""
    code = r"""
import json, resource, sys, torch
from torch import nn
from nfl_utils.probe import probe
def batches():
    g = torch.Generator().manual_seed(1)
    for i in range(60):
        x = torch.randn(5000, 16, generator=g)
        yield x, torch.randint(0, 10, (5000,), generator=g)
torch.manual_seed(0)
net = nn.Sequential(nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, 10))
probe(net, [next(batches())])                              # warm-up: allocators, BLAS buffers
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rep = probe(net, batches(), nc4=False)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"grew_mb": after - before, "rho": rep.uncentred.eigenvalues.tolist()}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["grew_mb"] < 60, res["grew_mb"]                  # vs 307 MB for Φ in float64
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 128), nn.ReLU(), nn.Linear(128, 10))
    xs = []
    for i in range(60):
        xs.append(torch.randn(5000, 16, generator=g))
        torch.randint(0, 10, (5000,), generator=g)
    with torch.no_grad():
        phi = net[1](net[0](torch.cat(xs)))
    want = np.asarray(diagonalize(phi.double()).eigenvalues)
    np.testing.assert_allclose(res["rho"][:len(want)], want, rtol=1e-10, atol=1e-12 * want[0])


# ----------------------------------------------------------------------------- bad input
def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 3))


def test_a_layer_that_does_not_exist_lists_the_candidates():
    with pytest.raises(ValueError, match=r"no module named 'fc'; candidates: 0, 1, 2, 3"):
        probe(small_net(), loader(torch.randn(30, 12)), layer="fc")


def test_without_labels_it_computes_what_needs_none_and_says_what_it_skipped():
    x, y = torch.randn(90, 12), torch.randint(0, 3, (90,))
    rep = probe(small_net(), loader(x, batch=32))
    assert rep.num_classes is None and np.isfinite(rep.numbers["dlr"]) and np.isfinite(rep.numbers["u_d_eff"])
    assert "u_pistar_C" not in rep.numbers and "nc1" not in rep.numbers and "regime" not in rep.numbers
    assert any("no labels" in s for s in rep.skipped)
    full = probe(small_net(), loader(x, y, batch=32))
    np.testing.assert_allclose(np.asarray(rep.uncentred.eigenvalues), np.asarray(full.uncentred.eigenvalues))
    assert full.numbers["dlr"] == pytest.approx(rep.numbers["dlr"], rel=1e-12)


def test_dict_batches_and_features_that_are_not_two_dimensional():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))
    x, y = torch.randn(40, 1, 6, 6), torch.randint(0, 3, (40,))
    batches = [{"image": x[i:i + 16], "label": y[i:i + 16]} for i in range(0, 40, 16)]
    flat = probe(conv, batches, layer="1")
    assert flat.p == 4 * 36 and any("flattened to 144 columns" in n for n in flat.notes)
    pooled = probe(conv, batches, layer="1", reduce="pool")
    assert pooled.p == 4 and any("averaged over positions" in n for n in pooled.notes)
    with torch.no_grad():
        want = diagonalize(conv[1](conv[0](x)).mean((2, 3)).double()).eigenvalues
    np.testing.assert_allclose(np.asarray(pooled.uncentred.eigenvalues), np.asarray(want), rtol=1e-10)


def test_nan_features_stop_with_the_batch_index():
    x = torch.randn(64, 12)
    x[40, 3] = float("nan")
    with pytest.raises(ValueError, match="batch 2 contain NaN"):
        probe(small_net(), loader(x, torch.randint(0, 3, (64,)), batch=16))


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match="labels outside 0..2"):
        probe(small_net(), loader(torch.randn(20, 12), torch.full((20,), 5)))


# ----------------------------------------------------------------------------- command line
def test_cli_on_a_stored_run(runs, tmp_path):
    run = train(Config(**TINY, model="mlp", loss="mse"), progress=False)
    env = {**os.environ, store.RUNS_ENV: str(runs)}
    out = subprocess.run([sys.executable, "-m", "nfl_utils.probe", run.hash[:10], "--out", str(tmp_path / "p")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "regime" in out.stdout and "NC1" in out.stdout and "Π*(C)" in out.stdout and "nan" not in out.stdout
    assert "u_pistar_C" not in out.stdout                # a reader's names, not internal keys
    saved = json.loads((tmp_path / "p" / f"{run.hash[:8]}_train.json").read_text())
    assert close(saved["numbers"]["u_pistar_C"], run.final("train_u_pistar_C"))
    assert (tmp_path / "p" / f"{run.hash[:8]}_train.png").stat().st_size > 10_000
    bad = subprocess.run([sys.executable, "-m", "nfl_utils.probe", "ffffffff"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode != 0 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


@pytest.mark.skipif(not os.environ.get("NFL_DATA_ROOT"), reason="needs FashionMNIST (NFL_DATA_ROOT)")
def test_cli_on_a_torchvision_state_dict(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    weights = tmp_path / "r18.pt"
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), weights)
    out = subprocess.run([sys.executable, "-m", "nfl_utils.probe", "--arch", "resnet18", "--weights", str(weights),
                          "--dataset", "fashion-mnist", "--split", "test", "--limit", "256", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "p = 512" in out.stdout and "repeated to three channels" in out.stdout
    rep = json.loads((tmp_path / "resnet18_fashion-mnist_test.json").read_text())
    assert rep["n"] == 256 and rep["p"] == 512 and rep["numbers"]["regime"] in ("MF", "EF", "between")


def _net_and_data(bn=False):
    torch.manual_seed(0)
    layers = [torch.nn.Linear(12, 16), *( [torch.nn.BatchNorm1d(16)] if bn else []), torch.nn.ReLU(),
              torch.nn.Linear(16, 3)]
    x, y = torch.randn(90, 12), torch.arange(90) % 3
    return torch.nn.Sequential(*layers), x, y


def test_probe_leaves_the_model_as_it_found_it():
    net, x, y = _net_and_data(bn=True)
    net.train()
    net[0].eval()                                   # a mixed state is restored module by module
    before = {k: v.clone() for k, v in net.state_dict().items()}
    grads = [p.requires_grad for p in net.parameters()]
    probe(net, [(x[i:i + 30], y[i:i + 30]) for i in range(0, 90, 30)])
    assert [m.training for m in net.modules()] == [True, False, True, True, True]
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())     # BN statistics too
    assert [p.requires_grad for p in net.parameters()] == grads
    assert not net[-1]._forward_pre_hooks and not net[-1]._forward_hooks


def test_probe_inputs_a_careless_user_gives():
    net, x, y = _net_and_data()
    ref = probe(net, [(x[i:i + 30], y[i:i + 30]) for i in range(0, 90, 30)])
    gen = probe(net, ((x[i:i + 30], y[i:i + 30]) for i in range(0, 90, 30)))        # a generator
    assert gen.numbers["u_d_eff"] == pytest.approx(ref.numbers["u_d_eff"]) and "nc4" not in gen.numbers
    assert any("read once" in s for s in gen.skipped)
    with_empty = probe(net, [(x[:0], y[:0])] + [(x[i:i + 30], y[i:i + 30]) for i in range(0, 90, 30)])
    assert with_empty.numbers["u_d_eff"] == pytest.approx(ref.numbers["u_d_eff"])
    as_numpy = probe(net, [(x[i:i + 30].numpy(), y[i:i + 30].numpy()) for i in range(0, 90, 30)])
    assert as_numpy.numbers["u_d_eff"] == pytest.approx(ref.numbers["u_d_eff"])
    with pytest.raises(ValueError, match="non-integral"):
        probe(net, [(x, y.double() + 0.5)])
    with pytest.raises(ValueError, match="not numbers"):
        probe(net, [(x, ["cat"] * 90)])


def test_a_layer_the_forward_pass_skips_never_gives_stale_features():
    class Skip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.head = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.a(x) if x.shape[0] > 5 else self.b(x))
    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="saw nothing in batch 1"):
        probe(Skip(), [x, x[:3]], layer="a")


def test_a_feature_width_that_cannot_fit_is_refused_with_the_way_out():
    wide = torch.nn.Sequential(torch.nn.Linear(2, 20_000), torch.nn.Linear(20_000, 2))
    with pytest.raises(ValueError, match="reduce='pool'"):
        probe(wide, [torch.randn(4, 2)])


def test_weights_files_as_people_save_them_load_and_bad_ones_say_why(tmp_path):
    from nfl_utils.probe_cli import load_weights

    torch.manual_seed(0)
    src = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    sd = src.state_dict()
    forms = {"plain": sd, "ckpt": {"epoch": 3, "state_dict": sd}, "model": {"model": sd, "opt": {}},
             "dp": {f"module.{k}": v for k, v in sd.items()}}
    for name, obj in forms.items():
        torch.save(obj, tmp_path / f"{name}.pt")
        dst = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        load_weights(dst, tmp_path / f"{name}.pt")
        assert all(torch.equal(v, sd[k]) for k, v in dst.state_dict().items()), name
    torch.save({"a": 1}, tmp_path / "junk.pt")
    (tmp_path / "text.pt").write_text("not a torch file")
    torch.save(nn.Linear(5, 5).state_dict(), tmp_path / "other.pt")
    for f, match in (("junk", "no state dict"), ("text", "cannot be read"), ("other", "does not fit")):
        with pytest.raises(ValueError, match=match):
            load_weights(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), tmp_path / f"{f}.pt")


class TinyEncoder(nn.Module):
    """A BERT-shaped model: model(input_ids=, attention_mask=) → an object with .logits (like a
    Hugging Face ModelOutput), token features from the module 'encoder'."""

    def __init__(self, vocab=30, d=16, C=3):
        super().__init__()
        self.embed, self.encoder, self.classifier = nn.Embedding(vocab, d), nn.Linear(d, d), nn.Linear(d, C)

    def forward(self, input_ids, attention_mask=None):
        from types import SimpleNamespace

        h = torch.tanh(self.encoder(self.embed(input_ids)))                 # (B, T, d)
        m = attention_mask.float()[..., None]
        return SimpleNamespace(logits=self.classifier((h * m).sum(1) / m.sum(1)))


def test_tokenised_batches_and_model_outputs_with_each_sequence_reduction():
    from nfl_utils.spectrum import low_rank_measure

    torch.manual_seed(0)
    net = TinyEncoder().eval()
    ids = torch.randint(1, 30, (120, 7))
    mask = (torch.arange(7)[None] < torch.randint(2, 8, (120, 1))).long()    # padded sequences
    y = torch.arange(120) % 3
    batches = [{"input_ids": ids[i:i + 40], "attention_mask": mask[i:i + 40], "labels": y[i:i + 40]}
               for i in range(0, 120, 40)]
    with torch.no_grad():
        h = net.encoder(net.embed(ids))                       # the output of the module 'encoder'
        logits = net(input_ids=ids, attention_mask=mask).logits
    m = mask.float()[..., None]
    last = mask.sum(1) - 1
    want = {"cls": h[:, 0], "mean": (h * m).sum(1) / m.sum(1), "last": h[torch.arange(120), last]}
    for how, phi in want.items():
        rep = probe(net, batches, layer="encoder", reduce=how)
        assert rep.numbers["dlr"] == pytest.approx(low_rank_measure(phi, logits), abs=1e-8), how
        assert rep.num_classes == 3 and rep.n == 120
    with pytest.raises(ValueError, match="reduce must be one of"):
        probe(net, batches, layer="encoder", reduce="max")


def test_a_hooked_layer_that_returns_a_model_output_gives_its_hidden_states():
    from collections import OrderedDict

    class Out(OrderedDict):                    # how a Hugging Face ModelOutput looks to a hook
        @property
        def last_hidden_state(self):
            return self["last_hidden_state"]

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 6)

        def forward(self, x):
            return Out(last_hidden_state=self.lin(x), pooler_output=None)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.head = Enc(), nn.Linear(6, 2)

        def forward(self, x):
            return self.head(self.enc(x).last_hidden_state)
    torch.manual_seed(0)
    net, x = Net(), torch.randn(50, 4)
    rep = probe(net, [x], layer="enc")
    assert rep.p == 6 and rep.n == 50


def test_a_k90_that_never_reaches_90_percent_reads_never_and_names_are_a_readers():
    from nfl_utils.probe import fmt, label

    for key in ("u_k90", "c_kstar90", "u_kstar90"):
        assert fmt(key, float("nan")) == "never (< 0.9)"
    assert fmt("dlr", float("nan")) == "n/a" and fmt("nc1", 2.5) == "2.5"
    assert label("u_pistar_C") == "Π*(C)" and label("c_gap") == "gap ρ_C/ρ_C+1 (centred)"
    assert label("dlr") == "D_LR" and label("something_else") == "something_else"
