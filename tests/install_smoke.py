"""Run by `make test-install` inside a fresh virtual environment holding only the built wheel
(its dependencies come from .venv through a path file): the installed copy imports, every declared
dependency is satisfied, and `probe` measures a small model. Exits non-zero on any failure."""
import importlib.metadata as md
import sys
from pathlib import Path

import torch
from packaging.requirements import Requirement

import nfl_utils
from nfl_utils import probe
from nfl_utils.store import runs_dir

where = Path(nfl_utils.__file__).resolve()
assert "site-packages" in where.parts and "build" in where.parts, f"not the installed copy: {where}"
for req in map(Requirement, md.requires("nfl_utils") or []):
    if req.marker is None or req.marker.evaluate({"extra": ""}):
        have = md.version(req.name)
        assert req.specifier.contains(have, prereleases=True), f"{req}: installed {have}"
assert runs_dir() == Path.cwd().resolve() / "runs", runs_dir()      # no checkout: the working dir
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
x = torch.randn(300, 10)
y = torch.randint(0, 3, (300,))
report = probe(net, [(x[i:i + 100], y[i:i + 100]) for i in range(0, 300, 100)], num_classes=3)
assert 0.0 <= report.numbers["dlr"] <= 1.0, report.numbers
print(f"installed {nfl_utils.__version__} from {where.parent}: import, {len(md.requires('nfl_utils'))} "
      f"dependencies and a probe (D_LR {report.numbers['dlr']:.3f}) ok")
sys.exit(0)
