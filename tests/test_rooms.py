"""Rooms a newcomer can change: no package module reads another module's private names (attributes
or imports of a leading-underscore name defined elsewhere), and no module grows past its size."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "nfl_utils"
MAX_LINES = 350                     # "about 300"; the modules listed below are still over it
OVER: set = set()                   # none left over


def _defined(tree) -> set:
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
            names.add(n.attr)
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            names.add(n.target.id)
    return names


def _private_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    own = _defined(tree)
    bad = []
    for n in ast.walk(tree):
        private = lambda s: s.startswith("_") and not s.startswith("__")
        if isinstance(n, ast.Attribute) and private(n.attr) and n.attr not in own:
            bad.append(f"{path.name}:{n.lineno} .{n.attr}")
        if isinstance(n, ast.ImportFrom) and n.level:          # from .module import _name
            bad += [f"{path.name}:{n.lineno} import {a.name}" for a in n.names if private(a.name)]
    return bad


def test_no_module_reads_another_modules_private_names():
    bad = [b for f in sorted(PKG.glob("*.py")) for b in _private_reads(f)]
    assert bad == [], bad


def test_the_check_catches_a_private_read(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from .spectrum import _coefficients\ndef g(acc):\n    return acc._stats\n")
    assert _private_reads(f) == ["m.py:1 import _coefficients", "m.py:3 ._stats"]


def test_modules_stay_short():
    sizes = {f.name: len(f.read_text().splitlines()) for f in PKG.glob("*.py")}
    assert {n for n, s in sizes.items() if s > MAX_LINES} <= OVER, sizes


MAX_FUNCTION = 40
LONG: set = set()                   # none left: every function is at most 40 lines
MAX_LINE = 100


def test_functions_stay_short():
    long = set()
    for f in PKG.glob("*.py"):
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION:
                long.add(f"{f.name}:{n.name}")
    assert long <= LONG, sorted(long - LONG)


def test_lines_stay_short():
    """Package lines of at most 100 characters (the anchors' habit): counted in characters."""
    long = [f"{f.name}:{i}" for f in sorted(PKG.glob("*.py"))
            for i, line in enumerate(f.read_text().splitlines(), 1) if len(line) > MAX_LINE]
    assert long == [], long


TYPED = {f.stem for f in PKG.glob("*.py")} - {"__init__"}       # every module


def _untyped(path: Path) -> list[str]:
    """Public functions and methods of ``path`` with a parameter or the return not annotated."""
    bad = []
    tree = ast.parse(path.read_text())
    scopes = [(tree.body, "")] + [(n.body, n.name + ".") for n in tree.body
                                  if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    for body, prefix in scopes:
        for n in body:
            if not isinstance(n, ast.FunctionDef) or (n.name.startswith("_") and n.name != "__init__"):
                continue
            a = n.args
            params = [p for p in a.posonlyargs + a.args + a.kwonlyargs if p.arg not in ("self", "cls")]
            if any(p.annotation is None for p in params) or (n.returns is None and n.name != "__init__"):
                bad.append(f"{path.stem}.{prefix}{n.name}")
    return bad


def test_every_public_function_is_typed():
    bad = [b for m in sorted(TYPED) for b in _untyped(PKG / f"{m}.py")]
    assert bad == [], bad


def test_the_type_check_catches_a_missing_hint(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def f(x: int) -> int:\n    return x\n\ndef g(x):\n    return x\n\n"
                 "class K:\n    def h(self, y: int):\n        return y\n")
    assert _untyped(f) == ["m.g", "m.K.h"]
