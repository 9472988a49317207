"""The explorer widget, driven from Python: it redraws from the store, and bad runs show a message."""
import shutil

import numpy as np
import pandas as pd
import pytest

from nfl_utils import store, widgets
from nfl_utils.config import Config
from nfl_utils.train import train

TINY = dict(width=32, epochs=3, train_size=500, measure_size=200, test_measure_size=200, checkpoints=(0, 1, 3))


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv(store.RUNS_ENV, str(tmp_path / "runs"))
    a = train(Config(**TINY), progress=False)
    b = train(Config(**TINY, lr=0.01), progress=False)
    return a, b


def test_slider_redraws_from_the_store_without_recomputing(runs, monkeypatch):
    import nfl_utils.measure as M
    import nfl_utils.spectrum as S
    ex = widgets.Explorer(list(runs))
    assert "showing epoch 3" in ex.message.value and ex.ck.max == 2
    # every spectrum anywhere is computed by these two; the explorer must call neither
    fail = lambda *a, **k: pytest.fail("the explorer must not recompute spectra")
    monkeypatch.setattr(S.SpectralAccumulator, "diagonalize", fail)
    monkeypatch.setattr(S.SpectralAccumulator, "update", fail)
    monkeypatch.setattr(M, "measure", fail)
    before = ex.summary.value
    ex.ck.value = 0
    assert "showing epoch 0" in ex.message.value and ex.summary.value != before
    ex.centre.value = True
    assert "showing epoch 0" in ex.message.value
    title = ex.fig._suptitle.get_text()
    assert "epoch 0" in title and "centred" in title


def test_deleted_run_directory_shows_a_message(runs):
    ex = widgets.Explorer(list(runs))
    shutil.rmtree(runs[1].path)
    ex.pick.value = str(runs[1].path)
    assert "Cannot show this run" in ex.message.value and "deleted" in ex.message.value
    ex.pick.value = str(runs[0].path)             # a good run shows again
    assert "showing epoch" in ex.message.value


def test_run_without_checkpoints_shows_a_message_and_damaged_runs_are_skipped(runs, tmp_path, capsys):
    empty = store.commit_run(runs[0].cfg.replace(seed=99), runs[0].meta, pd.DataFrame(), {"x": np.zeros(1)}, {})
    unchecked = store.load_run(empty, check=False)      # 0 rows where the config has checkpoints: damaged
    ex = widgets.Explorer([unchecked, runs[0]])
    assert "no checkpoints" in ex.message.value
    with pytest.raises(ValueError, match="no checkpoints"):
        widgets.draw(unchecked, 0, 5)
    ex = widgets.Explorer()                              # from the store: the damaged run is left out
    assert str(empty) not in [v for _, v in ex.pick.options] and len(ex.pick.options) == len(runs)
    assert f"damaged run at {empty}" in capsys.readouterr().err


def test_empty_store_and_headless_fallback(tmp_path, monkeypatch, runs):
    ex = widgets.Explorer([])
    assert "No finished runs" in ex.message.value
    monkeypatch.setenv("NFL_HEADLESS", "1")
    fig, summary = widgets.explore(static_run=runs[0])
    assert summary["epoch"] == 3 and np.isfinite(summary["D_LR"]) and fig._suptitle is not None


def test_a_montage_leaves_its_empty_cells_blank_not_black():
    import matplotlib.pyplot as plt

    from nfl_utils import plots as P

    xs = np.zeros((7, 1, 4, 4))                        # 7 blank (white) images in a 3×3 grid
    fig, ax = plt.subplots()
    P.inputs_panel(ax, xs)
    grid = np.ma.masked_invalid(ax.images[0].get_array())
    assert grid.shape == (15, 15)
    assert grid.mask[10:14, 5:9].all() and grid.mask[10:14, 10:14].all()   # cells 8 and 9: blank
    assert (grid[:4, :4] == 0).all()                    # an image: white under gray_r
    assert tuple(ax.images[0].cmap.get_bad()[:3]) == (1.0, 1.0, 1.0)
    plt.close(fig)


def test_the_run_list_uses_the_profiles_labels_and_opens_on_the_notebooks_run(runs, monkeypatch):
    from nfl_utils import profiles

    a, b = runs
    table = {"main: MLP, MSE": b.cfg, "grid: lr=0.1": a.cfg, "again: MLP, MSE": b.cfg}
    monkeypatch.setattr(profiles, "table", lambda name: table)
    opts = widgets.labelled_options({r.path: r for r in runs}, "demo")
    assert opts == [(f"main: MLP, MSE [{b.hash[:8]}]", str(b.path)),     # table order, first label
                    (f"grid: lr=0.1 [{a.hash[:8]}]", str(a.path))]
    monkeypatch.setattr(profiles, "table", lambda name: {"main: MLP, MSE": b.cfg})
    ex = widgets.Explorer(list(runs), profile="demo", start=a)        # a: not in the profile
    assert [lab for lab, _ in ex.pick.options][1] == widgets.run_label(a)
    assert ex.pick.value == str(a.path) and ex.current().hash == a.hash


def test_points_and_token_pairs_are_drawn_as_such_not_as_signals():
    import matplotlib.pyplot as plt

    from nfl_utils import plots as P

    fig, axes = plt.subplots(1, 3)
    th = np.linspace(0, 6, 5)
    P.inputs_panel(axes[0], np.c_[np.cos(th), np.sin(th)])                    # the circle: points
    assert axes[0].collections[0].get_offsets().shape == (5, 2) and axes[0].get_xlabel() == "x₁"
    a, b, p = np.array([1, 5, 7]), np.array([0, 2, 6]), 9
    x = np.zeros((3, 2 * p))
    x[np.arange(3), a], x[np.arange(3), p + b] = 1, 1                          # one-hot pairs
    assert [list(v) for v in P.token_pairs(x)[:2]] == [list(a), list(b)]
    P.inputs_panel(axes[1], x)
    np.testing.assert_array_equal(axes[1].collections[0].get_offsets(), np.c_[a, b])
    P.inputs_panel(axes[2], np.random.default_rng(0).normal(size=(4, 40)))    # signals: lines
    assert len(axes[2].lines) == 4 and not axes[2].collections
    assert P.token_pairs(np.eye(4)[:, :3]) is None
    plt.close(fig)
