"""Every notebook runs headlessly (papermill) with the tiny `smoke` profile and produces each
expected figure (PNG + PDF) with finite key numbers; figures are byte-stable across reruns."""
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
EXPECTED = {
    "01_train": ["01_train_learning_curves"],
    "02_diagonalise": ["02_diagonalise_eigenvalues", "02_diagonalise_eigenfunctions", "02_diagonalise_top_inputs"],
    # smoke is the full profile shrunk: its main group also crosses architecture with dataset
    "03_spectra": ["03_spectra_mlp_mse", "03_spectra_mlp_ce", "03_spectra_cnn_mse", "03_spectra_mlp_mse_fashion_mnist",
                   "03_spectra_cnn_mse_mnist", "03_spectra_deff"],
    "04_mf_vs_ef": ["04_mf_vs_ef_measures", "04_mf_vs_ef_rates", "04_mf_vs_ef_lr_sweep"],
    "05_collapse_kernel_regression": ["05_collapse_nc_dlr", "05_collapse_kernel", "05_collapse_regression"],
    "06_explore": ["06_explore_static"],
    "07_richness": ["07_richness_wd", "07_richness_target", "07_richness_lazy_shuffle", "07_richness_bn_size",
                    "07_richness_lr", "07_richness_grokking", "07_richness_dlr_conventions"],
    "08_dlgn_half_spaces": ["08_dlgn_circle_hyperplanes", "08_dlgn_circle_paths", "08_dlgn_overlap_spectrum",
                            "08_dlgn_image", "08_dlgn_tree_benchmark"],
    "09_measure_your_model": ["09_probe_resnet18_init", "09_probe_resnet18_trained"],
    "10_track_your_training": ["10_track_layers", "10_track_resnet_depth"],
}


def finite_numbers(numbers):
    for k, v in numbers.items():
        if isinstance(v, (int, float)):
            assert math.isfinite(v), k
        elif isinstance(v, str):
            assert v not in ("nan", "inf", "-inf") and "nan" not in v.split(), (k, v)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import jupytext
    import papermill as pm

    base = tmp_path_factory.mktemp("nb")
    env = {"NFL_RUNS_DIR": str(base / "runs"), "NFL_FIGURES_DIR": str(base / "figures"), "NFL_HEADLESS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for nb in NOTEBOOKS:
            ipynb = base / (nb.stem + ".ipynb")
            jupytext.write(jupytext.read(nb), ipynb)
            pm.execute_notebook(str(ipynb), str(base / (nb.stem + ".out.ipynb")), parameters={"profile": "smoke"},
                                kernel_name="python3", cwd=str(ROOT), progress_bar=False)
        yield base
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_every_notebook_has_one_literal_parameters_cell():
    import jupytext

    assert [nb.stem for nb in NOTEBOOKS] == list(EXPECTED)
    for nb in NOTEBOOKS:
        cells = [c for c in jupytext.read(nb).cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, nb.name
        import ast
        for node in ast.parse(cells[0].source).body:
            assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), nb.name


def test_every_expected_figure_and_number(executed):
    figs = executed / "figures" / "smoke"
    for nb, stems in EXPECTED.items():
        for stem in stems:
            for ext in ("png", "pdf", "json"):
                assert (figs / f"{stem}.{ext}").stat().st_size > 0, f"{stem}.{ext}"
            meta = json.loads((figs / f"{stem}.json").read_text())
            assert meta["caption"] and meta["numbers"], stem
            finite_numbers(meta["numbers"])
    produced = {p.stem for p in figs.glob("*.png")}
    assert produced == {s for v in EXPECTED.values() for s in v}
    for nb in EXPECTED:     # no cell raised, and the figures are shown inline for a reader
        out = json.loads((executed / f"{nb}.out.ipynb").read_text())
        outputs = [o for cell in out["cells"] for o in cell.get("outputs", [])]
        assert not [o for o in outputs if o.get("output_type") == "error"], nb
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= len(EXPECTED[nb]), nb


def test_figures_are_byte_stable_and_index_is_built(executed):
    figs = executed / "figures" / "smoke"
    digest = lambda: {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(figs.glob("*.p*"))}
    before = digest()
    import papermill as pm
    os.environ["NFL_RUNS_DIR"], os.environ["NFL_FIGURES_DIR"] = str(executed / "runs"), str(executed / "figures")
    try:
        nb = NOTEBOOKS[2]     # 03_spectra: rerun against the same stored runs
        pm.execute_notebook(str(executed / (nb.stem + ".ipynb")), str(executed / "again.ipynb"),
                            parameters={"profile": "smoke"}, kernel_name="python3", cwd=str(ROOT), progress_bar=False)
    finally:
        os.environ.pop("NFL_RUNS_DIR"), os.environ.pop("NFL_FIGURES_DIR")
    after = digest()
    assert {k: v for k, v in after.items() if k.startswith("03_")} == {k: v for k, v in before.items() if k.startswith("03_")}
    subprocess.run([sys.executable, "-m", "nfl_utils.plots", "index", str(figs)], check=True)
    index = (figs / "index.md").read_text()
    for stems in EXPECTED.values():
        for s in stems:
            assert f"]({s}.png)" in index


def test_notebooks_read_results_only_through_the_run_api():
    """No NaN stripping, no run kinds from label strings, no train() to read a result, no private names."""
    import re
    for nb in NOTEBOOKS:
        src = nb.read_text()
        for pattern in (r"isfinite", r"np\.nan", r"\"head-only\" in", r"'head-only' in", r"(?<![.\w])train\(", r"\.config\[",
                        r"\b\w+\._[a-z]", r"shared/spec"):
            assert not re.search(pattern, src), (nb.name, pattern)


def test_claims_table_of_the_smoke_store_covers_every_claim(executed):
    # the table `make figures` writes, from the runs the notebooks trained (the full profile's shape)
    env = {**os.environ, "NFL_RUNS_DIR": str(executed / "runs"), "NFL_FIGURES_DIR": str(executed / "figures")}
    subprocess.run([sys.executable, "-m", "nfl_utils.claims", "smoke"], check=True, env=env, cwd=str(ROOT))
    text = (executed / "figures" / "smoke" / "claims.md").read_text()
    table, _, conv = text.partition("## D_LR's directions under its open conventions")
    from nfl_utils.claims import CLAIMS
    from nfl_utils import conventions, verdicts as V

    conv_rows = [l for l in conv.splitlines() if l.startswith(("| C", "| D"))]
    assert conv_rows and all(l.count(" | ") == len(conventions.CONVENTIONS) + 2 for l in conv_rows)
    assert {l.split(" | ")[0][2:] for l in conv_rows} <= {"C6", "C7", "C10", "C11", "C12", "C13", "C14"}

    lines = [l for l in table.splitlines() if l.startswith("| C") or l.startswith("| D")]
    ids = [l.split(" | ")[0][2:] for l in lines]
    assert set(ids) == set(CLAIMS)
    assert ids.count("C11") == 3              # one grokking row per setting: transformer, MLP, MNIST MLP
    for l in lines:
        assert any(f"**{v}**" in l for v in (V.AGREES, V.DISAGREES, V.PARTLY, V.UNTESTABLE)), l
    import re
    links = re.findall(r"\]\(([^)]+\.png)\)", table)
    assert links and all((executed / "figures" / "smoke" / f).exists() for f in links)   # every link resolves
    assert sum("](" in l.split(" | ")[-1] for l in lines) >= len(lines) - 2    # C3 and C6/D6-like rows may lack one
    assert f"**{len(lines)} rows: " in table                                     # the summary line
