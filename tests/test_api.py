"""The public API (``from nfl_utils import ...``) and the one project error class (issue: front door).

A user error (bad config, missing data, damaged run, the machine's own: full disk, read-only folder)
prints one line on a command line; anything else is a bug and keeps its traceback.
"""
import errno
import importlib
import os
import subprocess
import sys

import pytest

import nfl_utils
from nfl_utils import errors


def test_every_public_name_resolves_to_what_its_module_defines():
    for name in nfl_utils.__all__:
        assert getattr(nfl_utils, name) is not None, name
    assert nfl_utils.diagonalize is importlib.import_module("nfl_utils.spectrum").diagonalize
    assert set(nfl_utils.__all__) <= set(dir(nfl_utils))
    with pytest.raises(AttributeError, match="public names: .*diagonalize"):
        nfl_utils.no_such_thing


def test_train_and_probe_are_the_functions_whatever_was_imported_first():
    # the modules of the same names are imported first: the package attribute stays the function
    code = ("import nfl_utils.train, nfl_utils.probe, nfl_utils\n"
            "from nfl_utils import train, probe\n"
            "import importlib\n"
            "assert callable(train) and train.__module__ == 'nfl_utils.train', train\n"
            "assert callable(probe) and probe.__module__ == 'nfl_utils.probe', probe\n"
            "assert importlib.import_module('nfl_utils.train').main\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_importing_the_package_imports_no_torch():
    code = "import sys, nfl_utils; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_the_project_errors_are_one_class_and_input_errors_stay_value_errors():
    from nfl_utils import Config, DamagedRun, DataError, InputError, NflError

    with pytest.raises(InputError) as e:
        Config(width=-3).validate()
    assert isinstance(e.value, ValueError) and isinstance(e.value, NflError)
    assert issubclass(DataError, NflError) and issubclass(DamagedRun, NflError)
    assert not issubclass(ValueError, NflError)        # a plain ValueError is not a user error
    assert ValueError not in errors.user_errors()


@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "no space left"), (errno.EROFS, "cannot write"), (errno.EACCES, "cannot write"),
    (errno.ENOTDIR, "a file stands where a folder is needed"),
])
def test_the_machines_errors_read_as_one_line_with_what_to_do(code, words):
    line = errors.one_line(OSError(code, os.strerror(code), "/some/where"))
    assert line.startswith("error: ") and words in line and "/some/where" in line
    assert "NFL_RUNS_DIR" in line and "\n" not in line


def test_a_bug_inside_the_package_keeps_its_traceback(monkeypatch, tmp_path):
    T = importlib.import_module("nfl_utils.train")
    monkeypatch.setenv("NFL_RUNS_DIR", str(tmp_path))

    def broken(*a, **k):
        raise ValueError("an internal mistake")      # not a user error: must not be swallowed
    monkeypatch.setattr(T, "train", broken)
    with pytest.raises(ValueError, match="internal mistake"):
        T.main(["--dataset", "mnist1d", "--quiet"])

    def user(*a, **k):
        raise T.InputError("a bad value")
    monkeypatch.setattr(T, "train", user)
    with pytest.raises(SystemExit, match="^error: a bad value$"):
        T.main(["--dataset", "mnist1d", "--quiet"])


def test_the_store_and_figures_are_the_checkouts_own_whatever_the_working_directory(tmp_path):
    root = importlib.import_module("nfl_utils.paths").project_root()
    assert root is not None and (root / "Makefile").is_file()
    code = ("from nfl_utils.store import runs_dir; from nfl_utils.plots import figures_dir\n"
            "print(runs_dir()); print(figures_dir('quick'))")
    env = {k: v for k, v in os.environ.items() if k not in ("NFL_RUNS_DIR", "NFL_FIGURES_DIR")}
    env["PYTHONPATH"] = str(root)
    for cwd in (tmp_path, root / "notebooks"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                             cwd=cwd, timeout=120)
        assert out.stdout.split() == [str(root / "runs"), str(root / "figures" / "quick")], out.stderr
    env["NFL_RUNS_DIR"] = str(tmp_path / "elsewhere")                # the variable still chooses
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert out.stdout.split()[0] == str(tmp_path / "elsewhere")
