"""Thin adapters that call :meth:`nfl_utils.track.Tracker.measure` from the training loops of
PyTorch Lightning and the Hugging Face ``Trainer``. The core needs neither package: each adapter
imports its framework when it is built.

    tracker = Tracker(model, measure_batches)
    pl.Trainer(callbacks=[lightning_callback(tracker)]).fit(module, loader)        # Lightning
    Trainer(model, args, train_dataset=ds, callbacks=[hf_callback(tracker)]).train()  # Hugging Face

Both measure at the end of every epoch (``on="epoch"``) or every optimiser step (``on="step"``;
the tracker's ``every`` then thins them), and record the framework's global step.
"""
from __future__ import annotations

from .errors import InputError
from typing import TYPE_CHECKING
if TYPE_CHECKING:                 # names used in annotations only
    from .track import Tracker

WHEN = ("epoch", "step")


def _check(on: str) -> None:
    if on not in WHEN:
        raise InputError(f"on must be one of {', '.join(WHEN)}; got {on!r}")


def lightning_callback(tracker: Tracker, on: str = "epoch") -> object:
    """A ``lightning.pytorch.Callback`` that measures after each training epoch (or batch)."""
    _check(on)
    try:
        from lightning.pytorch import Callback
    except ImportError as e:
        raise InputError("lightning_callback needs PyTorch Lightning: pip install lightning") from e

    class TrackerCallback(Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            if on == "epoch":
                tracker.measure(int(trainer.global_step))

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if on == "step":
                tracker.measure(int(trainer.global_step))
    return TrackerCallback()


def hf_callback(tracker: Tracker, on: str = "epoch") -> object:
    """A ``transformers.TrainerCallback`` that measures after each epoch (or optimiser step)."""
    _check(on)
    try:
        from transformers import TrainerCallback
    except ImportError as e:
        raise InputError("hf_callback needs Hugging Face transformers: pip install "
                         "transformers") from e

    class TrackerCallback(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            if on == "epoch":
                tracker.measure(int(state.global_step))

        def on_step_end(self, args, state, control, **kwargs):
            if on == "step":
                tracker.measure(int(state.global_step))
    return TrackerCallback()
