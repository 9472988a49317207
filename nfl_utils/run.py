"""A finished run, read through one typed object.

``run.cfg`` is its :class:`~nfl_utils.config.Config`, ``run.meta`` its provenance (code version,
seed, wall times, device), ``run.metrics`` one row per checkpoint. Per-checkpoint arrays are read
through accessors that return exactly the stored modes (the store pads them to a common length;
no padding is visible here). ``checkpoint`` is an index into ``run.epochs`` (negative counts from
the end).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import Config
from .errors import InputError
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from .data import DataBundle


def _kind(centred: bool) -> str:
    return "c" if centred else "u"


def _trim(a: np.ndarray) -> np.ndarray:
    return a[np.isfinite(a)]


@dataclass
class Run:
    path: Path
    cfg: Config
    meta: dict
    metrics: pd.DataFrame
    arrays: dict = field(repr=False)
    _data: object = field(default=None, repr=False)

    # -- identity
    @property
    def hash(self) -> str:
        return self.path.name

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    @property
    def epochs(self) -> np.ndarray:
        return self.metrics["epoch"].to_numpy() if len(self.metrics) else np.zeros(0, dtype=int)

    @property
    def steps(self) -> np.ndarray:
        return self.metrics["step"].to_numpy()

    def __len__(self) -> int:
        return len(self.metrics)

    def __repr__(self):
        return f"Run({self.hash}, {self.cfg.dataset}/{self.cfg.model}, {len(self)} checkpoints)"

    # -- scalars
    def final(self, column: str) -> float:
        return float(self.metrics[column].iloc[-1])

    def at(self, column: str, checkpoint: int) -> float:
        return float(self.metrics[column].iloc[checkpoint])

    # -- per-checkpoint arrays, trimmed
    def _spectral(self, what: str, checkpoint: int, split: str, centred: bool) -> np.ndarray:
        if split not in ("train", "test"):
            raise InputError(f"split must be 'train' or 'test'; got {split!r}")
        key = f"{split}_{_kind(centred)}_{what}"
        if key not in self.arrays:
            raise KeyError(f"run {self.hash} has no {split}-set spectra: train it with "
                           "test_spectra=True "
                           "(--test-spectra) to diagonalise Φ on the test measurement set too")
        return _trim(self.arrays[key][checkpoint])

    def eigenvalues(self, checkpoint: int = -1, split: str = "train",
                    centred: bool = False) -> np.ndarray:
        return self._spectral("eigenvalues", checkpoint, split, centred)

    def cum_quality(self, checkpoint: int = -1, split: str = "train",
                    centred: bool = False) -> np.ndarray:
        """Π*(k), k = 1..rank."""
        return self._spectral("cum_quality", checkpoint, split, centred)

    def cum_utility(self, checkpoint: int = -1, split: str = "train",
                    centred: bool = False) -> np.ndarray:
        """Π(k), k = 1..rank."""
        return self._spectral("cum_utility", checkpoint, split, centred)

    def class_means(self, checkpoint: int = -1, centred: bool = False) -> np.ndarray:
        """(K, C): E[e_k | class c] on the training measurement set (classification runs)."""
        M = self.arrays[f"ef_class_means_{_kind(centred)}"][checkpoint]
        return M[np.isfinite(M).all(1)]

    def output_corr(self, checkpoint: int = -1, centred: bool = True) -> np.ndarray:
        """corr(e_k, f̂) for the top eigenfunctions (regression runs)."""
        return _trim(self.arrays[f"ef_output_corr_{_kind(centred)}"][checkpoint])

    def top_inputs(self, checkpoint: int = -1, centred: bool = False) -> list[np.ndarray]:
        """For each top eigenfunction, the training indices of the inputs exciting it most."""
        T = self.arrays[f"top_inputs_{_kind(centred)}"][checkpoint]
        return [row[np.isfinite(row)].astype(int) for row in T if np.isfinite(row).any()]

    @property
    def is_regression(self) -> bool:
        return self.cfg.task == "regress"

    @property
    def measured_C(self) -> int:
        """The C of the measures' Π(C), Π*(C) and gap columns: the classes, or 2 for a scalar
        regression target (its collapsed state is {1, f̂}), whatever ``num_classes`` the digits
        have."""
        return 2 if self.is_regression else self.num_classes

    # -- the network and its data
    def data(self) -> DataBundle:
        """The run's data (the same subsets and measurement sets as in training); cached."""
        if self._data is None:
            from .build import get_data

            self._data = get_data(self.cfg)
        return self._data

    def model_state(self, checkpoint: int | None = None) -> dict:
        """Final weights, or those at checkpoint index ``checkpoint`` (runs trained with
        save_models)."""
        if checkpoint is None:
            return torch.load(self.path / "model.pt", map_location="cpu", weights_only=True)
        path = self.path / "checkpoints.pt"
        if not path.exists():
            raise FileNotFoundError(f"{self.hash} kept no per-checkpoint weights; train it with "
                                    "save_models=True")
        return torch.load(path, map_location="cpu", weights_only=True)[checkpoint]

    def model(self, checkpoint: int | None = None, at_init: bool = False) -> torch.nn.Module:
        """The network on the CPU in eval mode: trained (default), as initialised (same seed), or at
        checkpoint index ``checkpoint``."""
        from .build import make_model

        model = make_model(self.cfg, self.data())
        if not at_init:
            model.load_state_dict(self.model_state(checkpoint))
        return model.eval()
