"""What a checkpoint's measurement keeps and reuses, in one object. Every kept value is exactly
what a fresh computation would give (the oracle of tests/test_train.py and tests/test_sharing.py);
keeping only skips recomputing it.

Keys:
  "train", "test"                   Φ on the training / test measurement set
  "moments:train", "moments:test"   their SpectralAccumulators (with the spectral targets)
  "features"                        what depends on Φ alone: S_init, NC1–2 with the class
                                    statistics, the eigenfunctions' class means and top inputs
  "parameters"                      Φ's share of ‖θ‖² and ‖θ − θ₀‖
  "reference"                       Φ₀'s measure.Reference (epoch 0)
Lifetimes:
  frozen Φ (a head-only run, no autocast): the run's own cache, for the whole run; every
      checkpoint after the first reuses all of Φ's side and measures only the head.
  epoch 0 (no autocast): a cache for this one measurement, first filled from and then published to
      nfl_utils.initial under the fingerprint of Φ₀ and the measurement sets, so that a head-only
      control, or a run differing only in loss, α or optimiser, reuses the full run's epoch 0.
  otherwise: nothing is kept.
"""
from __future__ import annotations

from . import initial as shared
from typing import Callable


class Kept:
    """The cache of one measurement (see the module docstring); ``store`` None keeps nothing."""

    def __init__(self, store: dict | None = None, key: str | None = None):
        self.store, self.key = store, key        # key: the fingerprint to publish under (or None)

    @property
    def active(self) -> bool:
        return self.store is not None

    def get(self, name: str, make: Callable[[], object]) -> object:
        """The value kept under ``name``, made (and kept) by ``make()`` the first time."""
        if self.store is None:
            return make()
        if name not in self.store:
            self.store[name] = make()
        return self.store[name]

    def __contains__(self, name: str) -> bool:
        return self.store is not None and name in self.store

    def seed(self, name: str, value: object) -> None:
        """Keep ``value`` under ``name`` unless a value is kept there already."""
        if self.store is not None:
            self.store.setdefault(name, value)

    def publish(self) -> None:
        """Share Φ's side with later runs of this process (nfl_utils.initial), if it was new."""
        if self.key is not None and self.store is not None:
            shared.remember(self.key, self.store)

    def __repr__(self) -> str:
        held = "nothing" if self.store is None else ", ".join(self.store) or "empty"
        return f"Kept({held}{', shared' if self.key else ''})"
