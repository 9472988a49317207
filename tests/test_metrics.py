"""One name per number: every column a run, probe or the tracker writes is defined once in
nfl_utils.metrics; and a newcomer's measure added the documented way (CONTRIBUTING.md) is
recorded by every checkpoint, equal to the same number computed independently."""
import pytest
import torch

from nfl_utils import metrics, store
from nfl_utils.config import Config
from nfl_utils.errors import InputError
from nfl_utils.probe import probe
from nfl_utils.track import Tracker
from nfl_utils.train import train

CFG = dict(width=48, epochs=2, train_size=600, measure_size=200, test_measure_size=200, checkpoints=(0, 1, 2))


def test_every_column_the_companion_writes_is_in_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path))
    run = train(Config(**CFG, test_spectra=True), progress=False)
    unknown = [c for c in run.metrics.columns if metrics.parse(c) is None]
    assert not unknown, f"columns no registry entry defines: {unknown}"
    model, data = run.model(), run.data()
    x, y = data.measurement_sets[:2]
    rep = probe(model, [(x, y)])
    assert [k for k in rep.numbers if metrics.parse(k) is None] == []
    hist = Tracker(model, [(x, y)]).measure(0)
    assert [c for c in hist.columns if metrics.parse(c) is None] == []
    assert metrics.label("train_c_gap") == "gap ρ_C/ρ_C+1 (centred)" and metrics.label("u_pistar_C") == "Π*(C)"
    assert metrics.column("gap", centred=True, split="test") == "test_c_gap"
    with pytest.raises(InputError, match="not a spectral number"):
        metrics.column("nc1")


def test_a_measure_added_the_documented_way_is_recorded_at_every_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path))
    # CONTRIBUTING.md, "Add a measure": one function, one register() call
    def mean_feature_norm(ck):
        return ck.phi.double().norm(dim=1).mean()
    metrics.register("mean_feature_norm", mean_feature_norm, "mean ‖φ(x)‖", "the mean feature norm", "Measures")
    try:
        run = train(Config(**CFG), progress=False)
    finally:
        metrics.unregister("mean_feature_norm")
    assert "mean_feature_norm" not in metrics.EXTRA
    col = run.metrics["mean_feature_norm"]
    assert len(col) == 3 and col.notna().all() and metrics.label("mean_feature_norm") == "mean_feature_norm"
    model, data = run.model(), run.data()                  # the final checkpoint, independently
    with torch.no_grad():
        phi = model.features(data.measurement_sets[0]).double()
    assert col.iloc[-1] == pytest.approx(float(phi.norm(dim=1).mean()), rel=1e-6)
    for bad in ("nc1", "train_u_gap", "not valid"):
        with pytest.raises(InputError):
            metrics.register(bad, mean_feature_norm)
