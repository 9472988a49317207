"""The tracker: the same numbers as probe and as an independent in-memory computation, at every
step and layer; the model left bitwise as it was; restarts that append without duplicates."""
import numpy as np
import pytest
import torch
from torch import nn

from nfl_utils.probe import probe
from nfl_utils.spectrum import diagonalize, effective_dimension, low_rank_measure
from nfl_utils.track import Tracker


def net_and_data():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 8, 3),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 16), nn.ReLU(),
                        nn.Linear(16, 4))
    x, y = torch.randn(240, 1, 8, 8), torch.arange(240) % 4
    x += y[:, None, None, None] * 0.5                       # something to learn
    return net, x, y


def in_memory(net, x, layer):
    """Φ of one layer over all of x, by a hook of our own, pooled over positions; and the outputs."""
    store = {}
    mod = dict(net.named_modules())[layer]
    h = mod.register_forward_hook(lambda m, a, out: store.__setitem__("phi", out))
    was = net.training
    net.eval()
    with torch.no_grad():
        out = net(x)
    net.train(was)
    h.remove()
    phi = store["phi"]
    return (phi.flatten(2).mean(2) if phi.ndim > 2 else phi).double(), out.double()


def test_tracker_equals_probe_and_an_in_memory_computation_at_every_step_and_layer():
    net, x, y = net_and_data()
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 240, 64)]
    layers = ["1", "4", "8"]
    tr = Tracker(net, batches, layers=layers)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for step in range(11):                                 # a plain loop, in train mode
        net.train()
        loss = nn.functional.cross_entropy(net(x[:64]), y[:64])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 5:
            continue
        state = {k: v.clone() for k, v in net.state_dict().items()}
        modes = [m.training for m in net.modules()]
        rows = tr.measure(step).set_index("layer")
        assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())    # BN stats too
        assert [m.training for m in net.modules()] == modes
        assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
        for layer in layers:
            phi, out = in_memory(net, x, layer)
            rep = probe(net, batches, layer=layer, reduce="pool")
            dlr = low_rank_measure(phi, out)
            assert rows.loc[layer, "dlr"] == pytest.approx(dlr, abs=1e-8)
            assert rep.numbers["dlr"] == pytest.approx(dlr, abs=1e-8)
            ev = diagonalize(phi).eigenvalues
            ev_tr = tr.reports()[layer].uncentred.eigenvalues
            k = min(len(ev), len(ev_tr))
            np.testing.assert_allclose(np.asarray(ev_tr[:k]), np.asarray(ev[:k]), rtol=1e-8, atol=1e-10 * float(ev[0]))
            for col in ("u_gap", "u_pistar_C", "u_k90", "u_d_eff", "c_d_eff", "nc1"):   # probe's numbers
                assert rows.loc[layer, col] == pytest.approx(rep.numbers[col], rel=1e-8), col
            c_eff = effective_dimension(diagonalize(phi, centre=True).eigenvalues)        # in memory
            assert rows.loc[layer, "c_d_eff"] == pytest.approx(c_eff, rel=1e-8)
    h = tr.history
    assert list(h["step"].unique()) == [0, 5, 10] and set(h["layer"]) == set(layers)
    assert all(c.isascii() for c in h.columns) and "dlr" in h.columns


def test_a_restarted_run_appends_without_duplicating_steps(tmp_path):
    net, x, y = net_and_data()
    batches = [(x[i:i + 80], y[i:i + 80]) for i in range(0, 240, 80)]
    tr = Tracker(net, batches, log_dir=tmp_path, every=5)
    tr.measure(0)
    assert tr.measure(3) is None                          # not a multiple of every
    tr.measure(5)
    again = Tracker(net, batches, log_dir=tmp_path, every=5)
    again.measure(5)
    again.measure(10)
    import pandas as pd
    csv = pd.read_csv(tmp_path / "track.csv")
    assert list(csv["step"]) == [0, 5, 10] and csv["layer"].nunique() == 1
    assert csv["layer"][0].startswith("penultimate (input of 9)")


def test_bad_input_names_the_problem():
    net, x, y = net_and_data()
    with pytest.raises(ValueError, match="candidates"):
        Tracker(net, [(x, y)], layers=["nope"])
    with pytest.raises(ValueError, match="generator"):
        Tracker(net, ((x, y) for _ in range(2)))
    bad = Tracker(net, [(x * float("nan"), y)])
    with pytest.raises(ValueError, match="NaN"):
        bad.measure(0)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())   # even then
    with pytest.raises(ValueError, match="outside 0..3"):
        Tracker(net, [(x, y + 4)]).measure(0)


def test_tokenised_batches_are_tracked_like_probe_measures_them():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_probe import TinyEncoder

    torch.manual_seed(0)
    net = TinyEncoder()
    ids, y = torch.randint(1, 30, (90, 6)), torch.arange(90) % 3
    mask = (torch.arange(6)[None] < torch.randint(2, 7, (90, 1))).long()
    batches = [{"input_ids": ids[i:i + 30], "attention_mask": mask[i:i + 30], "labels": y[i:i + 30]}
               for i in range(0, 90, 30)]
    row = Tracker(net, batches, layers=["encoder"], reduce="mean").measure(0).iloc[0]
    assert row["dlr"] == pytest.approx(probe(net, batches, layer="encoder", reduce="mean").numbers["dlr"], abs=1e-10)
