"""Where the run store and the figures live when no variable says: the project's own folders.

A notebook started from ``notebooks/``, a script run from anywhere or VS Code's working directory
all find the same ``runs/`` and ``figures/`` of the checkout the package was imported from;
``NFL_RUNS_DIR`` / ``NFL_FIGURES_DIR`` still choose another. An installed copy (``pip install``,
no checkout around it) uses the working directory.
"""
from __future__ import annotations

from pathlib import Path


def project_root() -> Path | None:
    """The checkout holding this package (its pyproject.toml and notebooks/), else None."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def default_dir(name: str) -> Path:
    """``<checkout>/<name>``, or ``./<name>`` for an installed copy."""
    root = project_root()
    return root / name if root else Path(name).resolve()
